"""What an alert says, in Russian and English: subject, headline, facts, advice.

The templates in ``templates/`` lay these out as text and HTML; the words live here, next to
the number formatting of :mod:`aggregator.i18n`, so a subject "says it all", for example
``Билайн +7 903 ***-**-67: на счёте 45,20 ₽, хватит на 2 дня``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..i18n import (
    format_bytes,
    format_date,
    format_days,
    format_minutes,
    format_money_minor,
    normalise_lang,
)
from .rules import AlertKind

__all__ = ["AlertView", "MessageParts", "compose"]


@dataclass(frozen=True)
class AlertView:
    """Everything a message about one episode needs (no secrets: a masked number at most)."""

    kind: AlertKind
    account_id: int
    provider_name: str
    number: str
    label: str
    details: Mapping[str, Any]
    link: str
    settings_link: str
    household_name: str = ""
    reminder: bool = False

    @property
    def account_title(self) -> str:
        return " ".join(p for p in (self.provider_name, self.number or self.label) if p)


@dataclass(frozen=True)
class MessageParts:
    subject: str
    headline: str
    facts: list[str] = field(default_factory=list)
    advice: str = ""
    open_label: str = ""
    footer: str = ""
    lang: str = "ru"


def _date(value: Any, lang: str) -> str | None:
    if not value:
        return None
    try:
        return format_date(dt.date.fromisoformat(str(value)), lang)
    except ValueError:
        return None


def _money(details: Mapping[str, Any], key: str, lang: str) -> str | None:
    value = details.get(key)
    if value is None:
        return None
    return format_money_minor(int(value), str(details.get("currency") or "RUB"), lang)


def _lasts(days_left: int | None, lang: str) -> str | None:
    if days_left is None:
        return None
    if lang == "en":
        return (
            "less than a day left"
            if days_left <= 0
            else f"enough for {format_days(days_left, lang)}"
        )
    return (
        "хватит меньше чем на день"
        if days_left <= 0
        else f"хватит на {format_days(days_left, lang)}"
    )


def _money_alert(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    d = view.details
    amount = _money(d, "amount_minor", lang) or "?"
    threshold = _money(d, "threshold_minor", lang)
    daily = _money(d, "daily_spend_minor", lang)
    charge = _money(d, "next_charge_minor", lang)
    charge_on = _date(d.get("next_charge_date"), lang)
    runs_out_on = _date(d.get("runs_out_on"), lang)
    days_left = d.get("days_left")
    lasts = _lasts(days_left, lang)
    negative = int(d.get("amount_minor") or 0) <= 0
    en = lang == "en"
    if en:
        balance = f"balance {amount}"
        if negative:
            tail = "top up now"
        elif lasts:
            tail = lasts
        elif threshold:
            tail = f"below {threshold}"
        else:
            tail = "running low"
        subject = f"{view.account_title}: {balance}, {tail}"
        headline = "The balance is below zero" if negative else "The balance is running low"
        facts = [f"Balance: {amount}" + (f" (alert below {threshold})" if threshold else "")]
        if daily:
            facts.append(f"Average spend: {daily} a day")
        if lasts and runs_out_on and not negative:
            facts.append(f"At this rate it lasts until {runs_out_on}")
        if charge and charge_on:
            facts.append(f"Next charge: {charge} on {charge_on}")
        advice = "Top up the account so its services are not blocked."
    else:
        balance = f"на счёте {amount}"
        if negative:
            tail = "пополните счёт"
        elif lasts:
            tail = lasts
        elif threshold:
            tail = f"меньше {threshold}"
        else:
            tail = "деньги заканчиваются"
        subject = f"{view.account_title}: {balance}, {tail}"
        headline = "Баланс ниже нуля" if negative else "Деньги на счёте заканчиваются"
        facts = [f"Баланс: {amount}" + (f" (порог уведомления {threshold})" if threshold else "")]
        if daily:
            facts.append(f"Средний расход: {daily} в день")
        if lasts and runs_out_on and not negative:
            facts.append(f"При таком расходе хватит до {runs_out_on}")
        if charge and charge_on:
            facts.append(f"Следующее списание: {charge}, {charge_on}")
        advice = "Пополните счёт, чтобы услуги не заблокировали."
    return subject, headline, facts, advice


def _needs_login(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    if lang == "en":
        return (
            f"{view.account_title}: please sign in again",
            "The operator asks you to sign in again",
            ["Until you do, the balance of this account is not updated."],
            "Open the account and sign in again; it takes a minute.",
        )
    return (
        f"{view.account_title}: нужно войти заново",
        "Оператор просит войти заново",
        ["Пока вы не войдёте, баланс этого счёта не обновляется."],
        "Откройте счёт и войдите заново: это займёт минуту.",
    )


def _suspension(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    end = _date(view.details.get("end"), lang) or "?"
    days_left = view.details.get("days_left")
    if lang == "en":
        facts = [f"The voluntary block ends on {end}."]
        if days_left is not None:
            facts.append(f"That is in {format_days(int(days_left), lang)}.")
        return (
            f"{view.account_title}: the voluntary block ends on {end}",
            "The voluntary block ends soon",
            facts,
            "After that the regular fee is charged again; extend the block if you are still away.",
        )
    facts = [f"Добровольная блокировка заканчивается {end}."]
    if days_left is not None:
        facts.append(f"Осталось {format_days(int(days_left), lang)}.")
    return (
        f"{view.account_title}: добровольная блокировка заканчивается {end}",
        "Добровольная блокировка скоро закончится",
        facts,
        "Потом абонентская плата начнёт списываться снова; "
        "продлите блокировку, если ещё в отъезде.",
    )


def _amount(unit: str, value: Any, lang: str) -> str:
    """A remainder in words: ``1,5 ГБ`` for bytes, ``25 минут`` for seconds."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return "?"
    return format_bytes(number, lang) if unit == "bytes" else format_minutes(number, lang)


def _remainder(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    d = view.details
    unit = str(d.get("unit") or ("bytes" if view.kind is AlertKind.LOW_DATA else "seconds"))
    rest = _amount(unit, d.get("rest"), lang)
    threshold = _amount(unit, d.get("threshold"), lang) if d.get("threshold") is not None else None
    size = _amount(unit, d.get("size"), lang) if d.get("size") is not None else None
    ends = _date(d.get("period_end"), lang)
    data = unit == "bytes"
    if lang == "en":
        what = "internet traffic" if data else "minutes"
        subject = f"{view.account_title}: {rest} of {what} left"
        headline = "The package traffic runs low" if data else "The package minutes run low"
        facts = [f"Left: {rest}" + (f" of {size}" if size else "")]
        if threshold:
            facts.append(f"Alert below {threshold}")
        if ends:
            facts.append(f"The package period ends on {ends}")
        advice = (
            "Buy more traffic or change the tariff, or the speed may drop."
            if data
            else "Buy more minutes or change the tariff, or calls will be charged."
        )
    else:
        what = "интернета" if data else "минут"
        subject = f"{view.account_title}: осталось {rest} {what}"
        headline = "Интернет в пакете заканчивается" if data else "Минуты в пакете заканчиваются"
        facts = [f"Осталось: {rest}" + (f" из {size}" if size else "")]
        if threshold:
            facts.append(f"Порог уведомления: {threshold}")
        if ends:
            facts.append(f"Период пакета заканчивается {ends}")
        advice = (
            "Подключите дополнительный трафик или смените тариф, иначе скорость могут снизить."
            if data
            else "Подключите дополнительные минуты или смените тариф, иначе звонки станут платными."
        )
    return subject, headline, facts, advice


def _trusted_payment(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    d = view.details
    due = _date(d.get("due"), lang) or "?"
    debt = _money(d, "debt_minor", lang) or "?"
    balance = _money(d, "amount_minor", lang)
    days_left = d.get("days_left")
    if lang == "en":
        facts = [f"Owed: {debt}, taken from the balance on {due}."]
        if days_left is not None:
            facts.append(f"That is in {format_days(int(days_left), lang)}.")
        if balance:
            facts.append(f"Balance now: {balance}")
        return (
            f"{view.account_title}: the trusted payment of {debt} is due on {due}",
            "The trusted payment falls due soon",
            facts,
            "Top up before then, or the services may be blocked when the debt is taken.",
        )
    facts = [f"Долг: {debt}, спишется с баланса {due}."]
    if days_left is not None:
        facts.append(f"Осталось {format_days(int(days_left), lang)}.")
    if balance:
        facts.append(f"Баланс сейчас: {balance}")
    return (
        f"{view.account_title}: доверительный платёж {debt} нужно вернуть до {due}",
        "Скоро срок доверительного платежа",
        facts,
        "Пополните счёт заранее, иначе после списания долга услуги могут заблокировать.",
    )


_NOTICE_WORDS: Mapping[AlertKind, Mapping[str, tuple[str, str]]] = {
    AlertKind.CHAT_REPLY: {
        "ru": ("ответ поддержки", "Поддержка ответила, пока вас не было"),
        "en": ("a reply from support", "Support replied while you were away"),
    },
    AlertKind.SUSPENSION_APPROVED: {
        "ru": ("блокировка подтверждена", "Оператор подтвердил добровольную блокировку"),
        "en": ("the block is approved", "The operator approved the voluntary block"),
    },
    AlertKind.MAINTENANCE: {
        "ru": ("сообщение оператора", "Оператор сообщает"),
        "en": ("a message from the operator", "A message from the operator"),
    },
}


def _notice(view: AlertView, lang: str) -> tuple[str, str, list[str], str]:
    what, headline = _NOTICE_WORDS[view.kind][lang]
    d = view.details
    title = str(d.get("title") or "").strip()
    text = str(d.get("text") or "").strip()
    facts = [f for f in (title, text[:1500]) if f]
    if lang == "en":
        advice = "Open the account to read the whole conversation."
    else:
        advice = "Откройте счёт, чтобы прочитать всю переписку."
    if view.kind is not AlertKind.CHAT_REPLY:
        advice = ""
    if view.kind is AlertKind.CHAT_REPLY:
        subject_tail = what
    elif view.kind is AlertKind.SUSPENSION_APPROVED:
        subject_tail = f"{what}, {title}" if title else what
    else:
        subject_tail = title or what
    return f"{view.account_title}: {subject_tail}"[:200], headline, facts, advice


def compose(view: AlertView, lang: str) -> MessageParts:
    """The words of the message about ``view`` in ``lang`` (``ru`` or ``en``)."""
    lang = normalise_lang(lang)
    if view.kind in (AlertKind.LOW_BALANCE, AlertKind.RUNS_OUT):
        subject, headline, facts, advice = _money_alert(view, lang)
    elif view.kind is AlertKind.NEEDS_LOGIN:
        subject, headline, facts, advice = _needs_login(view, lang)
    elif view.kind in (AlertKind.LOW_DATA, AlertKind.LOW_MINUTES):
        subject, headline, facts, advice = _remainder(view, lang)
    elif view.kind is AlertKind.TRUSTED_PAYMENT_DUE:
        subject, headline, facts, advice = _trusted_payment(view, lang)
    elif view.kind in _NOTICE_WORDS:
        subject, headline, facts, advice = _notice(view, lang)
    else:
        subject, headline, facts, advice = _suspension(view, lang)
    if view.label and view.label not in view.account_title:
        facts.insert(0, (f"Account: {view.label}" if lang == "en" else f"Счёт: {view.label}"))
    if view.reminder:
        subject = ("Reminder: " if lang == "en" else "Напоминание: ") + subject
    if lang == "en":
        open_label = "Open the account"
        footer = "You receive this because alerts are on for this account. Alert settings:"
    else:
        open_label = "Открыть счёт"
        footer = "Вы получили это письмо, потому что для счёта включены уведомления. Настройки:"
    return MessageParts(subject, headline, facts, advice, open_label, footer, lang)
