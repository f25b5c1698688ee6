"""``aggregator accounts``: link, list, show, label and remove operator accounts."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .base import (
    choose,
    console,
    database,
    fail,
    fmt_money,
    is_interactive,
    load_settings,
    new_typer,
    open_db,
    print_json,
    read_secret,
    run,
    safe_cell,
)
from .login import (
    AllSubaccountsOption,
    HouseholdOption,
    InteractiveOption,
    LabelOption,
    SubaccountOption,
    TerminalLogin,
    choose_operator,
    finish_login,
    link_found,
    open_linking,
    parse_fields,
)
from .operator import AccountArg, CodeEnvOption, Codes, CodeStdinOption, JsonOption
from .sso_return import LoopbackReturn

if TYPE_CHECKING:
    from decimal import Decimal

    from ..core.models import PackageRemainder
    from ..diagnostics import Diagnostics
    from ..services.dashboard import AccountSummary
    from ..settings import Settings
    from ..storage.models import Household

accounts_app = new_typer("Связанные счета операторов / Linked operator accounts.")

# -- accounts ------------------------------------------------------------------------------


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
    subaccounts: SubaccountOption = None,
    all_subaccounts: AllSubaccountsOption = False,
    label: LabelOption = None,
    household_id: HouseholdOption = None,
    interactive: InteractiveOption = None,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
) -> None:
    """Добавить счёт оператора / Link an operator account (log in, answer challenges)."""
    asking = is_interactive(interactive) and not password_stdin and not code_stdin
    settings = load_settings()
    run(
        _accounts_add(
            settings,
            provider_id=provider_id,
            scheme_id=scheme_id,
            identifier=identifier,
            identifier_kind=identifier_kind,
            password_stdin=password_stdin,
            password_env=password_env,
            fields=parse_fields(fields or []),
            sso_provider=sso_provider,
            wanted=subaccounts or [],
            all_subaccounts=all_subaccounts,
            label=label,
            household_id=household_id,
            login=TerminalLogin(
                asking, new_password_env, Codes(env=code_env, stdin=code_stdin, interactive=asking)
            ),
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
    login: TerminalLogin,
) -> None:
    from ..core.login import SecretKind
    from ..runtime import Runtime

    asking = login.interactive
    async with (
        open_linking(settings, household_id) as (engine, vault, household_pk),
        Runtime(settings) as runtime,
    ):
        registry = runtime.registry
        provider_id = choose_operator(
            registry.providers,
            provider_id,
            login,
            "нет ни одного плагина оператора / no operator plugin is loaded",
        )
        provider_cls = registry.provider(provider_id)
        if scheme_id is None:
            schemes = [(s.id, f"{s.title_ru} / {s.title_en}") for s in provider_cls.login_schemes]
            scheme_id = choose("Способ входа / login with:", schemes) if asking else schemes[0][0]
        scheme = provider_cls.scheme(scheme_id)
        unknown = set(fields) - {f.name for f in scheme.extra_fields}
        if unknown:
            fail(
                "у этого входа нет полей / this login has no fields: " + ", ".join(sorted(unknown))
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
                sso_provider = choose("Войти через / log in with:", choices)
            credentials = scheme.build_credentials(extras=extras, sso_provider=sso_provider)
        else:
            secret: str | None = None
            if scheme.secret is SecretKind.PASSWORD:
                secret = read_secret(
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
        async with contextlib.AsyncExitStack() as stack:
            if scheme.secret is SecretKind.SSO and asking:
                # The browser comes back to this process (or the person pastes the address).
                login.sso_return = await stack.enter_async_context(LoopbackReturn())
                provider.context.settings.setdefault("sso_redirect_uri", login.sso_return.url)
            session = await finish_login(provider, await provider.start_login(credentials), login)
        if login.new_password:
            from ..accounts import credentials_after_new_password

            credentials = credentials_after_new_password(
                provider_cls, credentials, login.new_password
            )
        rows = await link_found(
            engine,
            vault,
            provider,
            household_id=household_pk,
            credentials=credentials,
            session=session,
            wanted=wanted,
            all_subaccounts=all_subaccounts,
            label=label,
            interactive=asking,
        )
    print_linked(rows, provider_cls.id)


def print_linked(rows: Sequence[tuple[int, str, str]], operator: str) -> None:
    """The accounts just linked, as a table."""
    from rich.table import Table

    table = Table(title=f"Добавлено / linked: {len(rows)}")
    for column in ("id", "operator", "label", "number"):
        table.add_column(column)
    for account_pk, account_label, masked in rows:
        table.add_row(str(account_pk), operator, safe_cell(account_label), safe_cell(masked))
    console().print(table)


@accounts_app.command("list")
def accounts_list(
    household_id: Annotated[
        int | None, typer.Option("--household", help="Только эта семья / only this household.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON вместо таблицы / JSON.")] = False,
) -> None:
    """Список счетов / List linked accounts with their last balance."""
    rows = run(_accounts_rows(load_settings(), household_id))
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title="Счета / accounts")
    for column in ("id", "operator", "label", "number", "status", "balance", "updated"):
        table.add_column(column, no_wrap=column in ("balance", "updated"))
    for r in rows:
        table.add_row(
            str(r["id"]),
            safe_cell(r["operator"]),
            safe_cell(r["label"]),
            safe_cell(r["number"]),
            r["status"],
            r["balance_text"],
            r["updated"] or "—",
        )
    console().print(table)
    for line in _advice_lines(rows):
        console().print(line, markup=False, highlight=False)


def _row(summary: AccountSummary, household: Household) -> dict[str, Any]:
    from ..services.accounts import zone as household_zone

    zone = household_zone(household.timezone)
    updated = summary.last_success_at or summary.balance_at
    return {
        "id": summary.id,
        "household": household.id,
        "operator": summary.provider_id,
        "label": summary.label,
        "number": summary.number_masked,
        "status": summary.status,
        "balance": str(summary.balance) if summary.balance is not None else None,
        "currency": summary.currency if summary.balance is not None else None,
        "balance_text": fmt_money(summary.balance_minor, summary.currency),
        "updated": updated.astimezone(zone).strftime("%Y-%m-%d %H:%M") if updated else None,
        "error": summary.last_error_key,
    }


async def _accounts_rows(settings: Settings, household_id: int | None) -> list[dict[str, Any]]:
    from ..services.accounts import households
    from ..services.dashboard import household_dashboard

    rows: list[dict[str, Any]] = []
    async with database(settings) as db:
        for household in await households(db, household_id):
            board = await household_dashboard(db, household.id)
            rows.extend(_row(summary, household) for summary in board.accounts)
    rows.sort(key=lambda r: int(r["id"]))
    _add_plugin_error_advice(rows)
    return rows


@accounts_app.command("show")
def accounts_show(account_id: AccountArg, as_json: JsonOption = False) -> None:
    """Один счёт: баланс, бонусы, остатки пакетов, тариф, прогноз / One account: balance,
    bonus, package remainders, tariff, forecast, status."""
    from ..i18n import format_bonus, format_money

    settings = load_settings()

    async def read() -> dict[str, Any]:
        from ..plugins import load_plugins
        from ..services.accounts import get_account, the_household
        from ..services.dashboard import household_dashboard
        from ..storage.models import from_minor

        async with database(settings) as db:
            account = await get_account(db, None, account_id)
            household = await the_household(db, account.household_id)
            board = await household_dashboard(db, household.id, account_id=account.id)
            summary = board.accounts[0]
            row = _row(summary, household)
            try:
                cls = load_plugins().provider(account.provider_id)
                capabilities = sorted(c.value for c in cls.capabilities())
                operator = f"{cls.name} / {cls.name_en}"
            except KeyError:
                capabilities, operator = [], account.provider_id
            row.update(
                operator_name=operator,
                kind=summary.kind,
                tariff=summary.tariff_name,
                operator_state=summary.operator_state,
                suspension_end=summary.suspension_end.isoformat()
                if summary.suspension_end
                else None,
                days_left=summary.days_left,
                threshold=format_money(from_minor(summary.threshold_minor), "RUB", "ru")
                if summary.threshold_minor is not None
                else None,
                next_charge_date=summary.next_charge_date.isoformat()
                if summary.next_charge_date
                else None,
                badge=summary.badge,
                bonus=format_bonus(summary.bonus_minor, summary.bonus_unit, summary.currency, "ru")
                if summary.bonus_minor is not None
                else None,
                remainders=[_remainder_text(r) for r in summary.remainders or []],
                trusted_debt=format_money(summary.trusted_debt, summary.currency, "ru")
                if summary.trusted_debt is not None
                else None,
                trusted_due=summary.trusted_due.isoformat() if summary.trusted_due else None,
                login_scheme=account.login_scheme,
                capabilities=capabilities,
                created=account.created_at.isoformat(),
            )
            return row

    row = run(read())
    if as_json:
        print_json(row)
        return
    labels = {
        "id": "Счёт / account",
        "operator_name": "Оператор / operator",
        "label": "Подпись / label",
        "number": "Номер / number",
        "status": "Состояние / status",
        "balance_text": "Баланс / balance",
        "bonus": "Бонусы / bonus",
        "remainders": "Остатки пакетов / package remainders",
        "trusted_debt": "Доверительный платёж / trusted payment owed",
        "trusted_due": "Вернуть до / due",
        "updated": "Обновлён / updated",
        "tariff": "Тариф / tariff",
        "operator_state": "У оператора / at the operator",
        "suspension_end": "Блокировка до / suspended until",
        "days_left": "Хватит на дней / days left",
        "threshold": "Порог / alert threshold",
        "next_charge_date": "Списание / next charge",
        "error": "Ошибка / error",
        "capabilities": "Умеет / can",
    }
    for key, title in labels.items():
        value = row.get(key)
        if value in (None, "", []):
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        typer.echo(f"{title}: {text}")


def _remainder_text(r: PackageRemainder) -> str:
    """One package as the overview card says it (ru), ``name: left [of size]``."""
    from ..core.models import UsageUnit
    from ..i18n import format_bytes, format_minutes, format_number

    if r.unlimited:
        return f"{r.name}: безлимит / unlimited"

    def amount(value: Decimal) -> str:
        if r.unit is UsageUnit.BYTES:
            return format_bytes(value, "ru")
        if r.unit is UsageUnit.SECONDS:
            return format_minutes(value, "ru")
        unit = "" if r.unit is not UsageUnit.UNKNOWN else f" {r.raw_unit or ''}"
        return f"{format_number(value, 'ru')}{unit}"

    size = f" из {amount(r.size)}" if r.size is not None else ""
    return f"{r.name}: {amount(r.rest)}{size}"


@accounts_app.command("label")
def accounts_label(
    account_id: AccountArg,
    label: Annotated[str, typer.Argument(help="Новая подпись / the new label ('' clears it).")],
) -> None:
    """Переименовать счёт / Rename an account."""
    from ..services import accounts as service

    settings = load_settings()

    async def rename() -> str:
        async with database(settings) as db:
            account = await service.set_label(db, None, account_id, label)
            return account.label

    typer.echo(f"Подпись / label: {run(rename()) or '—'}")


def _add_plugin_error_advice(rows: list[dict[str, Any]]) -> None:
    """An account whose plugin failed says what to do: take diagnostics, report them."""
    failed = [r for r in rows if r["status"] == "plugin_error"]
    if not failed:
        return
    from ..plugins import load_plugins, report_url

    registry = load_plugins()
    dashboard = load_settings().dashboard_url
    for row in failed:
        row["advice"] = {
            "diagnose": f"aggregator accounts diagnose {row['id']} --out diagnostics.har",
            "report_url": report_url(registry, row["operator"], dashboard),
        }


def _advice_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        advice = row.get("advice")
        if not advice:
            continue
        where = advice["report_url"] or "автору модуля / the plugin's author"
        lines.append(
            f"Счёт {row['id']}: модуль оператора {row['operator']} не понял ответ. Скачайте "
            f"диагностику ({advice['diagnose']}) и сообщите / the plugin failed: take the "
            f"diagnostics and report them at {where}"
        )
    return lines


@accounts_app.command("diagnose")
def accounts_diagnose(
    account_id: Annotated[int, typer.Argument(help="Номер счёта / account id.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Куда записать HAR / where to write the HAR file."),
    ] = None,
    login: Annotated[
        bool, typer.Option("--login", help="Сначала войти заново / log in first.")
    ] = False,
) -> None:
    """Диагностика для автора плагина / one poll recorded as a redacted HAR file.

    Credentials, codes, tokens and cookies are removed, personal data masked; attach the file
    to a report at the plugin's address (``aggregator plugins list``).
    """
    from ..services.diagnostics import diagnose_account

    settings = load_settings()

    async def diagnose() -> Diagnostics:
        from ..runtime import Runtime
        from ..storage.db import session_factory
        from ..storage.keycheck import open_vault

        engine = await open_db(settings)
        try:
            vault = await open_vault(settings, engine)
            async with Runtime(settings) as runtime, session_factory(engine)() as db:
                terminal = TerminalLogin(is_interactive(None), None)
                return await diagnose_account(
                    db,
                    None,
                    account_id,
                    runtime=runtime,
                    vault=vault,
                    login=login,
                    answer=terminal.answer if terminal.interactive else None,
                )
        finally:
            await engine.dispose()

    result = run(diagnose())
    target = out or Path(result.filename)
    target.write_bytes(result.content)
    summary = result.har["log"]["comment"]
    typer.echo(f"Записано / written: {target}")
    typer.echo(f"Итог / outcome: {result.outcome}")
    typer.echo(summary)
    if result.report_url:
        typer.echo(f"Сообщить автору плагина / report it at: {result.report_url}")


@accounts_app.command("remove")
def accounts_remove(
    account_id: Annotated[int, typer.Argument(help="Номер счёта / account id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Без вопроса / do not ask.")] = False,
) -> None:
    """Удалить счёт с его историей / Remove an account and its history."""
    from ..services import accounts as service

    settings = load_settings()

    async def remove() -> None:
        async with database(settings) as db:
            found = await service.get_account(db, None, account_id)
            name = f"{found.provider_id} {found.label or found.number_masked}".strip()
            if not yes:
                typer.confirm(
                    f"Удалить {name} со всей историей? / remove it with its history?", abort=True
                )
            await service.remove_account(db, None, account_id)

    run(remove())
    typer.echo(f"Удалён / removed: {account_id}")
