"""``aggregator tariffs``, ``tariff set``, ``services``, ``service on|off``, ``suspend``,
``resume`` and ``top-up``: what the account page does, at a terminal or from a script.

Each command is an adapter over :class:`~aggregator.services.operations.AccountOperations`:
the same calls, audit records and code confirmations as the dashboard. ``--json`` prints
the operator's answer as JSON; a code is read as :mod:`.operator` describes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import app
from .base import console, fail, is_interactive, new_typer, print_json
from .operator import (
    AccountArg,
    Assumed,
    CodeEnvOption,
    Codes,
    CodeStdinOption,
    ConfirmAssumedOption,
    JsonOption,
    Operating,
    change,
    parse_day,
    read,
)

if TYPE_CHECKING:
    from ..core.models import Money
    from ..services.operations import Done

__all__ = ["service_app", "tariff_app"]

tariff_app = new_typer("Смена тарифа / Change the tariff.")
service_app = new_typer("Включить или выключить услугу / Switch a service on or off.")
app.add_typer(tariff_app, name="tariff")
app.add_typer(service_app, name="service")

YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Без вопроса / do not ask for a confirmation.")
]
ServiceArg = Annotated[str, typer.Argument(help="Услуга / service id (aggregator services ID).")]


def _money(value: Money | None) -> str:
    if value is None:
        return "—"
    from ..i18n import format_money

    return format_money(value.amount, value.currency, "ru")


def _codes(code_env: str | None, code_stdin: bool) -> Codes:
    return Codes(env=code_env, stdin=code_stdin, interactive=is_interactive(None))


def _done(outcome: Done[Any] | None, as_json: bool, text: str) -> None:
    if outcome is None:
        typer.echo("Отменено / cancelled")
        raise typer.Exit(1)
    if as_json:
        print_json(
            {
                "status": "done",
                "operation": outcome.operation,
                "args": outcome.args,
                "result": outcome.result.model_dump(mode="json"),
            }
        )
        return
    date = getattr(outcome.result, "effective_date", None)
    when = f" (с {date:%d.%m.%Y} / from {date.isoformat()})" if isinstance(date, dt.date) else ""
    typer.echo(text + when)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column in ("id", "price"))
    for row in rows:
        table.add_row(*row)
    console().print(table)


# -- tariffs -------------------------------------------------------------------------------


@app.command("tariffs")
def tariffs(account_id: AccountArg, as_json: JsonOption = False) -> None:
    """Тариф и доступные тарифы / The current and the available tariffs."""
    catalogue = read(account_id, lambda w: w.ops.tariffs(w.db, w.account))
    if as_json:
        print_json(catalogue.model_dump(mode="json"))
        return
    typer.echo(f"Текущий / current: {catalogue.current.name} [{catalogue.current.id}]")
    if catalogue.pending is not None:
        when = f" с {catalogue.pending_from}" if catalogue.pending_from else ""
        typer.echo(f"Заказан / ordered: {catalogue.pending.name}{when}")
    _table(
        "Доступные тарифы / available tariffs",
        ("id", "name", "price", "period"),
        [(t.id, t.name, _money(t.price), t.period or "") for t in catalogue.available],
    )


@tariff_app.command("set")
def tariff_set(
    account_id: AccountArg,
    tariff_id: Annotated[str, typer.Argument(help="Тариф / tariff id (aggregator tariffs ID).")],
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    confirm_assumed: ConfirmAssumedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Сменить тариф (с кодом, если оператор пришлёт) / Change the tariff (answering a code)."""
    outcome = change(
        account_id,
        _codes(code_env, code_stdin),
        lambda w: w.ops.change_tariff(w.db, w.account, tariff_id, user_id=None),
        assumed=Assumed("change_tariff", confirm_assumed),
    )
    _done(outcome, as_json, f"Тариф сменён / tariff changed: {tariff_id}")


# -- services ------------------------------------------------------------------------------


@app.command("services")
def services(account_id: AccountArg, as_json: JsonOption = False) -> None:
    """Услуги и их цены / Services, their prices and whether they are on."""
    found = read(account_id, lambda w: w.ops.services(w.db, w.account))
    if as_json:
        print_json([s.model_dump(mode="json") for s in found])
        return
    _table(
        "Услуги / services",
        ("id", "name", "on", "price", "period"),
        [
            (
                s.id,
                s.name,
                ("вкл / on" if s.enabled else "выкл / off") + ("" if s.can_toggle else " 🔒"),
                _money(s.price),
                s.period or "",
            )
            for s in found
        ],
    )


def _toggle(
    account_id: int,
    service_id: str,
    enabled: bool,
    codes: Codes,
    as_json: bool,
    confirmed: bool = False,
) -> None:
    outcome = change(
        account_id,
        codes,
        lambda w: w.ops.set_service(w.db, w.account, service_id, enabled, user_id=None),
        assumed=Assumed("set_service", confirmed, enabling=enabled),
    )
    state = "включена / on" if enabled else "выключена / off"
    _done(outcome, as_json, f"Услуга {service_id} {state}")


@service_app.command("on")
def service_on(
    account_id: AccountArg,
    service_id: ServiceArg,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    confirm_assumed: ConfirmAssumedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Включить услугу / Switch a service on."""
    _toggle(account_id, service_id, True, _codes(code_env, code_stdin), as_json, confirm_assumed)


@service_app.command("off")
def service_off(
    account_id: AccountArg,
    service_id: ServiceArg,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Выключить услугу / Switch a service off."""
    _toggle(account_id, service_id, False, _codes(code_env, code_stdin), as_json)


# -- suspension ----------------------------------------------------------------------------


@app.command("suspend")
def suspend(
    account_id: AccountArg,
    start: Annotated[str, typer.Option("--from", help="С / first day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="По / last day, YYYY-MM-DD.")],
    yes: YesOption = False,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    confirm_assumed: ConfirmAssumedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Добровольная блокировка: сначала цена / Suspend the account, its cost shown first."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    asking = is_interactive(None)

    async def cost_first(work: Operating) -> bool:
        quote = await work.ops.quote_suspension(work.db, work.account, first, last)
        typer.echo(
            f"Блокировка {quote.start:%d.%m.%Y}–{quote.end:%d.%m.%Y}: {quote.days} дн., "
            f"бесплатно {quote.free_days}, платно {quote.paid_days}; "
            f"стоимость {_money(quote.total)} / "
            f"{quote.days} days, {quote.free_days} free, {quote.paid_days} paid; "
            f"cost {_money(quote.total)}",
            err=as_json,
        )
        if yes:
            return True
        if not asking:
            fail("подтвердите стоимость: --yes / confirm the cost with --yes")
        return bool(typer.confirm("Заблокировать? / suspend?", default=False))

    outcome = change(
        account_id,
        _codes(code_env, code_stdin),
        lambda w: w.ops.suspend(w.db, w.account, first, last, user_id=None),
        before=cost_first,
        assumed=Assumed("suspend", confirm_assumed),
    )
    state = getattr(outcome.result, "state", "") if outcome else ""
    _done(outcome, as_json, f"Блокировка / suspension: {state} {first}..{last}")


@app.command("resume")
def resume(
    account_id: AccountArg,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Снять добровольную блокировку / End the voluntary suspension."""
    outcome = change(
        account_id,
        _codes(code_env, code_stdin),
        lambda w: w.ops.resume(w.db, w.account, user_id=None),
    )
    state = getattr(outcome.result, "state", "") if outcome else ""
    _done(outcome, as_json, f"Блокировка снята / resumed: {state}")


# -- payments ------------------------------------------------------------------------------


@app.command("top-up")
def top_up(
    account_id: AccountArg,
    amount: Annotated[
        str, typer.Argument(help="Сумма в рублях / amount in roubles (500 or 500,50).")
    ],
    yes: YesOption = False,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    confirm_assumed: ConfirmAssumedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Пополнить баланс / Top up the balance."""
    try:
        value = Decimal(amount.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    except InvalidOperation:
        fail(f"сумма в рублях / an amount in roubles, not {amount!r}")
    if not yes and is_interactive(None):
        from ..i18n import format_money

        typer.confirm(f"Пополнить на {format_money(value, 'RUB', 'ru')}? / top up?", abort=True)
    outcome = change(
        account_id,
        _codes(code_env, code_stdin),
        lambda w: w.ops.top_up(w.db, w.account, value, user_id=None),
        assumed=Assumed("top_up", confirm_assumed),
    )
    paid = ""
    if outcome is not None:
        # A payment the operator confirmed by a code may come back as a plain OperationResult
        # (no payment record): then the amount asked for is what was paid.
        payment = getattr(outcome.result, "payment", None)
        balance = getattr(outcome.result, "balance", None)
        if payment is not None:
            paid = _money(payment.amount)
        else:
            from ..i18n import format_money

            paid = format_money(value, "RUB", "ru")
        paid += f"; баланс / balance {_money(balance)}" if balance is not None else ""
    _done(outcome, as_json, f"Оплачено / paid: {paid}")


@app.command("trusted-payment")
def trusted_payment(
    account_id: AccountArg,
    take: Annotated[
        str | None,
        typer.Option(
            "--take",
            help="Взять доверительный платёж на эту сумму / take a trusted payment of this "
            "amount (500 or 500,50); without it the offer and the debt are shown.",
        ),
    ] = None,
    yes: YesOption = False,
    code_env: CodeEnvOption = None,
    code_stdin: CodeStdinOption = False,
    confirm_assumed: ConfirmAssumedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Доверительный платёж / Trusted payment: credit now, charged back by its due date."""
    if take is None:
        state = read(account_id, lambda w: w.ops.trusted_payment(w.db, w.account))
        if as_json:
            print_json(state.model_dump(mode="json"))
            return
        if state.owed:
            due = f"{state.due_date:%d.%m.%Y}" if state.due_date else "—"
            typer.echo(f"Долг / debt: {_money(state.debt)}; вернуть до / due: {due}")
        if not state.available:
            typer.echo(f"Недоступен / not available. {state.reason}".rstrip())
            return
        offers = [_money(option.amount) for option in state.options]
        if state.min_amount is not None or state.max_amount is not None:
            offers.append(f"{_money(state.min_amount)} … {_money(state.max_amount)}")
        typer.echo("Можно взять / on offer: " + ", ".join(offers))
        if state.fee is not None:
            typer.echo(f"Комиссия / fee: {_money(state.fee)}")
        if state.days is not None:
            typer.echo(f"Срок, дней / term, days: {state.days}")
        return
    try:
        value = Decimal(take.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    except InvalidOperation:
        fail(f"сумма в рублях / an amount in roubles, not {take!r}")
    if not yes and is_interactive(None):
        from ..i18n import format_money

        typer.confirm(
            f"Взять доверительный платёж {format_money(value, 'RUB', 'ru')}? "
            "/ take a trusted payment?",
            abort=True,
        )
    outcome = change(
        account_id,
        _codes(code_env, code_stdin),
        lambda w: w.ops.take_trusted_payment(w.db, w.account, value, user_id=None),
        assumed=Assumed("take_trusted_payment", confirm_assumed),
    )
    text = ""
    if outcome is not None:
        result = outcome.result
        text = (
            f"{_money(result.amount)}; долг / debt {_money(result.debt)} "
            f"до / due {result.due_date:%d.%m.%Y}"
        )
    _done(outcome, as_json, f"Доверительный платёж / trusted payment: {text}")
