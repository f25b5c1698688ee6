"""What every command area of the CLI shares: one-line errors, settings, the database, prompts.

An error is one line on stderr and exit code 1, never a traceback (``AGGREGATOR_DEBUG=1`` shows
one). The texts of the provider contract's errors come from the dashboard's translation
catalogue (``web/locales``), Russian first and English second, so the CLI and the web say the
same thing. Secrets are read only from a hidden prompt, stdin or a named environment variable.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from ..server.i18n import Translator
    from ..settings import Settings

__all__ = [
    "CliError",
    "catalogue_text",
    "choose",
    "console",
    "database",
    "describe_error",
    "fail",
    "fmt_money",
    "is_interactive",
    "load_settings",
    "new_typer",
    "open_db",
    "print_json",
    "read_secret",
    "require_sqlite_file",
    "run",
    "safe_cell",
    "set_data_dir",
]

T = TypeVar("T")


class CliError(Exception):
    """An error shown as one line on stderr; exit code 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def show(self) -> None:
        from ..core.secret import scrub

        typer.echo(scrub(f"Ошибка / Error: {self.message}"), err=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe_cell(value: object) -> str:
    """Text from outside (an account label, an operator's subaccount name, a plugin's words)
    made safe for a Rich table: control characters (terminal escapes, OSC 8 hyperlinks,
    bidirectional overrides) removed and Rich markup escaped, so it prints as written."""
    from rich.markup import escape

    return escape(_CONTROL.sub("", str(value)))


def fail(message: str) -> NoReturn:
    raise CliError(message)


@lru_cache(maxsize=1)
def _catalogue() -> Translator:
    from ..server.assets import find_web_dir
    from ..server.i18n import Translator

    return Translator(find_web_dir() / "locales")


def catalogue_text(key: str, **values: Any) -> str:
    """The catalogue's text for ``key`` in both languages: ``russian / english``."""
    catalogue = _catalogue()
    return (
        f"{catalogue.translate('ru', key, **values)} / {catalogue.translate('en', key, **values)}"
    )


def error_text(key: str) -> str:
    """The catalogue's text for an error key (or its parent key): ``russian / english``."""
    catalogue = _catalogue()
    ru, _ = catalogue.error("ru", key)
    en, _ = catalogue.error("en", key)
    return f"{ru.rstrip('.')} / {en.rstrip('.')}"


def describe_error(exc: BaseException) -> str:
    """One line for an exception, without any secret value of the process (a plugin's own
    exception may quote a password: it is scrubbed here)."""
    from ..core.secret import scrub

    return scrub(_describe_error(exc))


def _describe_error(exc: BaseException) -> str:
    from ..core.errors import AggregatorError, OperationRejected, RateLimited

    if isinstance(exc, AggregatorError):
        try:
            line = error_text(exc.key)
        except (OSError, ValueError):  # no web assets in this installation
            line = f"{exc.key}: {exc.message}"
        if isinstance(exc, OperationRejected) and exc.reason:
            line += f": {exc.reason}"
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            line += f" ({exc.retry_after:.0f} s)"
        return line
    name = type(exc).__name__
    if name == "ValidationError" and hasattr(exc, "errors"):  # pydantic: a bad setting
        parts = []
        for err in exc.errors():
            field = "_".join(str(p) for p in err.get("loc", ()))
            parts.append(f"AGGREGATOR_{field.upper()}: {err.get('msg', '')}")
        return "неверная настройка / invalid setting: " + "; ".join(parts)
    if name in ("VaultKeyError", "VaultError"):
        return f"ключ хранилища / vault key: {exc}"
    if name in ("SchemaOutdated", "SchemaTooNew", "SchemaError"):
        return f"схема базы данных / database schema: {exc}"
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else "not found"
    if isinstance(exc, ValueError | LookupError | FileExistsError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    if type(exc).__module__.startswith("aggregator"):
        return str(exc).splitlines()[0] if str(exc) else name  # our own errors say why
    if name in ("OperationalError", "InterfaceError", "DBAPIError"):
        return (
            "не удаётся открыть базу данных / cannot open the database: "
            + str(getattr(exc, "orig", exc)).splitlines()[0]
        )
    return f"непредвиденная ошибка / unexpected error ({name}): {exc}".splitlines()[0]


class _Group(TyperGroup):
    """Turns every exception of a command into one line on stderr and exit code 1.

    Only Typer's public API: a usage error or a bad parameter (a :class:`typer.TyperException`),
    :class:`typer.Exit` and :class:`typer.Abort` go on to Typer as they are.
    """

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().invoke(*args, **kwargs)
        except CliError as exc:
            exc.show()
            raise typer.Exit(exc.exit_code) from None
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except (KeyboardInterrupt, EOFError):
            raise typer.Abort() from None
        except Exception as exc:
            if os.environ.get("AGGREGATOR_DEBUG"):
                raise
            CliError(describe_error(exc)).show()
            raise typer.Exit(CliError.exit_code) from None


def new_typer(help_text: str, name: str | None = None) -> typer.Typer:
    """A command group whose errors are one line."""
    return typer.Typer(
        name=name,
        cls=_Group,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


_DATA_DIR: ContextVar[Path | None] = ContextVar("aggregator_cli_data_dir", default=None)


def set_data_dir(data_dir: Path | None) -> None:
    """The root command's ``--data-dir`` (None: the settings' own) for :func:`load_settings`."""
    _DATA_DIR.set(data_dir)


def load_settings(**overrides: Any) -> Settings:
    """The settings, with ``--data-dir`` of the root command and the given overrides."""
    from ..settings import Settings

    data_dir = _DATA_DIR.get()
    if data_dir is not None:
        overrides.setdefault("data_dir", data_dir)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (Cyrillic kept readable)."""
    import json

    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def require_sqlite_file(settings: Settings) -> None:
    """A missing SQLite file means no database yet: say what to run instead of creating one."""
    if not settings.is_sqlite:
        return
    from sqlalchemy.engine import make_url

    database = make_url(settings.resolved_database_url).database
    if database and database != ":memory:" and not Path(database).exists():
        fail(f"базы данных ещё нет / no database yet at {database}: run `aggregator db upgrade`")


async def open_db(settings: Settings) -> AsyncEngine:
    """An engine on a database whose schema is current (else SchemaOutdated, one line)."""
    from ..storage.db import create_engine
    from ..storage.schema import check_current

    require_sqlite_file(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        await check_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the current-schema database; the engine is disposed afterwards."""
    from ..storage.db import session_factory

    engine = await open_db(settings)
    try:
        async with session_factory(engine)() as db:
            yield db
    finally:
        await engine.dispose()


def is_interactive(flag: bool | None) -> bool:
    """Prompt for what is missing? ``--interactive/--no-interactive``, else: stdin is a TTY."""
    if flag is not None:
        return flag
    return sys.stdin.isatty()


def read_secret(
    *, stdin: bool, env: str | None, interactive: bool, label: str, option_hint: str
) -> str:
    """A secret from stdin, an environment variable or a hidden prompt; never an argument."""
    if stdin and env:
        fail("--password-stdin и --password-env вместе нельзя / use one of them")
    if stdin:
        value = typer.get_text_stream("stdin").readline().rstrip("\r\n")
        if not value:
            fail("пустой пароль во входном потоке / empty password on stdin")
        return value
    if env:
        value = os.environ.get(env, "")
        if not value:
            fail(f"переменная {env} не задана / environment variable {env} is not set")
        return value
    if not interactive:
        fail(f"нужен пароль / a password is needed: {option_hint}")
    value = str(typer.prompt(label, hide_input=True))
    if not value:
        fail("пустой пароль / empty password")
    return value


def choose(title: str, options: Sequence[tuple[str, str]], default: str | None = None) -> str:
    """Ask to pick one of ``(value, label)`` by number or value; one option is taken at once."""
    if len(options) == 1:
        return options[0][0]
    typer.echo(title)
    for i, (value, label) in enumerate(options, 1):
        typer.echo(f"  {i}) {label} [{value}]")
    values = [v for v, _ in options]
    while True:
        answer = str(typer.prompt("Номер / Number", default=default or "1")).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return values[int(answer) - 1]
        if answer in values:
            return answer
        typer.echo("Нет такого варианта / no such option", err=True)


def fmt_money(minor: int | None, currency: str = "RUB") -> str:
    if minor is None:
        return "—"
    from ..i18n import format_money_minor

    return format_money_minor(minor, currency, "ru")
