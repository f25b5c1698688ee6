"""The ``aggregator`` command: serve, demo, worker, poll, accounts, users, plugins, keys, db.

Every command imports what it needs inside its own body, so ``aggregator --help`` and
``aggregator plugins list`` do not pay for the database, the web server or the scheduler. An
error is one line on stderr and exit code 1, never a traceback (set ``AGGREGATOR_DEBUG=1`` to
see one). Secrets are read only from a hidden prompt, stdin or a named environment variable,
and never printed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from typer._click.core import Context as ClickContext
from typer._click.exceptions import ClickException
from typer._click.globals import get_current_context
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from .core.flows import Challenge, ChallengeAnswer, Session
    from .core.login import ExtraField, LoginScheme
    from .core.models import Subaccount
    from .plugins import PluginRegistry
    from .settings import Settings
    from .storage.models import Household

__all__ = ["app", "main"]

T = TypeVar("T")

# -- errors: one line, Russian first, English second ------------------------------------------

_ERROR_TEXT: dict[str, tuple[str, str]] = {
    "auth.invalid_credentials": ("неверный логин или пароль", "wrong login or password"),
    "auth.session_expired": (
        "сессия у оператора истекла, войдите снова",
        "the operator session expired; log in again",
    ),
    "auth.account_locked": (
        "оператор заблокировал вход после неудачных попыток",
        "the operator locked the login after failed attempts",
    ),
    "auth.flow_expired": ("шаг входа устарел, начните заново", "this step expired; start again"),
    "auth": ("нужно войти снова", "log in again"),
    "temporary.unavailable": (
        "оператор недоступен, попробуйте позже",
        "the operator is unavailable; try again later",
    ),
    "temporary.timeout": ("оператор не ответил вовремя", "the operator did not answer in time"),
    "temporary.rate_limited": (
        "оператор просит подождать",
        "the operator asks to slow down",
    ),
    "temporary": ("временная ошибка, попробуйте позже", "a temporary error; try again later"),
    "operation.rejected": ("оператор отказал", "the operator refused"),
    "parse": (
        "ответ оператора не распознан, плагину нужно обновление",
        "the operator's answer was not understood; the plugin needs an update",
    ),
    "not_supported": ("оператор этого не умеет", "the operator does not support this"),
}


class CliError(ClickException):
    """An error shown as one line on stderr; exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        typer.echo(f"Ошибка / Error: {self.message}", err=True)


def fail(message: str) -> NoReturn:
    raise CliError(message)


def describe_error(exc: BaseException) -> str:
    """One line for an exception, without secrets: the contract's errors carry none."""
    from .core.errors import AggregatorError, OperationRejected, RateLimited

    if isinstance(exc, AggregatorError):
        ru, en = _ERROR_TEXT.get(exc.key, _ERROR_TEXT.get(exc.key.split(".")[0], ("", "")))
        if not ru:
            return f"{exc.key}: {exc.message}"
        line = f"{ru} / {en}"
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
    """Turns every exception of a command into :class:`CliError` (one line, exit 1)."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (ClickException, typer.Exit, typer.Abort):
            raise
        except (KeyboardInterrupt, EOFError):
            raise typer.Abort() from None
        except Exception as exc:
            if os.environ.get("AGGREGATOR_DEBUG"):
                raise
            raise CliError(describe_error(exc)) from None


def _typer(help_text: str, name: str | None = None) -> typer.Typer:
    return typer.Typer(
        name=name,
        cls=_Group,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


app = _typer(
    "Агрегатор: все счета связи семьи на одной панели.\n\n"
    "The aggregator: one dashboard for a household's telecom accounts.",
    name="aggregator",
)
accounts_app = _typer("Связанные счета операторов / Linked operator accounts.")
users_app = _typer("Пользователи и семьи / Users and households.")
plugins_app = _typer("Плагины операторов / Operator plugins.")
keys_app = _typer("Ключи хранилища секретов / Vault keys.")
db_app = _typer("Схема базы данных / The database schema.")
app.add_typer(accounts_app, name="accounts")
app.add_typer(users_app, name="users")
app.add_typer(plugins_app, name="plugins")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Каталог данных / data directory (default: AGGREGATOR_DATA_DIR or .data).",
        ),
    ] = None,
) -> None:
    ctx.obj = {"data_dir": data_dir}


# -- shared helpers -------------------------------------------------------------------------


def _settings(**overrides: Any) -> Settings:
    from .settings import Settings

    ctx = get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    if isinstance(root, dict) and root.get("data_dir") is not None:
        overrides.setdefault("data_dir", root["data_dir"])
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _maybe_run(value: Any) -> Any:
    return _run(value) if inspect.iscoroutine(value) else value


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _import(module: str, name: str, what: str) -> Any:
    """``module.name``, or one line "not available yet" when that part is not built yet."""
    import importlib

    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            fail(f"{what}: ещё не доступно / not available yet")
        raise
    if not hasattr(found, name):
        fail(f"{what}: ещё не доступно / not available yet")
    return getattr(found, name)


def _require_sqlite_file(settings: Settings) -> None:
    """A missing SQLite file means no database yet: say what to run instead of creating one."""
    if not settings.is_sqlite:
        return
    from sqlalchemy.engine import make_url

    database = make_url(settings.resolved_database_url).database
    if database and database != ":memory:" and not Path(database).exists():
        fail(f"базы данных ещё нет / no database yet at {database}: run `aggregator db upgrade`")


async def _open_db(settings: Settings) -> AsyncEngine:
    """An engine on a database whose schema is current (else SchemaOutdated, one line)."""
    from .storage.db import create_engine
    from .storage.schema import check_current

    _require_sqlite_file(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        await check_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def _interactive(flag: bool | None) -> bool:
    """Prompt for what is missing? ``--interactive/--no-interactive``, else: stdin is a TTY."""
    if flag is not None:
        return flag
    return sys.stdin.isatty()


def _read_secret(
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


def _choose(title: str, options: Sequence[tuple[str, str]], default: str | None = None) -> str:
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


def _fmt_money(minor: int | None, currency: str = "RUB") -> str:
    if minor is None:
        return "—"
    from .i18n import format_money_minor

    return format_money_minor(minor, currency, "ru")


# -- serve, demo, worker, poll --------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Адрес / listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Порт / port.")] = None,
) -> None:
    """Запустить панель (веб, планировщик, опрос) / Run the dashboard, scheduler and poller."""
    settings = _settings(host=host, port=port)
    run = _import("aggregator.server.app", "serve", "serve")
    _maybe_run(run(settings))


@app.command()
def demo() -> None:
    """Демо: эталонный оператор и панель с демо-семьёй / The demo with a demo household."""
    settings = _settings()
    run = _import("aggregator.demo", "run_demo", "demo")
    _maybe_run(run(settings))


@app.command()
def worker() -> None:
    """Дополнительный процесс опроса (PostgreSQL) / An extra polling worker process."""
    settings = _settings()
    run = _import("aggregator.polling.worker", "run_worker", "worker")
    _maybe_run(run(settings))


@app.command()
def poll(
    account: Annotated[
        int | None, typer.Option("--account", help="Опросить один счёт / poll one account.")
    ] = None,
    all_accounts: Annotated[
        bool, typer.Option("--all", help="Опросить все счета / poll every account.")
    ] = False,
) -> None:
    """Опросить счета сейчас / Run one poll cycle now, with a progress bar and a result table."""
    if account is None and not all_accounts:
        fail("укажите --account ID или --all / give --account ID or --all")
    if account is not None and all_accounts:
        fail("--account и --all вместе нельзя / use one of --account and --all")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    settings = _settings()
    poll_now = _import("aggregator.polling.commands", "poll_now", "poll")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console(stderr=True),
    ) as progress:
        task = progress.add_task("Опрос / polling", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        outcomes = _maybe_run(poll_now(settings, account, advance))
    if not outcomes:
        if account is not None:
            fail(f"нет счёта {account} / no account {account}")
        typer.echo("Нет связанных счетов / no linked accounts: aggregator accounts add")
        return
    _print_outcomes(list(outcomes))


def _print_outcomes(outcomes: list[Any]) -> None:
    from rich.table import Table

    from .i18n import format_money

    table = Table(title="Результат опроса / Poll results")
    for column in ("id", "operator", "label", "number", "status", "balance", "error"):
        table.add_column(column, no_wrap=column == "balance")
    for o in outcomes:
        balance = getattr(o, "balance", None)
        currency = getattr(o, "currency", "RUB") or "RUB"
        table.add_row(
            str(o.account_id),
            str(o.provider_id),
            str(getattr(o, "label", "") or ""),
            str(getattr(o, "number_masked", "") or ""),
            str(o.status),
            format_money(balance, currency, "ru") if balance is not None else "—",
            str(getattr(o, "error_key", "") or ""),
        )
    _console().print(table)


# -- accounts ------------------------------------------------------------------------------


def _parse_fields(values: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--field ждёт name=value / --field takes name=value, not {item!r}")
        fields[name.strip()] = value
    return fields


async def _household(db: AsyncSession, household_id: int | None) -> Household:
    from sqlalchemy import select

    from .storage.models import Household

    if household_id is not None:
        found = await db.get(Household, household_id)
        if found is None:
            fail(f"нет семьи {household_id} / no household {household_id}")
        return found
    households = list((await db.scalars(select(Household).order_by(Household.id))).all())
    if not households:
        fail(
            "нет ни одной семьи; создайте её / no household yet; create one: "
            "aggregator users create --email you@example.com"
        )
    if len(households) > 1:
        ids = ", ".join(str(h.id) for h in households)
        fail(f"несколько семей ({ids}): укажите --household / several households: give --household")
    return households[0]


class _TerminalLogin:
    """Collects credentials for a login scheme and answers challenges in the terminal."""

    def __init__(self, interactive: bool, new_password_env: str | None) -> None:
        self.interactive = interactive
        self.new_password_env = new_password_env
        self.new_password: str | None = None

    def need(self, what: str, option: str) -> NoReturn:
        fail(f"не задано / missing: {what} ({option})")

    def identifier(
        self, scheme: LoginScheme, kind: str | None, value: str | None
    ) -> tuple[str, str]:
        if not scheme.identifiers:
            return "", ""
        kinds = [(s.kind.value, f"{s.label_ru} / {s.label_en}") for s in scheme.identifiers]
        if kind is None:
            if len(kinds) == 1 or not self.interactive:
                kind = kinds[0][0]
            else:
                kind = _choose("Чем входить? / Log in with:", kinds)
        spec = scheme.identifier(kind)
        while True:
            raw = value
            if raw is None:
                if not self.interactive:
                    self.need(spec.label_en, "--identifier")
                example = f" (например / e.g. {spec.example})" if spec.example else ""
                raw = str(typer.prompt(f"{spec.label_ru} / {spec.label_en}{example}"))
            try:
                return spec.kind.value, spec.normalise(raw)
            except ValueError as exc:
                if not self.interactive or value is not None:
                    raise
                typer.echo(f"{spec.hint_ru or exc} / {exc}", err=True)

    def extra(self, field: ExtraField, given: str | None) -> str | None:
        while True:
            value = given
            if value is None and self.interactive:
                if field.kind == "choice":
                    options = [(v, label) for v, label in field.choices]
                    if not field.required:
                        options.append(("", "—"))
                    value = _choose(f"{field.label_ru} / {field.label_en}:", options)
                else:
                    value = str(
                        typer.prompt(
                            f"{field.label_ru} / {field.label_en}",
                            default="" if not field.required else None,
                            show_default=False,
                        )
                    )
            try:
                return field.normalise(value)
            except ValueError as exc:
                if not self.interactive or given is not None:
                    raise ValueError(f"{field.name}: {exc}") from None
                typer.echo(f"{field.hint_ru or exc} / {exc}", err=True)

    async def answer(self, challenge: Challenge) -> ChallengeAnswer:
        from .core.flows import ChallengeAnswer, ChallengeKind
        from .core.secret import Secret

        kind = challenge.kind
        if not self.interactive and not (
            kind is ChallengeKind.NEW_PASSWORD and self.new_password_env
        ):
            fail(
                f"оператор просит {kind.value} (шаг {challenge.step!r}); запустите в терминале / "
                f"the operator asks for {kind.value} at step {challenge.step!r}: "
                "run `aggregator accounts add` in a terminal to answer it"
            )
        if challenge.message:
            typer.echo(challenge.message)
        if kind is ChallengeKind.CAPTCHA:
            path = self._save_captcha(challenge)
            typer.echo(f"Картинка с кодом / captcha image: {path}")
            text = str(typer.prompt("Символы с картинки / characters in the picture"))
            return ChallengeAnswer(text=Secret(text.strip()))
        if kind is ChallengeKind.CODE:
            channel = {"sms": "SMS", "email": "e-mail"}.get(challenge.channel or "", "")
            where = challenge.masked_destination or "?"
            typer.echo(f"Код отправлен ({channel}) на / a code was sent ({channel}) to {where}")
            code = str(typer.prompt("Код / code", hide_input=True))
            return ChallengeAnswer(text=Secret(code.strip()))
        if kind is ChallengeKind.SSO_REDIRECT:
            typer.echo("Откройте в браузере и войдите / open in a browser and log in:")
            typer.echo(f"  {challenge.url}")
            url = str(
                typer.prompt(
                    "Адрес, на который вас вернули / the URL you were sent back to",
                    hide_input=True,
                )
            )
            return ChallengeAnswer(callback_url=url.strip())
        password = self._new_password(challenge)
        self.new_password = password
        return ChallengeAnswer(new_password=Secret(password))

    def _save_captcha(self, challenge: Challenge) -> Path:
        import tempfile

        suffix = "." + (challenge.image_type.split("/")[-1] or "png")
        handle, name = tempfile.mkstemp(prefix="aggregator-captcha-", suffix=suffix)
        with os.fdopen(handle, "wb") as out:
            out.write(challenge.image or b"")
        return Path(name)

    def _new_password(self, challenge: Challenge) -> str:
        policy = challenge.password_policy
        if self.new_password_env and not self.interactive:
            value = os.environ.get(self.new_password_env, "")
            if not value:
                fail(f"переменная {self.new_password_env} не задана / is not set")
            problems = policy.check(value) if policy else []
            if problems:
                fail("новый пароль не подходит / the new password breaks: " + ", ".join(problems))
            return value
        typer.echo("Оператор просит задать новый пароль / the operator asks for a new password.")
        if policy is not None and (policy.description_ru or policy.description_en):
            typer.echo(f"{policy.description_ru} / {policy.description_en}")
        while True:
            value = str(
                typer.prompt(
                    "Новый пароль / new password",
                    hide_input=True,
                    confirmation_prompt="Повторите / repeat",
                )
            )
            problems = policy.check(value) if policy else ([] if value else ["password.length"])
            if not problems:
                return value
            typer.echo("Не подходит / does not fit: " + ", ".join(problems), err=True)


def _pick_subaccounts(
    found: list[Subaccount], wanted: Sequence[str], take_all: bool, interactive: bool
) -> list[Subaccount]:
    from .accounts import mask_number

    if take_all or (len(found) == 1 and not wanted):
        return found
    if wanted:
        by_id = {s.id: s for s in found}
        missing = [w for w in wanted if w not in by_id]
        if missing:
            known = ", ".join(by_id) or "—"
            fail(
                f"нет таких счетов / no such subaccounts: {', '.join(missing)} "
                f"(есть / have: {known})"
            )
        return [by_id[w] for w in wanted]
    if not interactive:
        fail(
            "укажите --subaccount ID или --all-subaccounts / give --subaccount or --all-subaccounts"
        )
    typer.echo("Под этим входом есть счета / this login holds:")
    for i, sub in enumerate(found, 1):
        label = f" — {sub.label}" if sub.label else ""
        typer.echo(f"  {i}) {mask_number(sub.number, sub.kind)}{label} ({sub.kind}) [{sub.id}]")
    while True:
        answer = str(
            typer.prompt("Какие добавить (1,3 или all) / which to link (1,3 or all)", default="all")
        ).strip()
        if answer.lower() in ("all", "все"):
            return found
        picked = [p.strip() for p in answer.split(",") if p.strip()]
        if picked and all(p.isdigit() and 1 <= int(p) <= len(found) for p in picked):
            return [found[int(p) - 1] for p in dict.fromkeys(picked)]
        typer.echo("Введите номера через запятую / numbers separated by commas", err=True)


@accounts_app.command("add")
def accounts_add(
    provider_id: Annotated[
        str | None, typer.Option("--provider", help="Оператор / operator id (beeline, ...).")
    ] = None,
    scheme_id: Annotated[
        str | None, typer.Option("--scheme", help="Способ входа / login scheme id.")
    ] = None,
    identifier: Annotated[
        str | None, typer.Option("--identifier", help="Телефон, логин, номер счёта / login.")
    ] = None,
    identifier_kind: Annotated[
        str | None,
        typer.Option(
            "--identifier-kind", help="phone, email, login, account_number, contract_number."
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Пароль из stdin / read the password from stdin."),
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option("--password-env", help="Имя переменной с паролем / env variable name."),
    ] = None,
    new_password_env: Annotated[
        str | None,
        typer.Option(
            "--new-password-env",
            help="Новый пароль, если оператор попросит / env variable with a new password.",
        ),
    ] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", help="Доп. поле / extra field name=value (repeatable)."),
    ] = None,
    sso_provider: Annotated[
        str | None, typer.Option("--sso-provider", help="gosuslugi, tbank, vk, ok, mailru.")
    ] = None,
    subaccounts: Annotated[
        list[str] | None,
        typer.Option("--subaccount", help="Какой счёт добавить / subaccount id (repeatable)."),
    ] = None,
    all_subaccounts: Annotated[
        bool, typer.Option("--all-subaccounts", help="Добавить все / link every subaccount.")
    ] = False,
    label: Annotated[str | None, typer.Option("--label", help="Подпись / label.")] = None,
    household_id: Annotated[
        int | None, typer.Option("--household", help="Семья / household id.")
    ] = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Спрашивать недостающее / prompt for what is missing (default: on a terminal).",
        ),
    ] = None,
) -> None:
    """Добавить счёт оператора / Link an operator account (log in, answer challenges)."""
    asking = _interactive(interactive) and not password_stdin
    settings = _settings()
    _run(
        _accounts_add(
            settings,
            provider_id=provider_id,
            scheme_id=scheme_id,
            identifier=identifier,
            identifier_kind=identifier_kind,
            password_stdin=password_stdin,
            password_env=password_env,
            fields=_parse_fields(fields or []),
            sso_provider=sso_provider,
            wanted=subaccounts or [],
            all_subaccounts=all_subaccounts,
            label=label,
            household_id=household_id,
            login=_TerminalLogin(asking, new_password_env),
        )
    )


async def _accounts_add(
    settings: Settings,
    *,
    provider_id: str | None,
    scheme_id: str | None,
    identifier: str | None,
    identifier_kind: str | None,
    password_stdin: bool,
    password_env: str | None,
    fields: dict[str, str],
    sso_provider: str | None,
    wanted: Sequence[str],
    all_subaccounts: bool,
    label: str | None,
    household_id: int | None,
    login: _TerminalLogin,
) -> None:
    from .accounts import link_accounts
    from .core.flows import Session
    from .core.login import SecretKind
    from .core.provider import Capability
    from .runtime import Runtime
    from .storage.db import session_factory
    from .vault import Vault

    asking = login.interactive
    engine = await _open_db(settings)
    try:
        vault = Vault.from_settings(settings)
        async with session_factory(engine)() as db:
            household = await _household(db, household_id)
            household_pk = household.id
        async with Runtime(settings) as runtime:
            registry = runtime.registry
            if provider_id is None:
                if not asking:
                    login.need("operator", "--provider")
                options = [
                    (pid, f"{cls.name} ({cls.name_en})")
                    for pid, cls in sorted(registry.providers.items())
                ]
                if not options:
                    fail("нет ни одного плагина оператора / no operator plugin is loaded")
                provider_id = _choose("Оператор / operator:", options)
            provider_cls = registry.provider(provider_id)
            if scheme_id is None:
                schemes = [
                    (s.id, f"{s.title_ru} / {s.title_en}") for s in provider_cls.login_schemes
                ]
                scheme_id = (
                    _choose("Способ входа / login with:", schemes) if asking else schemes[0][0]
                )
            scheme = provider_cls.scheme(scheme_id)
            unknown = set(fields) - {f.name for f in scheme.extra_fields}
            if unknown:
                fail(
                    "у этого входа нет полей / this login has no fields: "
                    + ", ".join(sorted(unknown))
                )
            kind, value = "", ""
            if scheme.secret is not SecretKind.SSO:
                kind, value = login.identifier(scheme, identifier_kind, identifier)
            extras = {f.name: login.extra(f, fields.get(f.name)) for f in scheme.extra_fields}
            if scheme.secret is SecretKind.SSO:
                choices = [(p.value, p.value) for p in scheme.sso_providers]
                if sso_provider is None:
                    if not asking and len(choices) > 1:
                        login.need("identity provider", "--sso-provider")
                    sso_provider = _choose("Войти через / log in with:", choices)
                credentials = scheme.build_credentials(extras=extras, sso_provider=sso_provider)
            else:
                secret: str | None = None
                if scheme.secret is SecretKind.PASSWORD:
                    secret = _read_secret(
                        stdin=password_stdin,
                        env=password_env,
                        interactive=asking,
                        label="Пароль / password",
                        option_hint="--password-stdin | --password-env VAR",
                    )
                credentials = scheme.build_credentials(
                    value, secret, identifier_kind=kind, extras=extras
                )
            provider = runtime.provider(provider_cls.id)
            typer.echo(f"Вход в {provider_cls.name} / logging in to {provider_cls.name_en}…")
            result: Session | Challenge = await provider.start_login(credentials)
            for _ in range(10):
                if isinstance(result, Session):
                    break
                answer = await login.answer(result)
                result = await provider.continue_login(result, answer)
            if not isinstance(result, Session):
                fail("вход не завершился / the login did not finish")
            session = result
            if login.new_password:
                from .accounts import credentials_after_new_password

                credentials = credentials_after_new_password(
                    provider_cls, credentials, login.new_password
                )
            found: list[Subaccount] = []
            if provider_cls.has(Capability.SUBACCOUNTS):
                found = await provider.subaccounts(session)
            if wanted and not found:
                fail("у этого входа нет отдельных счетов / this login has no subaccounts")
            chosen = _pick_subaccounts(found, wanted, all_subaccounts, asking) if found else []
            if label is None:
                label = (
                    str(typer.prompt("Подпись / label", default="", show_default=False))
                    if asking
                    else ""
                )
        async with session_factory(engine)() as db, db.begin():
            linked = await link_accounts(
                db,
                vault,
                household_id=household_pk,
                provider=provider_cls,
                credentials=credentials,
                session=session,
                subaccounts=chosen,
                label=label,
            )
            rows = [(a.id, a.label, a.number_masked) for a in linked]
    finally:
        await engine.dispose()
    from rich.table import Table

    table = Table(title=f"Добавлено / linked: {len(rows)}")
    for column in ("id", "operator", "label", "number"):
        table.add_column(column)
    for account_pk, account_label, masked in rows:
        table.add_row(str(account_pk), provider_cls.id, account_label, masked)
    _console().print(table)


@accounts_app.command("list")
def accounts_list(
    household_id: Annotated[
        int | None, typer.Option("--household", help="Только эта семья / only this household.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")] = False,
) -> None:
    """Список счетов / List linked accounts with their last balance."""
    rows = _run(_accounts_rows(_settings(), household_id))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table(title="Счета / accounts")
    for column in ("id", "operator", "label", "number", "status", "balance", "updated"):
        table.add_column(column, no_wrap=column in ("balance", "updated"))
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["operator"],
            r["label"],
            r["number"],
            r["status"],
            r["balance_text"],
            r["updated"] or "—",
        )
    _console().print(table)


async def _accounts_rows(settings: Settings, household_id: int | None) -> list[dict[str, Any]]:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from .storage.db import session_factory
    from .storage.models import BalanceReading, Household, LinkedAccount

    engine = await _open_db(settings)
    try:
        async with session_factory(engine)() as db:
            latest = (
                select(
                    BalanceReading.account_id.label("account_id"),
                    func.max(BalanceReading.id).label("reading_id"),
                )
                .group_by(BalanceReading.account_id)
                .subquery()
            )
            query = (
                select(LinkedAccount, BalanceReading, Household.timezone)
                .join(Household, Household.id == LinkedAccount.household_id)
                .outerjoin(latest, latest.c.account_id == LinkedAccount.id)
                .outerjoin(BalanceReading, BalanceReading.id == latest.c.reading_id)
                .order_by(LinkedAccount.id)
            )
            if household_id is not None:
                query = query.where(LinkedAccount.household_id == household_id)
            result = (await db.execute(query)).all()
    finally:
        await engine.dispose()
    rows = []
    for account, reading, tz_name in result:
        updated: dt.datetime | None = account.last_success_at or (reading.at if reading else None)
        try:
            zone = ZoneInfo(tz_name)
        except Exception:
            zone = ZoneInfo("Europe/Moscow")
        rows.append(
            {
                "id": account.id,
                "household": account.household_id,
                "operator": account.provider_id,
                "label": account.label,
                "number": account.number_masked,
                "status": account.status,
                "balance": str(reading.amount) if reading else None,
                "currency": reading.currency if reading else None,
                "balance_text": _fmt_money(
                    reading.amount_minor if reading else None,
                    reading.currency if reading else "RUB",
                ),
                "updated": updated.astimezone(zone).strftime("%Y-%m-%d %H:%M") if updated else None,
                "error": account.last_error_key,
            }
        )
    return rows


@accounts_app.command("remove")
def accounts_remove(
    account_id: Annotated[int, typer.Argument(help="Номер счёта / account id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Без вопроса / do not ask.")] = False,
) -> None:
    """Удалить счёт с его историей / Remove an account and its history."""
    settings = _settings()
    found = _run(_account_summary(settings, account_id))
    if found is None:
        fail(f"нет счёта {account_id} / no account {account_id}")
    if not yes:
        typer.confirm(
            f"Удалить {found} со всей историей? / remove it with its history?", abort=True
        )
    _run(_account_delete(settings, account_id))
    typer.echo(f"Удалён / removed: {account_id}")


async def _account_summary(settings: Settings, account_id: int) -> str | None:
    from .storage.db import session_factory
    from .storage.models import LinkedAccount

    engine = await _open_db(settings)
    try:
        async with session_factory(engine)() as db:
            account = await db.get(LinkedAccount, account_id)
            if account is None:
                return None
            return f"{account.provider_id} {account.label or account.number_masked}".strip()
    finally:
        await engine.dispose()


async def _account_delete(settings: Settings, account_id: int) -> None:
    from sqlalchemy import delete

    from .storage.db import session_factory
    from .storage.models import AuditLog, LinkedAccount

    engine = await _open_db(settings)
    try:
        async with session_factory(engine)() as db, db.begin():
            account = await db.get(LinkedAccount, account_id)
            if account is None:
                fail(f"нет счёта {account_id} / no account {account_id}")
            db.add(
                AuditLog(
                    household_id=account.household_id,
                    action="account.removed",
                    details={"account": account_id, "provider": account.provider_id},
                )
            )
            await db.execute(delete(LinkedAccount).where(LinkedAccount.id == account_id))
    finally:
        await engine.dispose()


# -- users ---------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="E-mail для входа / sign-in e-mail.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Пароль из stdin / read it from stdin.")
    ] = False,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Имя переменной / env variable name.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Имя семьи / household name.")] = "",
    lang: Annotated[str, typer.Option("--lang", help="ru или en / ru or en.")] = "ru",
    interactive: Annotated[
        bool | None, typer.Option("--interactive/--no-interactive", help="Спрашивать / prompt.")
    ] = None,
) -> None:
    """Создать семью и её первого пользователя / Create a household and its owner."""
    asking = _interactive(interactive) and not password_stdin
    if password_stdin or password_env or not asking:
        password = _read_secret(
            stdin=password_stdin,
            env=password_env,
            interactive=False,
            label="",
            option_hint="--password-stdin | --password-env VAR",
        )
    else:
        password = str(
            typer.prompt(
                "Пароль / password", hide_input=True, confirmation_prompt="Повторите / repeat"
            )
        )
    user_id, household_id = _run(_users_create(_settings(), email, password, name, lang))
    typer.echo(
        f"Создан пользователь {user_id} в семье {household_id} / created user {user_id} "
        f"in household {household_id}"
    )


async def _users_create(
    settings: Settings, email: str, password: str, name: str, lang: str
) -> tuple[int, int]:
    from .households import create_household_with_owner
    from .storage.db import session_factory

    engine = await _open_db(settings)
    try:
        async with session_factory(engine)() as db, db.begin():
            user = await create_household_with_owner(
                db, email=email, password=password, name=name, lang=lang
            )
            return user.id, user.household_id
    finally:
        await engine.dispose()


# -- plugins -------------------------------------------------------------------------------


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


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")] = False,
) -> None:
    """Загруженные плагины и сбои / Loaded plugins, their operators, and failures."""
    from .plugins import load_plugins

    listing = plugin_listing(load_plugins())
    if as_json:
        typer.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    from rich import box
    from rich.table import Table

    table = Table(title="Операторы / operators", box=box.SIMPLE_HEAD)
    for column in ("id", "name", "version", "distribution", "capabilities", "login schemes"):
        table.add_column(column, no_wrap=column in ("id", "version"))
    for p in listing["providers"]:
        table.add_row(
            p["id"],
            f"{p['name']}\n{p['name_en']}",
            p["version"] or "—",
            p["distribution"] or "—",
            ", ".join(p["capabilities"]),
            ", ".join(s["id"] for s in p["login_schemes"]),
        )
    console = _console()
    console.print(table)
    if listing["notifiers"]:
        console.print(
            "Каналы уведомлений / notifiers: "
            + ", ".join(f"{n['id']} ({n['distribution'] or '—'})" for n in listing["notifiers"])
        )
    for failure in listing["failures"]:
        console.print(
            f"[red]Сбой / failed[/red]: {failure['name']}: {failure['reason']}",
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
    from .scaffold import adopting_workspace, install_command, scaffold_plugin

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


# -- keys and db ---------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Новый основной ключ и перешифровка всех секретов / New primary key; re-seal everything."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    rotate_keys = _import("aggregator.vault", "rotate_keys", "keys rotate")
    settings = _settings()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=_console(stderr=True),
    ) as progress:
        task = progress.add_task("Перешифровка / re-sealing", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = _run(rotate_keys(settings, progress=advance))
    typer.echo(
        f"Основной ключ / primary key: {report.new_key_id}; "
        f"перешифровано / re-sealed: {report.values} values in {report.rows} rows"
    )
    if report.old_key_ids:
        typer.echo(
            "Старые ключи / old keys: "
            + ", ".join(report.old_key_ids)
            + " — удалить / remove them: aggregator keys remove-old"
        )
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} значений не открылись / values did not open: "
            + ", ".join(report.unreadable[:5])
        )


@keys_app.command("remove-old")
def keys_remove_old() -> None:
    """Удалить старые ключи, которые больше не нужны / Remove old keys no longer used."""
    remove_old_keys = _import("aggregator.vault", "remove_old_keys", "keys remove-old")
    report = _run(remove_old_keys(_settings()))
    typer.echo(f"Основной ключ / primary key: {report.primary_key_id}")
    typer.echo("Удалены / removed: " + (", ".join(report.removed) or "—"))
    for key_id, fields in report.in_use.items():
        typer.echo(f"Ещё используется / still in use: {key_id} ({len(fields)} values)")
    if report.removable_from_env:
        typer.echo(
            "Уберите из AGGREGATOR_VAULT_KEY / remove from AGGREGATOR_VAULT_KEY: "
            + ", ".join(report.removable_from_env)
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Обновить схему базы данных / Migrate the database to the newest schema."""
    upgrade = _import("aggregator.storage.schema", "upgrade", "db upgrade")
    settings = _settings()
    with _console(stderr=True).status("Миграция / migrating…"):
        revision = _run(upgrade(settings.resolved_database_url))
    typer.echo(f"Схема / schema: {revision}")


@db_app.command("current")
def db_current() -> None:
    """Версия схемы базы / The database's schema revision (and whether it is current)."""
    from .storage import schema

    settings = _settings()
    _require_sqlite_file(settings)

    async def current() -> str | None:
        from .storage.db import create_engine

        engine = create_engine(settings.resolved_database_url)
        try:
            revision: str | None = await schema.current_revision(engine)
            return revision
        finally:
            await engine.dispose()

    revision = _run(current())
    head = schema.head_revision()
    if revision == head:
        typer.echo(f"{revision} (актуальна / current)")
        return
    typer.echo(f"{revision or '—'} (новейшая / newest: {head})")
    fail("схема устарела / the schema is behind: aggregator db upgrade")


def main(argv: Sequence[str] | None = None) -> None:
    """The console script."""
    command = typer.main.get_command(app)
    command.main(args=list(argv) if argv is not None else None, prog_name="aggregator")


if __name__ == "__main__":  # pragma: no cover
    main()
