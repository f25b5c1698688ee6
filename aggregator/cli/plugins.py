"""``aggregator plugins``: the loaded operator plugins, and a scaffold for a new one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .base import (
    console,
    new_typer,
    safe_cell,
)

if TYPE_CHECKING:
    from ..plugins import PluginRegistry

plugins_app = new_typer("Плагины операторов / Operator plugins.")

# -- plugins -------------------------------------------------------------------------------


def _scheme_text(scheme: dict[str, Any]) -> str:
    """A login scheme in the table: its id, "+ code" when a one-time code follows the
    password, "(no auto re-login)" when a person must log in again each time."""
    text = str(scheme["id"])
    if scheme.get("code_follows"):
        text += " + code"
    if not scheme.get("silent_relogin", True):
        text += " (no auto re-login)"
    return text


def plugin_listing(registry: PluginRegistry) -> dict[str, Any]:
    """What ``plugins list --json`` prints: providers, notifiers and failures."""
    providers = []
    for pid, cls in sorted(registry.providers.items()):
        plugin_name = registry.provider_plugin.get(pid, "")
        loaded = registry.plugins.get(plugin_name)
        providers.append(
            {
                "id": pid,
                "name": cls.name,
                "name_en": cls.name_en,
                "plugin": plugin_name,
                "version": loaded.version if loaded else None,
                "distribution": loaded.distribution if loaded else None,
                "capabilities": sorted(c.value for c in cls.capabilities()),
                "provenance": {k: v.value for k, v in cls.provenance_map().items()},
                "login_schemes": [s.model_dump(mode="json") for s in cls.login_schemes],
            }
        )
    notifiers = []
    for nid, ncls in sorted(registry.notifiers.items()):
        owner = next((p for p in registry.plugins.values() if nid in p.notifiers), None)
        notifiers.append(
            {
                "id": nid,
                "name": getattr(ncls, "name", nid),
                "plugin": owner.name if owner else None,
                "version": owner.version if owner else None,
                "distribution": owner.distribution if owner else None,
            }
        )
    failures = [{"name": f.name, "reason": f.reason} for f in registry.failures]
    return {"providers": providers, "notifiers": notifiers, "failures": failures}


_MARK = {"proven": "P", "seed": "S", "assumed": "A"}


def _capabilities_text(provider: dict[str, Any]) -> str:
    """``balance (P), top_up (A)``: each capability with how its wire format is known."""
    known = provider["provenance"]
    return ", ".join(f"{c} ({_MARK[known[c]]})" for c in provider["capabilities"])


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")] = False,
) -> None:
    """Загруженные плагины и сбои / Loaded plugins, their operators, and failures."""
    from ..plugins import load_plugins

    listing = plugin_listing(load_plugins())
    if as_json:
        typer.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    out = console()
    if out.width >= 110:
        from rich import box
        from rich.table import Table

        table = Table(title="Операторы / operators", box=box.SIMPLE_HEAD)
        for column in ("id", "name", "version", "distribution", "capabilities", "login schemes"):
            table.add_column(column, overflow="fold", no_wrap=column == "id")
        for p in listing["providers"]:
            table.add_row(
                safe_cell(p["id"]),
                safe_cell(f"{p['name']}\n{p['name_en']}"),
                safe_cell(p["version"] or "—"),
                safe_cell(p["distribution"] or "—"),
                safe_cell(_capabilities_text(p)),
                safe_cell(",\n".join(_scheme_text(s) for s in p["login_schemes"])),
            )
        out.print(table)
    else:  # a narrow terminal: one block per operator, wrapped between words, nothing cut
        out.print("Операторы / operators", style="bold")
        for p in listing["providers"]:
            version = f" {p['version']}" if p["version"] else ""
            dist = f" ({p['distribution']})" if p["distribution"] else ""
            out.print(
                f"[bold]{safe_cell(p['id'])}[/bold]: "
                + safe_cell(f"{p['name']} / {p['name_en']}{version}{dist}"),
                soft_wrap=False,
                overflow="fold",
            )
            for label, value in (
                ("вход / login", ", ".join(_scheme_text(s) for s in p["login_schemes"])),
                ("умеет / can", _capabilities_text(p)),
            ):
                out.print(f"  {label}: {safe_cell(value)}", overflow="fold")
    out.print(
        "Формат обмена / wire format: P — подтверждён независимым клиентом / proven, "
        "S — по описанию оператора / seed, A — предположение / assumed",
        highlight=False,
    )
    if listing["notifiers"]:
        out.print(
            "Каналы уведомлений / notifiers: "
            + ", ".join(f"{n['id']} ({n['distribution'] or '—'})" for n in listing["notifiers"])
        )
    for failure in listing["failures"]:
        out.print(
            f"[red]Сбой / failed[/red]: {safe_cell(failure['name'])}: "
            f"{safe_cell(failure['reason'])}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )


@plugins_app.command("new")
def plugins_new(
    name: Annotated[str, typer.Argument(help="Имя / name: lower-case letters, digits, _.")],
    dest: Annotated[
        Path | None, typer.Option("--dest", help="Куда / where (default ./plugins/NAME).")
    ] = None,
) -> None:
    """Создать заготовку плагина / Scaffold a new operator plugin with tests."""
    from ..scaffold import adopting_workspace, install_command, scaffold_plugin

    target = dest if dest is not None else Path("plugins") / name
    written = scaffold_plugin(name, target)
    typer.echo(f"Создан плагин / created the plugin {name} in {target} ({len(written)} files).")
    typer.echo("Установить / install it with:")
    typer.echo(f"  {install_command(target)}")
    workspace = adopting_workspace(target)
    if workspace is not None:
        typer.echo(
            f"Папка входит в uv workspace {workspace}: обновите uv.lock, иначе `make` откажется / "
            f"the folder is a member of the uv workspace at {workspace}: run `uv lock` there "
            "so that `uv sync --frozen` (make) accepts it"
        )
    typer.echo("Проверить / then check:")
    typer.echo("  aggregator plugins list")
    typer.echo(f"  cd {target} && {Path(sys.executable).parent / 'pytest'}")
