"""How to read the Bashtel cabinet's pages: pure functions from HTML text to contract models.

No I/O here (woob's ``pages.py``): every function takes the page text and returns models or
raises :class:`~aggregator.ParseError` with the page redacted, so a changed page never becomes a
wrong balance. A page that does not end in ``</html>`` was cut short and is refused as a whole.

The cabinet marks the values a program needs with stable ids (``#balance``, ``#tariff-name``)
and machine-readable attributes (``<time datetime>``, ``data-bytes``); money is printed the
Russian way (``1 234,56 ₽``, ``-45,20 ₽``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aggregator import (
    ParseError,
    parse_amount,
    parse_date,
    parse_datetime,
    parse_int,
    parse_number,
    parse_roubles,
    reading,
)
from aggregator.core.models import (
    AccountState,
    Balance,
    BonusPoints,
    ChatAuthor,
    ChatMessage,
    ChatTopic,
    CostRule,
    Money,
    NewsItem,
    Payment,
    PaymentKind,
    Profile,
    Service,
    Suspension,
    SuspensionQuote,
    SuspensionState,
    Tariff,
    TariffCatalogue,
    TrafficStats,
)

__all__ = [
    "CabinetState",
    "DetailPage",
    "Form",
    "LoginPage",
    "PayConfirmPage",
    "SpeedTest",
    "check_complete",
    "flashes",
    "form",
    "is_login_page",
    "page",
    "parse_block",
    "parse_block_quote",
    "parse_cabinet",
    "parse_chat",
    "parse_detail",
    "parse_error_page",
    "parse_login_page",
    "parse_news",
    "parse_pay_confirm",
    "parse_payments",
    "parse_profile",
    "parse_services",
    "parse_speedtest",
    "parse_tariffs",
    "parse_traffic",
]

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")


def _text(node: LexborNode | None) -> str:
    if node is None:
        return ""
    return _SPACES.sub(" ", node.text(deep=True, separator=" ")).strip()


def _fail(message: str, html: str) -> ParseError:
    return ParseError(f"bashtel: {message}", payload=html)


def check_complete(html: str) -> None:
    """Refuse a page that was cut short (a truncated body must never be half-read)."""
    if not html[-64:].rstrip().lower().endswith("</html>"):
        raise _fail("the page is incomplete (truncated body)", html)


def page(html: str) -> LexborHTMLParser:
    """Parse a whole page, refusing truncated ones."""
    check_complete(html)
    return LexborHTMLParser(html)


def _required(tree: LexborHTMLParser, selector: str, html: str) -> LexborNode:
    node = tree.css_first(selector)
    if node is None:
        raise _fail(f"the page lacks {selector}", html)
    return node


def _money_node(tree: LexborHTMLParser, selector: str, html: str) -> Money:
    return parse_roubles(_text(_required(tree, selector, html)), payload=html)


def _time_attr(node: LexborNode | None, html: str) -> str:
    if node is None or not node.attributes.get("datetime"):
        raise _fail("a <time> element lacks its datetime", html)
    return node.attributes["datetime"] or ""


# -- forms and messages ---------------------------------------------------------------------
@dataclass(frozen=True)
class Form:
    """An HTML form as the browser would submit it: its action and its preset fields."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict, repr=False)


def form(html: str, selector: str, tree: LexborHTMLParser | None = None) -> Form:
    """The form at ``selector`` with its hidden and preset fields (CSRF token included)."""
    tree = tree or page(html)
    node = _required(tree, selector, html)
    if node.tag != "form":
        raise _fail(f"{selector} is not a form", html)
    fields: dict[str, str] = {}
    for item in node.css("input"):
        name = item.attributes.get("name")
        if not name:
            continue
        kind = (item.attributes.get("type") or "text").lower()
        if kind in ("radio", "checkbox") and "checked" not in item.attributes:
            continue
        fields[name] = item.attributes.get("value") or ""
    for select in node.css("select"):
        name = select.attributes.get("name")
        if not name:
            continue
        chosen = select.css_first("option[selected]") or select.css_first("option")
        fields[name] = (chosen.attributes.get("value") or "") if chosen is not None else ""
    return Form(
        action=node.attributes.get("action") or "",
        method=(node.attributes.get("method") or "get").lower(),
        fields=fields,
    )


def flashes(html: str, tree: LexborHTMLParser | None = None) -> list[tuple[str, str]]:
    """The cabinet's messages at the top of a page: (kind, text), kind success|error|info."""
    tree = tree or page(html)
    out: list[tuple[str, str]] = []
    for node in tree.css("main .lk-alert"):
        classes = (node.attributes.get("class") or "").split()
        kind = next((c.split("--", 1)[1] for c in classes if c.startswith("lk-alert--")), "info")
        if node.attributes.get("id") in {"suspension-note", "pending-tariff", "login-notice"}:
            continue
        out.append((kind, _text(node)))
    return out


def is_login_page(html: str) -> bool:
    """True for the login form (what an expired session gets instead of the page asked for)."""
    return 'id="login-form"' in html


def parse_error_page(html: str) -> str | None:
    """The message of the cabinet's own error page, or None when this is not one."""
    if 'id="error-page"' not in html:
        return None
    tree = LexborHTMLParser(html)
    node = tree.css_first("#error-page .lk-error__text")
    return _text(node) or _text(tree.css_first("#error-page h1")) or "error"


# -- login ----------------------------------------------------------------------------------
LoginError = Literal["invalid_credentials", "captcha", "locked", "other"] | None


@dataclass(frozen=True)
class LoginPage:
    """What the login form says: an error, and whether it wants a captcha."""

    captcha: bool
    captcha_src: str | None
    error: LoginError
    message: str


def parse_login_page(html: str) -> LoginPage:
    tree = page(html)
    _required(tree, "form#login-form", html)
    image = tree.css_first("#captcha-image")
    error_node = tree.css_first("#login-error")
    message = _text(error_node)
    error: LoginError = None
    if error_node is not None:
        code = (error_node.attributes.get("data-code") or "").lower()
        lowered = message.lower()
        if code == "invalid_credentials" or "неверный логин" in lowered:
            error = "invalid_credentials"
        elif code == "account_locked" or "заблокирован" in lowered:
            error = "locked"
        elif code.startswith("captcha") or "картинк" in lowered:
            error = "captcha"
        else:
            error = "other"
    return LoginPage(
        captcha=image is not None,
        captcha_src=image.attributes.get("src") if image is not None else None,
        error=error,
        message=message,
    )


# -- the account state (one request per poll) -----------------------------------------------
@dataclass(frozen=True)
class CabinetState:
    balance: Balance
    account_number: str
    full_name: str
    tariff_name: str
    state: AccountState
    suspension_end: dt.date | None
    address: str = ""
    # «Важные сообщения» on the cabinet's page: the operator's maintenance notices
    notices: tuple[NewsItem, ...] = ()


_STATUS_WORDS: tuple[tuple[str, AccountState], ...] = (
    ("добровольн", AccountState.SUSPENDED),
    ("закрыт", AccountState.CLOSED),
    ("растор", AccountState.CLOSED),
    ("заблокирован", AccountState.BLOCKED),
    ("приостановлен", AccountState.BLOCKED),
    ("актив", AccountState.ACTIVE),
    ("действ", AccountState.ACTIVE),
)


def account_state(status_text: str) -> AccountState:
    lowered = status_text.lower()
    for word, state in _STATUS_WORDS:
        if word in lowered:
            return state
    return AccountState.UNKNOWN


def _ids(tree: LexborHTMLParser) -> dict[str, LexborNode]:
    """Every element with an id, by id: one pass instead of a selector per value."""
    return {node.attributes.get("id") or "": node for node in tree.css("[id]")}


_POINTS = re.compile(r"балл|point", re.I)
_POINTS_NUMBER = re.compile(r"-?\d[\d\s\u00a0\u202f]*(?:[.,]\d+)?")


def _bonus(text: str, html: str) -> Money | BonusPoints:
    """``#bonus-balance``: roubles («350,00 ₽») as money; a count of points («1 250 баллов»)
    as points, never as roubles."""
    if not _POINTS.search(text):
        return parse_roubles(text, payload=html)
    found = _POINTS_NUMBER.search(text)
    if found is None:
        raise _fail(f"a bonus in points without a number: {text!r}", html)
    return BonusPoints(points=parse_number(found[0], payload=html))


def parse_cabinet(html: str, now: dt.datetime | None = None) -> CabinetState:
    """The «Состояние лицевого счёта» page: balance, tariff, status, next charge.

    This is the page every poll reads, so it parses only the account's section and looks its
    values up by id in one pass.
    """
    check_complete(html)
    start = html.find('id="account-state"')
    end = html.find("</section>", start)
    if start < 0 or end < 0:
        raise _fail("the page lacks #account-state", html)
    start = html.rfind("<section", 0, start)
    ids = _ids(LexborHTMLParser(html[start : end + len("</section>")]))

    def node(name: str) -> LexborNode:
        found = ids.get(name)
        if found is None:
            raise _fail(f"the page lacks #{name}", html)
        return found

    def money(name: str) -> Money:
        return parse_roubles(_text(node(name)), payload=html)

    node("account-state")
    amount = money("balance")
    credit = money("credit-limit") if "credit-limit" in ids else None
    bonus = _bonus(_text(node("bonus-balance")), html) if "bonus-balance" in ids else None
    as_of_node = ids.get("as-of")
    as_of = (
        parse_datetime(_time_attr(as_of_node, html), payload=html)
        if as_of_node is not None
        else (now or dt.datetime.now(dt.UTC))
    )
    next_date = next_amount = None
    next_node = ids.get("next-charge")
    if next_node is not None:
        next_amount = parse_roubles(_text(next_node.css_first(".money")), payload=html)
        next_date = parse_date(_time_attr(next_node.css_first("time"), html), payload=html)
    tariff_name = _text(node("tariff-name"))
    number = _text(node("account-number"))
    if not tariff_name or not number:
        raise _fail("the tariff or the account number is empty", html)
    state = account_state(_text(node("account-status")))
    suspension_end = None
    note = ids.get("suspension-note")
    if note is not None:
        suspension_end = parse_date(
            _time_attr(note.css_first(".suspension-end"), html), payload=html
        )
    return CabinetState(
        balance=Balance(
            amount=amount,
            as_of=as_of,
            credit_limit=credit,
            bonus=bonus,
            next_charge_date=next_date,
            next_charge_amount=next_amount,
        ),
        account_number=number,
        full_name=_text(ids.get("subscriber-name")),
        tariff_name=tariff_name,
        state=state,
        suspension_end=suspension_end,
        address=_text(ids.get("account-address")),
        notices=_cabinet_notices(html),
    )


def _cabinet_notices(html: str) -> tuple[NewsItem, ...]:
    """«Важные сообщения» (``section.notices``): each a link to its news item, whose id is the
    link's ``#news-<id>``; the cabinet lists only maintenance works there (the seed, line 60:
    «узнавать ... о грядущих профилактических работах»; the section itself is assumed)."""
    start = html.find('class="notices"')
    if start < 0:
        return ()
    end = html.find("</section>", start)
    items = []
    for link in LexborHTMLParser(html[start:end]).css("li a"):
        title = _text(link)
        href = link.attributes.get("href") or ""
        news_id = href.partition("#news-")[2] or title
        if title:
            items.append(NewsItem(id=news_id, title=title, kind="maintenance"))
    return tuple(items)


# -- tariffs and services -------------------------------------------------------------------
def _tariff(node: LexborNode, html: str) -> Tariff:
    tariff_id = node.attributes.get("data-tariff-id")
    name = _text(node.css_first(".tariff__name"))
    price_node = node.css_first(".tariff__price .money")
    if not tariff_id or not name or price_node is None:
        raise _fail("a tariff lacks its id, name or price", html)
    return Tariff(
        id=tariff_id,
        name=name,
        price=parse_roubles(_text(price_node), payload=html),
        period="month",
        description=_text(node.css_first(".tariff__desc")),
    )


def parse_tariffs(html: str) -> TariffCatalogue:
    """The tariff page: the current plan, a change ordered for the next period, the catalogue."""
    tree = page(html)
    current = _tariff(_required(tree, "#current-tariff .tariff--current", html), html)
    catalogue_node = _required(tree, "#tariff-catalogue", html)
    available = [_tariff(node, html) for node in catalogue_node.css("li.tariff")]
    pending = pending_from = None
    pending_node = tree.css_first("#pending-tariff")
    if pending_node is not None:
        pending_id = pending_node.attributes.get("data-tariff-id") or ""
        pending_from = parse_date(_time_attr(pending_node.css_first("time"), html), payload=html)
        found = next((t for t in available if t.id == pending_id), None)
        pending = found or Tariff(
            id=pending_id, name=_text(pending_node.css_first(".tariff__name")), price=None
        )
    return TariffCatalogue(
        current=current, available=available, pending=pending, pending_from=pending_from
    )


def parse_services(html: str) -> list[Service]:
    tree = page(html)
    table = _required(tree, "#services-table", html)
    services: list[Service] = []
    for row in table.css("tr.service"):
        service_id = row.attributes.get("data-service-id")
        name = _text(row.css_first(".service__name"))
        state = _text(row.css_first(".service__state")).lower()
        price_node = row.css_first(".service__price .money")
        if not service_id or not name or not state or price_node is None:
            raise _fail("a service row lacks its id, name, state or price", html)
        services.append(
            Service(
                id=service_id,
                name=name,
                enabled=not state.startswith("не "),
                price=parse_roubles(_text(price_node), payload=html),
                period="month",
                description=_text(row.css_first(".service__desc")),
                can_toggle=row.css_first("form") is not None,
            )
        )
    return services


# -- voluntary block ------------------------------------------------------------------------
def _cost_rule(node: LexborNode, html: str) -> CostRule:
    free = (node.attributes.get("data-free-days") or "").strip()
    fee = (node.attributes.get("data-daily-fee") or "").strip()
    free_days = parse_int(free, payload=html) if free else None
    daily = parse_roubles(fee, payload=html) if fee else None
    return CostRule(free_days=free_days, daily_fee=daily, description=_text(node))


_BLOCK_STATES = {
    "none": SuspensionState.ACTIVE,
    "requested": SuspensionState.REQUESTED,
    "scheduled": SuspensionState.SCHEDULED,
    "active": SuspensionState.SUSPENDED,
}


def parse_block(html: str) -> Suspension:
    """The voluntary-block page: its state, dates and cost rule."""
    tree = page(html)
    section = _required(tree, "#block-state", html)
    state = _BLOCK_STATES.get(section.attributes.get("data-state") or "")
    if state is None:
        raise _fail("unknown voluntary block state", html)
    start = end = None
    if state is not SuspensionState.ACTIVE:
        start = parse_date(_time_attr(tree.css_first("#block-start"), html), payload=html)
        end = parse_date(_time_attr(tree.css_first("#block-end"), html), payload=html)
    limits = tree.css_first("#block-limits")
    max_days = None
    if limits is not None and (limits.attributes.get("data-max-days") or "").isdigit():
        max_days = int(limits.attributes["data-max-days"] or 0)
    return Suspension(
        state=state,
        start=start,
        end=end,
        cost_rule=_cost_rule(_required(tree, "#block-cost", html), html),
        max_days=max_days,
    )


def _int(tree: LexborHTMLParser, selector: str, html: str) -> int:
    return parse_int(_text(_required(tree, selector, html)), payload=html)


def parse_block_quote(html: str) -> SuspensionQuote:
    """The confirmation page of a block: what it costs, shown before the user confirms."""
    tree = page(html)
    _required(tree, "#block-quote", html)
    quote = SuspensionQuote(
        start=parse_date(_time_attr(tree.css_first("#quote-start"), html), payload=html),
        end=parse_date(_time_attr(tree.css_first("#quote-end"), html), payload=html),
        days=_int(tree, "#quote-days", html),
        free_days=_int(tree, "#quote-free-days", html),
        paid_days=_int(tree, "#quote-paid-days", html),
        total=_money_node(tree, "#quote-total", html),
        cost_rule=_cost_rule(_required(tree, "#quote-rule", html), html),
    )
    if quote.free_days + quote.paid_days != quote.days:
        raise _fail("the quote's days do not add up", html)
    return quote


# -- usage, speed, reports ------------------------------------------------------------------
def _bytes(node: LexborNode | None, html: str) -> int:
    raw = (node.attributes.get("data-bytes") if node is not None else None) or ""
    if not raw.isdigit():
        raise _fail("a traffic figure lacks its byte count", html)
    return int(raw)


def parse_traffic(html: str) -> TrafficStats:
    tree = page(html)
    table = _required(tree, "#traffic-table", html)
    return TrafficStats(
        period_start=parse_date(table.attributes.get("data-period-start"), payload=html),
        period_end=parse_date(table.attributes.get("data-period-end"), payload=html),
        downloaded_bytes=_bytes(tree.css_first("#traffic-down"), html),
        uploaded_bytes=_bytes(tree.css_first("#traffic-up"), html),
    )


@dataclass(frozen=True)
class SpeedTest:
    """A speed test measured by the cabinet (Mbit/s and milliseconds)."""

    tariff_mbps: int
    down_mbps: Decimal | None = None
    up_mbps: Decimal | None = None
    ping_ms: int | None = None
    measured_at: dt.datetime | None = None


def parse_speedtest(html: str) -> SpeedTest:
    tree = page(html)
    tariff = _required(tree, "#speed-tariff", html).attributes.get("data-mbps") or ""
    if not tariff.isdigit():
        raise _fail("the tariff speed is unreadable", html)
    result = tree.css_first("#speed-result")
    if result is None:
        return SpeedTest(tariff_mbps=int(tariff))
    with reading(html, "speed test"):
        down = parse_number(_required(tree, "#speed-down", html).attributes.get("data-mbps"))
        up = parse_number(_required(tree, "#speed-up", html).attributes.get("data-mbps"))
        ping = parse_int(_required(tree, "#speed-ping", html).attributes.get("data-ms"))
    return SpeedTest(
        tariff_mbps=int(tariff),
        down_mbps=down,
        up_mbps=up,
        ping_ms=ping,
        measured_at=parse_datetime(result.attributes.get("data-measured-at"), payload=html),
    )


@dataclass(frozen=True)
class DetailPage:
    """The spending detail of one billing period, with its download links."""

    period_start: dt.date
    period_end: dt.date
    periods: list[str]
    pdf_href: str
    xlsx_href: str
    charged: Decimal
    paid: Decimal


def parse_detail(html: str) -> DetailPage:
    tree = page(html)
    table = _required(tree, "#detail-table", html)
    pdf = _required(tree, "#export-pdf", html).attributes.get("href")
    xlsx = _required(tree, "#export-xlsx", html).attributes.get("href")
    if not pdf or not xlsx:
        raise _fail("the detail page lacks its download links", html)
    return DetailPage(
        period_start=parse_date(table.attributes.get("data-period-start"), payload=html),
        period_end=parse_date(table.attributes.get("data-period-end"), payload=html),
        periods=[o.attributes.get("value") or "" for o in tree.css("#period option")],
        pdf_href=pdf,
        xlsx_href=xlsx,
        charged=parse_amount(_text(_required(tree, "#detail-charged", html)), payload=html),
        paid=parse_amount(_text(_required(tree, "#detail-paid", html)), payload=html),
    )


# -- payments -------------------------------------------------------------------------------
def parse_payments(html: str) -> list[Payment]:
    tree = page(html)
    table = _required(tree, "#payments-table", html)
    payments: list[Payment] = []
    for row in table.css("tr.payment"):
        payment_id = row.attributes.get("data-id")
        amount_node = row.css_first(".payment__amount")
        if not payment_id or amount_node is None:
            raise _fail("a payment row lacks its id or amount", html)
        amount = parse_amount(_text(amount_node), payload=html)
        payments.append(
            Payment(
                id=payment_id,
                at=parse_datetime(_time_attr(row.css_first("time"), html), payload=html),
                amount=Money.rub(abs(amount)),
                kind=PaymentKind.CHARGE if amount < 0 else PaymentKind.PAYMENT,
                description=_text(row.css_first(".payment__desc")),
            )
        )
    return payments


@dataclass(frozen=True)
class PayConfirmPage:
    """The page asking for the code that confirms a top-up."""

    amount: Decimal
    channel: str
    masked_destination: str
    code_length: int | None
    error: str | None


def parse_pay_confirm(html: str) -> PayConfirmPage:
    tree = page(html)
    _required(tree, "#pay-confirm", html)
    sent = _required(tree, "#code-sent", html)
    form_node = _required(tree, "#pay-confirm-form", html)
    code_input = form_node.css_first("input[name=code]")
    ticket = form_node.css_first("input[name=ticket]")
    if code_input is None or ticket is None:
        raise _fail("the confirmation form lacks its fields", html)
    length = code_input.attributes.get("maxlength") or ""
    errors = [text for kind, text in flashes(html, tree) if kind == "error"]
    return PayConfirmPage(
        amount=parse_amount(_text(_required(tree, "#pay-amount", html)), payload=html),
        channel=sent.attributes.get("data-channel") or "sms",
        masked_destination=_text(_required(tree, "#code-destination", html)),
        code_length=int(length) if length.isdigit() else None,
        error=errors[0] if errors else None,
    )


# -- chat, news, profile --------------------------------------------------------------------
_AUTHORS = {"user": ChatAuthor.USER, "bot": ChatAuthor.BOT, "agent": ChatAuthor.AGENT}


def parse_chat(html: str) -> tuple[list[ChatTopic], list[ChatMessage]]:
    """The support page: the topics one may write on and the whole conversation."""
    tree = page(html)
    log = _required(tree, "#chat-log", html)
    topics = [
        ChatTopic(id=o.attributes.get("value") or "", title=_text(o))
        for o in tree.css("#chat-form select[name=topic] option")
    ]
    if not topics or any(not t.id for t in topics):
        raise _fail("the chat form lacks its topics", html)
    messages: list[ChatMessage] = []
    for node in log.css("li.chat-msg"):
        classes = (node.attributes.get("class") or "").split()
        author = next(
            (_AUTHORS[c.split("--", 1)[1]] for c in classes if c.split("--", 1)[-1] in _AUTHORS),
            None,
        )
        message_id = node.attributes.get("data-id")
        if author is None or not message_id:
            raise _fail("a chat message lacks its author or id", html)
        messages.append(
            ChatMessage(
                id=message_id,
                topic_id=node.attributes.get("data-topic") or None,
                author=author,
                text=_text(node.css_first(".chat-msg__text")),
                sent_at=parse_datetime(_time_attr(node.css_first("time"), html), payload=html),
                author_name=_text(node.css_first(".chat-msg__author")) or None,
            )
        )
    return topics, messages


_NEWS_KINDS: dict[str, Literal["news", "offer", "maintenance"]] = {
    "news": "news",
    "offer": "offer",
    "maintenance": "maintenance",
}


def parse_news(html: str) -> list[NewsItem]:
    tree = page(html)
    items: list[NewsItem] = []
    for node in tree.css("article.news"):
        classes = (node.attributes.get("class") or "").split()
        kinds = [c.removeprefix("news--") for c in classes if c.startswith("news--")]
        kind = next((_NEWS_KINDS[k] for k in kinds if k in _NEWS_KINDS), "news")
        news_id = node.attributes.get("data-id")
        title = _text(node.css_first(".news__title"))
        if not news_id or not title:
            raise _fail("a news item lacks its id or title", html)
        time_node = node.css_first("time")
        items.append(
            NewsItem(
                id=news_id,
                title=title,
                text=_text(node.css_first(".news__text")),
                published=parse_date(_time_attr(time_node, html), payload=html)
                if time_node
                else None,
                kind=kind,
            )
        )
    if not items and tree.css_first(".news-empty") is None:
        raise _fail("the news page has neither news nor its empty note", html)
    return items


def parse_profile(html: str) -> Profile:
    tree = page(html)
    _required(tree, "#profile", html)

    def value(selector: str) -> str | None:
        return _text(_required(tree, selector, html)) or None

    return Profile(
        full_name=value("#profile-name"),
        account_number=value("#profile-account"),
        address=value("#profile-address"),
        phone=value("#profile-phone"),
        email=value("#profile-email"),
    )


def redacted(error: ParseError, secrets: Iterable[str]) -> ParseError:
    """The same ParseError with known secret values (cookies) also removed from its payload."""
    return ParseError(error.message, payload=error.payload, secrets=secrets)
