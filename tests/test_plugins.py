"""Plugin loading: entry points, allow and block lists, failures reported by name, the hooks.

Synthetic plugins are plain objects with ``@hookimpl`` functions handed to ``load_plugins`` as
``extra``; a plugin that fails to *import* is a real distribution on ``sys.path`` (a dist-info
folder with an entry point to a module that raises), found through importlib.metadata.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aggregator import Credentials, LoginScheme, Notification, Notifier, Provider, Session, hookimpl
from aggregator.core import hookspecs
from aggregator.core.login import IdentifierKind, IdentifierSpec
from aggregator.core.models import Balance, Money
from aggregator.plugins import ENTRY_POINT_GROUP, load_plugins

BUILT_IN = {"bashtel", "beeline", "email", "netbynet", "reference", "rostelecom"}
OPERATORS = {"bashtel", "beeline", "netbynet", "reference", "rostelecom"}

SCHEME = LoginScheme(
    id="password",
    title_ru="Пароль",
    title_en="Password",
    identifiers=[IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login")],
)


def make_provider(provider_id: str) -> type[Provider]:
    class _Provider(Provider):
        id = provider_id
        name = f"Оператор {provider_id}"
        name_en = f"Operator {provider_id}"
        default_base_url = "http://127.0.0.1:1"
        login_schemes = (SCHEME,)

        async def start_login(self, credentials: Credentials) -> Session:
            return Session(provider=self.id)

        async def balance(self, session: Session, account: str) -> Balance:
            return Balance(amount=Money.rub(1), as_of=dt.datetime.now(dt.UTC))

    _Provider.__name__ = f"Provider_{provider_id}"
    return _Provider


class EchoNotifier(Notifier):
    id = "echo"
    name = "Echo"

    async def send(self, notification: Notification) -> None:
        self.settings.setdefault("sent", []).append(notification)


def plugin(**hooks: Callable[..., None]) -> types.SimpleNamespace:
    """A plugin object with the given hook implementations, each marked ``@hookimpl``."""
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def registering(*classes: type[Provider]) -> types.SimpleNamespace:
    def register_providers(register: Callable[[type[Provider]], None]) -> None:
        for cls in classes:
            register(cls)

    return plugin(register_providers=register_providers)


def load_only(*extra: tuple[str, object]) -> Any:
    return load_plugins(entry_points=False, extra=extra, allow=(), block=())


# -- the built-in plugins -------------------------------------------------------------------
def test_built_in_plugins_load_through_entry_points() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names >= BUILT_IN, "every built-in plugin is declared as an entry point"
    registry = load_plugins(allow=(), block=())
    failures = {f.name: f.reason for f in registry.failures if f.name in BUILT_IN}
    assert not failures
    assert set(registry.plugins) >= BUILT_IN
    assert set(registry.providers) >= OPERATORS
    for operator in OPERATORS:
        loaded = registry.plugins[operator]
        assert loaded.distribution == f"aggregator-{operator}"
        assert loaded.version
        assert loaded.providers == [operator]
        assert registry.provider_plugin[operator] == operator
    assert "email" in registry.notifiers
    assert registry.plugins["email"].distribution == "aggregator"


def test_every_entry_point_is_either_loaded_or_reported() -> None:
    registry = load_plugins(allow=(), block=())
    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names == set(registry.plugins) | {f.name for f in registry.failures}


# -- allow and block lists ------------------------------------------------------------------
def test_allow_list_from_the_environment_keeps_only_those(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGGREGATOR_PLUGINS", " alpha , beta")
    monkeypatch.delenv("AGGREGATOR_DISABLE_PLUGINS", raising=False)
    registry = load_plugins(
        extra=[
            ("alpha", registering(make_provider("alpha"))),
            ("beta", registering(make_provider("beta"))),
            ("gamma", registering(make_provider("gamma"))),
        ]
    )
    assert set(registry.plugins) == {"alpha", "beta"}
    assert set(registry.providers) == {"alpha", "beta"}
    assert registry.failures == []  # the built-ins were skipped, not failed


def test_block_list_from_the_environment_switches_plugins_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGGREGATOR_PLUGINS", raising=False)
    monkeypatch.setenv("AGGREGATOR_DISABLE_PLUGINS", "beta,beeline")
    registry = load_plugins(
        extra=[
            ("alpha", registering(make_provider("alpha"))),
            ("beta", registering(make_provider("beta"))),
        ]
    )
    assert "alpha" in registry.plugins and "beta" not in registry.plugins
    assert "beeline" not in registry.plugins and "beeline" not in registry.providers
    assert "beta" not in {f.name for f in registry.failures}


def test_block_list_wins_over_allow_list() -> None:
    registry = load_plugins(
        entry_points=False,
        extra=[("alpha", registering(make_provider("alpha")))],
        allow=["alpha"],
        block=["alpha"],
    )
    assert registry.plugins == {}


# -- failures are reported by name and do not stop the others -------------------------------
def _install_fake_distribution(root: Path, name: str, module_source: str) -> None:
    """A distribution with one entry point in the group, importable from ``root``."""
    module = f"broken_{name}"
    (root / f"{module}.py").write_text(module_source, encoding="utf-8")
    info = root / f"aggregator_{name}_fake-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: aggregator-{name}-fake\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n{name} = {module}\n", encoding="utf-8"
    )


def test_a_plugin_failing_to_import_is_reported_and_others_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_distribution(tmp_path, "crashy", "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    registry = load_plugins(
        allow=["crashy", "alpha"],
        block=(),
        extra=[("alpha", registering(make_provider("alpha")))],
    )
    failures = {f.name: f.reason for f in registry.failures}
    assert "crashy" in failures
    assert "import failed" in failures["crashy"] and "boom at import" in failures["crashy"]
    assert "alpha" in registry.providers
    sys.modules.pop("broken_crashy", None)


def test_a_plugin_failing_to_register_is_reported_and_others_load() -> None:
    def register_providers(register: Callable[[type[Provider]], None]) -> None:
        register(make_provider("half"))
        raise RuntimeError("database of tariffs missing")

    registry = load_only(
        ("faulty", plugin(register_providers=register_providers)),
        ("alpha", registering(make_provider("alpha"))),
    )
    failures = {f.name: f.reason for f in registry.failures}
    assert "registration failed" in failures["faulty"]
    assert "database of tariffs missing" in failures["faulty"]
    assert "half" not in registry.providers, "a failed plugin keeps none of its registrations"
    assert "faulty" not in registry.plugins
    assert "alpha" in registry.providers


def test_a_class_breaking_the_contract_is_refused_with_the_reason() -> None:
    class NoBalance(Provider):
        id = "nobal"
        name = "Без баланса"
        name_en = "No balance"
        default_base_url = "http://127.0.0.1:1"
        login_schemes = (SCHEME,)

    class NoSchemes(make_provider("noscheme")):  # type: ignore[misc]
        login_schemes = ()

    registry = load_only(
        ("nobal", registering(NoBalance)),
        ("noscheme", registering(NoSchemes)),
        ("notaclass", plugin(register_providers=lambda register: register(object))),
    )
    reasons = {f.name: f.reason for f in registry.failures}
    assert "must implement start_login and balance" in reasons["nobal"]
    assert "declares no login scheme" in reasons["noscheme"]
    assert "is not a Provider subclass" in reasons["notaclass"]
    assert registry.providers == {}


def test_a_misspelled_hook_implementation_is_caught() -> None:
    def register_provider(register: Callable[[type[Provider]], None]) -> None:
        register(make_provider("typo"))

    registry = load_only(
        ("typo", plugin(register_provider=register_provider)),
        ("alpha", registering(make_provider("alpha"))),
    )
    reasons = {f.name: f.reason for f in registry.failures}
    assert "register_provider" in reasons["typo"]
    assert "register_providers" in reasons["typo"]  # the hint names the real hook
    assert "typo" not in registry.providers and "typo" not in registry.plugins
    assert "alpha" in registry.providers


def test_a_misspelled_hook_without_the_register_prefix_is_caught_by_pluggy() -> None:
    def regster_providers(register: Callable[[type[Provider]], None]) -> None:
        register(make_provider("typo"))

    registry = load_only(
        ("typo", plugin(regster_providers=regster_providers)),
        ("alpha", registering(make_provider("alpha"))),
    )
    reasons = {f.name: f.reason for f in registry.failures}
    assert "unknown hook" in reasons["typo"] and "regster_providers" in reasons["typo"]
    assert set(registry.plugins) == {"alpha"}


def test_a_misspelled_hook_without_hookimpl_is_caught_too() -> None:
    def register_notifier(register: Callable[[type[Notifier]], None]) -> None:
        register(EchoNotifier)

    registry = load_only(("typo", types.SimpleNamespace(register_notifier=register_notifier)))
    reasons = {f.name: f.reason for f in registry.failures}
    assert "register_notifier is not a hook" in reasons["typo"]
    assert "did you mean register_notifiers" in reasons["typo"]


def test_a_hook_with_wrong_argument_names_is_refused() -> None:
    def register_providers(callback: Callable[[type[Provider]], None]) -> None:
        callback(make_provider("wrongargs"))

    registry = load_only(("wrongargs", plugin(register_providers=register_providers)))
    reasons = {f.name: f.reason for f in registry.failures}
    assert "invalid hook" in reasons["wrongargs"]
    assert registry.providers == {}


def test_duplicate_provider_ids_are_refused_for_both_plugins() -> None:
    """A plugin registering an id another plugin has takes nothing over: both are refused,
    with one message naming both distributions (entry point order decides nothing)."""
    registry = load_only(
        ("first", registering(make_provider("same"), make_provider("other"))),
        ("second", registering(make_provider("same"))),
        ("alpha", registering(make_provider("alpha"))),
    )
    assert "same" not in registry.providers and "other" not in registry.providers
    assert "first" not in registry.plugins and "second" not in registry.plugins
    assert "alpha" in registry.providers
    reasons = {f.name: f.reason for f in registry.failures}
    assert reasons["first"] == reasons["second"]
    assert "'same'" in reasons["first"] and "first" in reasons["first"]
    assert "second" in reasons["first"] and "AGGREGATOR_PLUGINS" in reasons["first"]


def test_a_third_party_plugin_cannot_take_over_a_built_in_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from aggregator import hookimpl\n"
        "from aggregator_beeline import BeelineProvider\n"
        "class Evil(BeelineProvider):\n"
        "    pass\n"
        "@hookimpl\n"
        "def register_providers(register):\n"
        "    register(Evil)\n"
    )
    _install_fake_distribution(tmp_path, "aaa_evil", source)  # sorts before "beeline"
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    registry = load_plugins(allow=(), block=())
    sys.modules.pop("broken_aaa_evil", None)
    assert "beeline" not in registry.providers
    reasons = {f.name: f.reason for f in registry.failures}
    assert reasons["aaa_evil"] == reasons["beeline"]
    assert "aggregator-aaa_evil-fake" in reasons["beeline"]
    assert "aggregator-beeline" in reasons["beeline"]
    # Choosing one with AGGREGATOR_PLUGINS ends the conflict.
    chosen = load_plugins(allow=["beeline", "email"], block=())
    assert chosen.providers["beeline"].__module__.startswith("aggregator_beeline")
    assert chosen.failures == []


def test_an_unknown_name_in_the_allow_list_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGGREGATOR_PLUGINS", "beeline,nope")
    with pytest.raises(ValueError, match=r"AGGREGATOR_PLUGINS.*'nope'.*beeline"):
        load_plugins()


def test_a_duplicate_inside_one_plugin_is_refused() -> None:
    registry = load_only(("twice", registering(make_provider("dup"), make_provider("dup"))))
    assert "already registered" in {f.name: f.reason for f in registry.failures}["twice"]
    assert registry.providers == {}


def test_unknown_provider_id_is_a_clear_key_error() -> None:
    registry = load_only(("alpha", registering(make_provider("alpha"))))
    with pytest.raises(KeyError, match="no plugin provides the operator 'nope'"):
        registry.provider("nope")


# -- one test of its own per hook (tests/test_hook_docs.py checks they exist) ---------------
def test_hook_register_providers_registers_each_class_under_its_id() -> None:
    alpha, beta = make_provider("alpha"), make_provider("beta")
    seen: list[object] = []

    def register_providers(register: Callable[[type[Provider]], None]) -> None:
        seen.append(register)
        register(alpha)
        register(beta)

    registry = load_only(("two", plugin(register_providers=register_providers)))
    assert registry.providers == {"alpha": alpha, "beta": beta}
    assert registry.plugins["two"].providers == ["alpha", "beta"]
    assert registry.provider("beta") is beta
    assert len(seen) == 1 and callable(seen[0]), "the hook is called once with a callback"


async def test_hook_register_notifiers_registers_a_channel_that_sends() -> None:
    def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
        register(EchoNotifier)

    registry = load_only(("echo_plugin", plugin(register_notifiers=register_notifiers)))
    assert registry.notifiers == {"echo": EchoNotifier}
    assert registry.plugins["echo_plugin"].notifiers == ["echo"]

    notifier = registry.notifiers["echo"]({})
    note = Notification(kind="low_balance", subject="s", text="t", idempotency_key="1")
    await notifier.send(note)
    assert notifier.settings["sent"] == [note]


def test_hook_register_notifiers_refuses_a_duplicate_and_a_non_notifier() -> None:
    def twice(register: Callable[[type[Notifier]], None]) -> None:
        register(EchoNotifier)
        register(EchoNotifier)

    class NoSend(Notifier):
        id = "nosend"
        name = "No send"

    registry = load_only(
        ("twice", plugin(register_notifiers=twice)),
        ("nosend", plugin(register_notifiers=lambda register: register(NoSend))),
        ("wrong", plugin(register_notifiers=lambda register: register(make_provider("x")))),
    )
    reasons = {f.name: f.reason for f in registry.failures}
    assert "notifier id 'echo' is already registered" in reasons["twice"]
    assert "must set id and implement send" in reasons["nosend"]
    assert "is not a Notifier subclass" in reasons["wrong"]
    assert registry.notifiers == {}


def test_hookspecs_are_synchronous_and_take_a_register_callback() -> None:
    import inspect

    specs = [
        getattr(hookspecs, n)
        for n in dir(hookspecs)
        if hasattr(getattr(hookspecs, n), "aggregator_spec")
    ]
    assert {s.__name__ for s in specs} == {"register_providers", "register_notifiers"}
    for spec in specs:
        assert not inspect.iscoroutinefunction(spec)
        assert list(inspect.signature(spec).parameters) == ["register"]
