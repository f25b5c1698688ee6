"""The plugin manager: entry points, allow and block lists, the registry of providers.

Every plugin, built-in or third-party, is found through the entry point group ``aggregator``.
``AGGREGATOR_PLUGINS`` (comma-separated names) keeps only those (a name no installed plugin
has is an error: :class:`PluginConfigError`); ``AGGREGATOR_DISABLE_PLUGINS`` blocks some. A
plugin that fails to import or register is reported by name with the reason and does not stop
the others; a misspelled hook implementation is caught by ``check_pending``.

Two plugins registering the same operator id are *both* refused, with one message naming both
distributions: entry points load in name order, so "first wins" would let any installed
package take an operator (and its users' passwords) over. ``AGGREGATOR_PLUGINS`` (or
``AGGREGATOR_DISABLE_PLUGINS``) choosing one of them ends the conflict.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .core import hookspecs
from .core.notify import Notifier
from .core.provider import Provider

__all__ = [
    "LoadedPlugin",
    "PluginConfigError",
    "PluginFailure",
    "PluginRegistry",
    "load_plugins",
    "report_url",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "aggregator"


class PluginConfigError(ValueError):
    """``AGGREGATOR_PLUGINS`` names a plugin that is not installed."""


@dataclass
class LoadedPlugin:
    name: str  # the entry point name
    distribution: str | None
    version: str | None
    providers: list[str] = field(default_factory=list)
    notifiers: list[str] = field(default_factory=list)


@dataclass
class PluginFailure:
    name: str
    reason: str


@dataclass
class PluginRegistry:
    """What the loaded plugins registered, and which plugins failed and why."""

    plugins: dict[str, LoadedPlugin] = field(default_factory=dict)
    providers: dict[str, type[Provider]] = field(default_factory=dict)
    notifiers: dict[str, type[Notifier]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    provider_plugin: dict[str, str] = field(default_factory=dict)

    def provider(self, provider_id: str) -> type[Provider]:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise KeyError(f"no plugin provides the operator {provider_id!r}") from None


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def _check_provider(cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"{cls!r} is not a Provider subclass")
    for attr in ("id", "name", "name_en", "default_base_url", "login_schemes"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} lacks the class attribute {attr!r}")
    if not cls.login_schemes:
        raise TypeError(f"{cls.__name__} declares no login scheme")
    if cls.balance is Provider.balance or cls.start_login is Provider.start_login:
        raise TypeError(f"{cls.__name__} must implement start_login and balance")


def _check_notifier(cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Notifier)):
        raise TypeError(f"{cls!r} is not a Notifier subclass")
    if not hasattr(cls, "id") or cls.send is Notifier.send:
        raise TypeError(f"{cls.__name__} must set id and implement send")


def _check_hook_names(plugin: object) -> None:
    """Refuse a ``register_*`` function that is not a hook, with or without ``@hookimpl``.

    pluggy's ``check_pending`` catches misspelled hooks marked ``@hookimpl``; a misspelling
    without the marker would be silently ignored, so look for those by name too.
    """
    known = {n for n in dir(hookspecs) if n.startswith("register_")}
    for attr in dir(plugin):
        if attr.startswith("register_") and attr not in known and callable(getattr(plugin, attr)):
            close = difflib.get_close_matches(attr, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{attr} is not a hook{hint}; hooks are {sorted(known)}")


def _constant(value: object) -> Callable[[], object]:
    return lambda: value


def load_plugins(
    *,
    allow: Iterable[str] | None = None,
    block: Iterable[str] | None = None,
    extra: Iterable[tuple[str, object]] = (),
    entry_points: bool = True,
) -> PluginRegistry:
    """Load every plugin of the entry point group (plus ``extra`` (name, module) pairs).

    ``allow``/``block`` default to AGGREGATOR_PLUGINS / AGGREGATOR_DISABLE_PLUGINS.
    """
    allowed = set(allow) if allow is not None else _csv(os.environ.get("AGGREGATOR_PLUGINS"))
    blocked = (
        set(block) if block is not None else _csv(os.environ.get("AGGREGATOR_DISABLE_PLUGINS"))
    )
    registry = PluginRegistry()
    pm = pluggy.PluginManager("aggregator")
    pm.add_hookspecs(hookspecs)

    candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = []
    if entry_points:
        for ep in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
        ):
            dist = ep.dist
            candidates.append(
                (ep.name, ep.load, dist.name if dist else None, dist.version if dist else None)
            )
    for name, module in extra:
        candidates.append((name, _constant(module), None, None))
    if allowed:
        known = {candidate[0] for candidate in candidates}
        unknown = sorted(allowed - known)
        if unknown:
            raise PluginConfigError(
                "AGGREGATOR_PLUGINS names "
                + ", ".join(repr(n) for n in unknown)
                + ", which no installed plugin is called; installed: "
                + (", ".join(sorted(known)) or "none")
            )

    for name, load, dist_name, version in candidates:
        if (allowed and name not in allowed) or name in blocked:
            continue
        try:
            module = load()
        except Exception as exc:
            registry.failures.append(PluginFailure(name, f"import failed: {exc!r}"))
            log.warning("plugin %s failed to load: %r", name, exc)
            continue
        try:
            _check_hook_names(module)
            pm.register(module, name=name)
        except Exception as exc:
            registry.failures.append(PluginFailure(name, f"invalid hook: {exc}"))
            log.warning("plugin %s has an invalid hook: %s", name, exc)
            continue
        registry.plugins[name] = LoadedPlugin(name, dist_name, version)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        bad = pm.get_name(exc.plugin) or str(exc.plugin)
        registry.failures.append(PluginFailure(bad, f"unknown hook: {exc}"))
        registry.plugins.pop(bad, None)
        pm.unregister(name=bad)
        log.warning("plugin %s has an unknown hook: %s", bad, exc)
        # Look for further misspellings in the remaining plugins.
        return _rerun_without(
            bad, allow=allow, block=block, extra=extra, entry_points=entry_points, first=registry
        )

    staged: dict[str, tuple[dict[str, type[Provider]], dict[str, type[Notifier]]]] = {}
    for name in list(registry.plugins):
        plugin = pm.get_plugin(name)
        found = _stage(name, plugin, registry)
        if found is not None:
            staged[name] = found
    _refuse_duplicates(staged, registry)
    for name, (providers, notifiers) in staged.items():
        registry.providers.update(providers)
        registry.notifiers.update(notifiers)
        for pid in providers:
            registry.provider_plugin[pid] = name
        registry.plugins[name].providers = sorted(providers)
        registry.plugins[name].notifiers = sorted(notifiers)
    return registry


def _describe(registry: PluginRegistry, name: str) -> str:
    loaded = registry.plugins.get(name)
    if loaded is None or loaded.distribution is None:
        return name
    version = f" {loaded.version}" if loaded.version else ""
    return f"{name} (from {loaded.distribution}{version})"


def _refuse_duplicates(
    staged: dict[str, tuple[dict[str, type[Provider]], dict[str, type[Notifier]]]],
    registry: PluginRegistry,
) -> None:
    """Refuse every plugin that registers an operator or notifier id another one has too."""
    owners: dict[tuple[str, str], list[str]] = {}
    for name, (providers, notifiers) in staged.items():
        for pid in providers:
            owners.setdefault(("operator", pid), []).append(name)
        for nid in notifiers:
            owners.setdefault(("notifier", nid), []).append(name)
    refused: dict[str, str] = {}
    for (what, item_id), names in sorted(owners.items()):
        if len(names) < 2:
            continue
        who = " and ".join(_describe(registry, n) for n in names)
        reason = (
            f"{what} id {item_id!r} is registered by {len(names)} plugins: {who}; each is "
            "refused. Choose one: list the plugins to load in AGGREGATOR_PLUGINS, or switch "
            "the other off with AGGREGATOR_DISABLE_PLUGINS"
        )
        for name in names:
            refused.setdefault(name, reason)
    for name, reason in refused.items():
        registry.failures.append(PluginFailure(name, reason))
        registry.plugins.pop(name, None)
        staged.pop(name, None)
        log.warning("plugin %s refused: %s", name, reason)


def _rerun_without(
    bad: str,
    *,
    allow: Iterable[str] | None,
    block: Iterable[str] | None,
    extra: Iterable[tuple[str, object]],
    entry_points: bool,
    first: PluginRegistry,
) -> PluginRegistry:
    blocked = (
        set(block) if block is not None else _csv(os.environ.get("AGGREGATOR_DISABLE_PLUGINS"))
    )
    again = load_plugins(allow=allow, block=blocked | {bad}, extra=extra, entry_points=entry_points)
    known = {f.name for f in again.failures}
    again.failures.extend(f for f in first.failures if f.name not in known)
    return again


def _stage(
    name: str, plugin: object, registry: PluginRegistry
) -> tuple[dict[str, type[Provider]], dict[str, type[Notifier]]] | None:
    """Call the plugin's own hook implementations with callbacks that enforce the rules;
    what it registers (None when it failed: reported in ``registry.failures``)."""
    staged_providers: dict[str, type[Provider]] = {}
    staged_notifiers: dict[str, type[Notifier]] = {}

    def register_provider(cls: type[Provider]) -> None:
        _check_provider(cls)
        if cls.id in staged_providers:
            raise ValueError(f"operator id {cls.id!r} is already registered by {name}")
        staged_providers[cls.id] = cls

    def register_notifier(cls: type[Notifier]) -> None:
        _check_notifier(cls)
        if cls.id in staged_notifiers:
            raise ValueError(f"notifier id {cls.id!r} is already registered")
        staged_notifiers[cls.id] = cls

    try:
        hook = getattr(plugin, "register_providers", None)
        if hook is not None:
            hook(register=register_provider)
        hook = getattr(plugin, "register_notifiers", None)
        if hook is not None:
            hook(register=register_notifier)
    except Exception as exc:
        registry.failures.append(PluginFailure(name, f"registration failed: {exc}"))
        registry.plugins.pop(name, None)
        log.warning("plugin %s failed to register: %s", name, exc)
        return None
    return staged_providers, staged_notifiers


# Project-URL labels that say where to report a problem, best first (compared normalised:
# lower case, letters and digits only, as PEP 753 does).
_REPORT_LABELS = (
    "issues",
    "bugtracker",
    "bugreports",
    "bugs",
    "tracker",
    "issuetracker",
    "support",
    "homepage",
    "source",
    "sourcecode",
    "repository",
)


def report_url(
    registry: PluginRegistry, provider_id: str, dashboard_url: str | None = None
) -> str | None:
    """Where to report a problem with the plugin that provides ``provider_id``: the
    distribution's ``[project.urls]`` (``Issues``, ``Bug Tracker``, ... else ``Homepage``),
    or None when the plugin declares none (or was not installed as a distribution).

    An address that is a path (``/help/report?plugin=bashtel``: the built-in plugins, which
    have no public tracker) is the aggregator's own help page, joined to ``dashboard_url``
    when it is given."""
    found = _declared_report_url(registry, provider_id)
    if found and found.startswith("/") and dashboard_url:
        return dashboard_url.rstrip("/") + found
    return found


def _declared_report_url(registry: PluginRegistry, provider_id: str) -> str | None:
    plugin = registry.plugins.get(registry.provider_plugin.get(provider_id, ""))
    if plugin is None or not plugin.distribution:
        return None
    try:
        meta = importlib.metadata.metadata(plugin.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    urls: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault("".join(ch for ch in label.lower() if ch.isalnum()), url.strip())
    for label in _REPORT_LABELS:
        if urls.get(label):
            return urls[label]
    home = meta.json.get("home_page")
    return home if isinstance(home, str) and home else next(iter(urls.values()), None)
