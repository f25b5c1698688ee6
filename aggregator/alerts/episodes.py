"""Alert episodes and their notifications, written in the caller's transaction.

The poller calls :meth:`AlertWriter.apply` inside the transaction that stores the readings:
an episode opened by a reading is committed with it, together with its outbox rows (one per
notifier and language), or not at all. The outbox's unique ``dedupe_key``
(``notifier:episode:number:lang``, number 0 for the first message, then 1, 2... for
reminders) and the unique index on open episodes make a second message for the same episode
impossible, also across restarts and processes. The rows are sent after commit by
:mod:`.outbox`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.money import from_minor, to_minor
from ..plugins import PluginRegistry
from ..settings import Settings
from ..storage.models import (
    AlertEpisode,
    AlertRule,
    BalanceReading,
    ChatTranscript,
    Household,
    LinkedAccount,
    NotifierRecipient,
    NotifierSettings,
    OutboxMessage,
    User,
)
from .forecast import SpendHistory, forecast
from .messages import AlertView
from .remainders import from_json, left_by_unit
from .rules import (
    NOTICE_KINDS,
    REMAINDER_KINDS,
    AccountFacts,
    AlertKind,
    EffectiveRule,
    OpenEpisode,
    RuleRow,
    evaluate,
    resolve_rules,
)

__all__ = [
    "AccountInfo",
    "AlertItem",
    "AlertWriter",
    "alert_links",
    "dedupe_key",
    "linked_recipients",
]

log = logging.getLogger(__name__)

episodes_t = cast(Table, AlertEpisode.__table__)
rules_t = cast(Table, AlertRule.__table__)
outbox_t = cast(Table, OutboxMessage.__table__)
households_t = cast(Table, Household.__table__)
users_t = cast(Table, User.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)
readings_t = cast(Table, BalanceReading.__table__)
recipients_t = cast(Table, NotifierRecipient.__table__)
channel_settings_t = cast(Table, NotifierSettings.__table__)
chat_t = cast(Table, ChatTranscript.__table__)

#: How far back a notice already told is remembered (an operator repeating it is not news).
NOTICE_MEMORY = dt.timedelta(days=180)

MONEY_KINDS = (AlertKind.LOW_BALANCE, AlertKind.RUNS_OUT)


def alert_links(base: str, account_id: int) -> dict[str, str]:
    """The dashboard pages an alert e-mail links to: the account, and the alert settings."""
    return {"link": f"{base}/accounts/{account_id}", "settings_link": f"{base}/settings/alerts"}


@dataclass(frozen=True)
class AccountInfo:
    id: int
    household_id: int
    provider_id: str
    label: str = ""
    number_masked: str = ""
    login_key: str = ""  # accounts sharing a login are told about a needed login once


@dataclass
class AlertItem:
    """One account's facts after a poll, to evaluate against its rules."""

    account: AccountInfo
    facts: AccountFacts
    reading_id: int | None = None
    notify: bool = True  # False: another account's message already covers it
    note: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    """An episode that needs a message (its first, or a reminder)."""

    account: AccountInfo
    kind: AlertKind
    episode_id: int
    details: Mapping[str, Any]
    rule: EffectiveRule
    number: int = 0  # 0: first message; n: the n-th reminder
    key: str | None = None  # a notice's dedupe key (else the episode's)


def dedupe_key(notifier: str, episode_id: int, number: int, lang: str) -> str:
    return f"{notifier}:episode:{episode_id}:{number}:{lang}"


def notice_key(account_id: int, kind: str, notice_id: str) -> str:
    """One notice of one account, whatever poll or process meets it again."""
    digest = hashlib.sha256(f"{kind}\x00{notice_id}".encode()).hexdigest()[:32]
    return f"notice:{account_id}:{digest}"


def _insert(conn: AsyncConnection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


class AlertWriter:
    """Evaluates rules, opens and closes episodes, queues their messages (no commit)."""

    def __init__(self, settings: Settings, registry: PluginRegistry) -> None:
        self.settings = settings
        self.registry = registry

    # -- the poll path ---------------------------------------------------------------------
    async def apply(
        self, conn: AsyncConnection, items: Sequence[AlertItem], now: dt.datetime
    ) -> int:
        """Evaluate ``items``; return how many outbox rows were queued."""
        if not items:
            return 0
        rules = await self._rules(conn, {item.account.household_id for item in items})
        open_rows = await conn.execute(
            select(
                episodes_t.c.id,
                episodes_t.c.account_id,
                episodes_t.c.kind,
                episodes_t.c.opened_at,
                episodes_t.c.last_notified_at,
                episodes_t.c.reminders_sent,
                episodes_t.c.details,
            ).where(
                episodes_t.c.account_id.in_([item.account.id for item in items]),
                episodes_t.c.closed_at.is_(None),
            )
        )
        open_by_account: dict[int, dict[str, OpenEpisode]] = defaultdict(dict)
        for row in open_rows:
            open_by_account[row.account_id][row.kind] = OpenEpisode(
                id=row.id,
                kind=row.kind,
                opened_at=row.opened_at,
                last_notified_at=row.last_notified_at,
                reminders_sent=row.reminders_sent,
                details=row.details or {},
            )
        closes: list[int] = []
        opens: list[tuple[AlertItem, AlertKind, dict[str, Any], EffectiveRule]] = []
        for item in items:
            effective = resolve_rules(rules.get(item.account.household_id, ()), item.account.id)
            decision = evaluate(item.facts, effective, open_by_account.get(item.account.id, {}))
            closes.extend(decision.closes)
            for kind, details in decision.opens:
                opens.append((item, kind, details | item.note, effective[kind]))
        if closes:
            await conn.execute(
                update(episodes_t)
                .where(episodes_t.c.id.in_(closes), episodes_t.c.closed_at.is_(None))
                .values(closed_at=now)
            )
        silent = await self._told_through_sibling(conn, opens)
        # A low-balance e-mail already says how many days the money lasts: a run-out alert
        # opening in the same poll is folded into it instead of sending a second e-mail.
        low_opening = {
            item.account.id for item, kind, _, _ in opens if kind is AlertKind.LOW_BALANCE
        }
        pending: list[_Pending] = []
        for index, (item, kind, details, rule) in enumerate(opens):
            folded = kind is AlertKind.RUNS_OUT and item.account.id in low_opening
            notify = item.notify and index not in silent and not folded
            if index in silent:
                details = details | {"same_login_as": silent[index]}
            if folded:
                details = details | {"told_with": AlertKind.LOW_BALANCE.value}
            statement = (
                _insert(conn, episodes_t)
                .values(
                    account_id=item.account.id,
                    kind=kind.value,
                    opened_at=now,
                    reading_id=item.reading_id,
                    details=details,
                    last_notified_at=now if notify else None,
                    reminders_sent=0,
                )
                .on_conflict_do_nothing()
                .returning(episodes_t.c.id)
            )
            episode_id = (await conn.execute(statement)).scalar()
            if episode_id is None:
                continue  # already open (a concurrent writer): its message exists
            log.info(
                "account %s: alert %s opened (episode %s)", item.account.id, kind.value, episode_id
            )
            if notify:
                pending.append(_Pending(item.account, kind, episode_id, details, rule))
        pending.extend(await self._notices(conn, items, rules, now))
        return await self._enqueue(conn, pending, now)

    async def _notices(
        self,
        conn: AsyncConnection,
        items: Sequence[AlertItem],
        rules: Mapping[int, Sequence[RuleRow]],
        now: dt.datetime,
    ) -> list[_Pending]:
        """Each notice the operator reported becomes one message, once: an episode opened and
        closed at once records it (by its key), and the outbox's unique key guards a race. A
        support reply already in the stored transcript was read on the dashboard: no mail."""
        wanted = [(item, n) for item in items for n in item.facts.notices if item.notify]
        if not wanted:
            return []
        ids = sorted({item.account.id for item, _ in wanted})
        told: set[tuple[int, str]] = set()
        rows = await conn.execute(
            select(episodes_t.c.account_id, episodes_t.c.details).where(
                episodes_t.c.account_id.in_(ids),
                episodes_t.c.kind.in_(sorted(k.value for k in NOTICE_KINDS)),
                episodes_t.c.opened_at >= now - NOTICE_MEMORY,
            )
        )
        for row in rows:
            told.add((row.account_id, str((row.details or {}).get("key", ""))))
        read_ids = {n.id[:128] for _, n in wanted}
        read: set[tuple[int, str]] = {
            (row.account_id, row.remote_id)
            for row in await conn.execute(
                select(chat_t.c.account_id, chat_t.c.remote_id).where(
                    chat_t.c.account_id.in_(ids), chat_t.c.remote_id.in_(sorted(read_ids))
                )
            )
        }
        pending: list[_Pending] = []
        for item, notice in wanted:
            kind = AlertKind(notice.kind.value)
            key = notice_key(item.account.id, kind.value, notice.id)
            if (item.account.id, key) in told:
                continue
            told.add((item.account.id, key))
            rule = resolve_rules(rules.get(item.account.household_id, ()), item.account.id)[kind]
            seen_here = kind is AlertKind.CHAT_REPLY and (item.account.id, notice.id[:128]) in read
            details: dict[str, Any] = {
                "key": key,
                "notice_id": notice.id,
                "title": notice.title,
                "text": notice.text,
            }
            if notice.at is not None:
                details["at"] = notice.at.isoformat()
            notify = rule.enabled and not seen_here
            if seen_here:
                details["seen_on_dashboard"] = True
            episode_id = (
                await conn.execute(
                    _insert(conn, episodes_t)
                    .values(
                        account_id=item.account.id,
                        kind=kind.value,
                        opened_at=now,
                        closed_at=now,
                        details=details,
                        last_notified_at=now if notify else None,
                        reminders_sent=0,
                    )
                    .returning(episodes_t.c.id)
                )
            ).scalar_one()
            log.info("account %s: notice %s (episode %s)", item.account.id, kind.value, episode_id)
            if notify:
                pending.append(_Pending(item.account, kind, episode_id, details, rule, key=key))
        return pending

    async def _told_through_sibling(
        self,
        conn: AsyncConnection,
        opens: Sequence[tuple[AlertItem, AlertKind, dict[str, Any], EffectiveRule]],
    ) -> dict[int, int]:
        """Needs-login openings whose login another account already tells about: index ->
        that account's id. A login that fails is one message, however many numbers it holds."""
        wanted = [
            (index, item)
            for index, (item, kind, _details, _rule) in enumerate(opens)
            if kind is AlertKind.NEEDS_LOGIN and item.notify and item.account.login_key
        ]
        if not wanted:
            return {}
        keys = {item.account.login_key for _, item in wanted}
        rows = await conn.execute(
            select(
                accounts_t.c.household_id,
                accounts_t.c.provider_id,
                accounts_t.c.login_key,
                accounts_t.c.id,
            )
            .join(episodes_t, episodes_t.c.account_id == accounts_t.c.id)
            .where(
                accounts_t.c.login_key.in_(sorted(keys)),
                episodes_t.c.kind == AlertKind.NEEDS_LOGIN.value,
                episodes_t.c.closed_at.is_(None),
            )
        )
        told: dict[tuple[int, str, str], int] = {
            (row.household_id, row.provider_id, row.login_key): row.id for row in rows
        }
        silent: dict[int, int] = {}
        for index, item in wanted:
            key = (item.account.household_id, item.account.provider_id, item.account.login_key)
            if key in told and told[key] != item.account.id:
                silent[index] = told[key]
            else:
                told.setdefault(key, item.account.id)
        return silent

    # -- reminders -------------------------------------------------------------------------
    async def queue_reminders(self, conn: AsyncConnection, now: dt.datetime) -> int:
        """Queue a reminder for every open episode whose rule asks for one and is due."""
        rows = (
            await conn.execute(
                select(
                    episodes_t.c.id,
                    episodes_t.c.kind,
                    episodes_t.c.opened_at,
                    episodes_t.c.last_notified_at,
                    episodes_t.c.reminders_sent,
                    episodes_t.c.details,
                    accounts_t.c.id.label("account_id"),
                    accounts_t.c.household_id,
                    accounts_t.c.provider_id,
                    accounts_t.c.label,
                    accounts_t.c.number_masked,
                    accounts_t.c.spend_history,
                )
                .join(accounts_t, accounts_t.c.id == episodes_t.c.account_id)
                .where(episodes_t.c.closed_at.is_(None))
            )
        ).all()
        if not rows:
            return 0
        rules = await self._rules(conn, {row.household_id for row in rows})
        pending: list[_Pending] = []
        for row in rows:
            details = dict(row.details or {})
            if "same_login_as" in details or "told_with" in details:
                continue  # told through another account's or another alert's e-mail
            try:
                kind = AlertKind(row.kind)
            except ValueError:
                continue
            rule = resolve_rules(rules.get(row.household_id, ()), row.account_id)[kind]
            if not rule.enabled or not rule.reminder_interval_s:
                continue
            last = row.last_notified_at or row.opened_at
            if last + dt.timedelta(seconds=rule.reminder_interval_s) > now:
                continue
            number = row.reminders_sent + 1
            result = await conn.execute(
                update(episodes_t)
                .where(episodes_t.c.id == row.id, episodes_t.c.reminders_sent == number - 1)
                .values(reminders_sent=number, last_notified_at=now)
            )
            if result.rowcount != 1:
                continue  # another process took it
            if kind in MONEY_KINDS:
                details |= await self._fresh_money(conn, row.account_id, row.spend_history)
            elif kind in REMAINDER_KINDS:
                details |= await self._fresh_remainder(conn, row.account_id, REMAINDER_KINDS[kind])
            account = AccountInfo(
                row.account_id, row.household_id, row.provider_id, row.label, row.number_masked
            )
            pending.append(_Pending(account, kind, row.id, details, rule, number))
        return await self._enqueue(conn, pending, now)

    async def _fresh_remainder(
        self, conn: AsyncConnection, account_id: int, unit: str
    ) -> dict[str, Any]:
        """What the latest reading that read the remainders says is left of ``unit``."""
        stored = (
            await conn.execute(
                select(readings_t.c.remainders)
                .where(readings_t.c.account_id == account_id, readings_t.c.remainders.is_not(None))
                .order_by(readings_t.c.at.desc(), readings_t.c.id.desc())
                .limit(1)
            )
        ).scalar()
        left = left_by_unit(from_json(stored)).get(unit)
        if left is None or left.unlimited:
            return {}
        fresh: dict[str, Any] = {"rest": left.rest}
        if left.size is not None:
            fresh["size"] = left.size
        if left.period_end is not None:
            fresh["period_end"] = left.period_end.isoformat()
        return fresh

    async def _fresh_money(
        self, conn: AsyncConnection, account_id: int, spend: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        latest = (
            await conn.execute(
                select(
                    readings_t.c.at,
                    readings_t.c.amount_minor,
                    readings_t.c.currency,
                    readings_t.c.next_charge_date,
                    readings_t.c.next_charge_minor,
                )
                .where(readings_t.c.account_id == account_id)
                .order_by(readings_t.c.at.desc(), readings_t.c.id.desc())
                .limit(1)
            )
        ).first()
        if latest is None:
            return {}
        amount = from_minor(latest.amount_minor, latest.currency)
        charge = (
            from_minor(latest.next_charge_minor, latest.currency)
            if latest.next_charge_minor
            else None
        )
        outlook = forecast(
            SpendHistory.from_json(spend),
            amount,
            latest.at.date(),
            latest.next_charge_date,
            charge,
        )
        fresh: dict[str, Any] = {"amount_minor": latest.amount_minor, "currency": latest.currency}
        fresh["days_left"] = outlook.days_left
        fresh["runs_out_on"] = outlook.runs_out_on.isoformat() if outlook.runs_out_on else None
        if outlook.daily_spend is not None:
            fresh["daily_spend_minor"] = to_minor(outlook.daily_spend, latest.currency)
        return fresh

    # -- shared ------------------------------------------------------------------------------
    async def _rules(
        self, conn: AsyncConnection, household_ids: Iterable[int]
    ) -> dict[int, list[RuleRow]]:
        ids = sorted(set(household_ids))
        rows = await conn.execute(select(rules_t).where(rules_t.c.household_id.in_(ids)))
        by_household: dict[int, list[RuleRow]] = defaultdict(list)
        for row in rows.mappings():
            by_household[row["household_id"]].append(RuleRow.from_mapping(dict(row)))
        return by_household

    def _provider_name(self, provider_id: str, lang: str) -> str:
        cls = self.registry.providers.get(provider_id)
        if cls is None:
            return provider_id
        return cls.name_en if lang == "en" else cls.name

    async def _linked_recipients(
        self, conn: AsyncConnection, household_ids: Sequence[int]
    ) -> dict[tuple[int, str], list[tuple[int, str, str]]]:
        if not any(cls.links_recipients for cls in self.registry.notifiers.values()):
            return {}
        return await linked_recipients(conn, household_ids)

    async def _enqueue(
        self, conn: AsyncConnection, pending: Sequence[_Pending], now: dt.datetime
    ) -> int:
        if not pending:
            return 0
        from .render import render_alert, render_chat  # Jinja2: loaded at the first alert

        household_ids = sorted({p.account.household_id for p in pending})
        households = {
            row.id: row
            for row in await conn.execute(
                select(households_t.c.id, households_t.c.name, households_t.c.lang).where(
                    households_t.c.id.in_(household_ids)
                )
            )
        }
        users: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for row in await conn.execute(
            select(users_t.c.household_id, users_t.c.email, users_t.c.lang)
            .where(users_t.c.household_id.in_(household_ids))
            .order_by(users_t.c.id)
        ):
            users[row.household_id].append((row.email, row.lang))
        base = self.settings.dashboard_url
        notifiers = sorted(self.registry.notifiers)
        linked = await self._linked_recipients(conn, household_ids)
        queued = 0
        for item in pending:
            household = households.get(item.account.household_id)
            household_lang = (household.lang if household else None) or "ru"
            by_lang = recipients_by_lang(
                item.rule, users[item.account.household_id], household_lang
            )
            for notifier in notifiers:
                if item.rule.channels is not None and notifier not in item.rule.channels:
                    continue  # the household chose other channels for this kind
                cls = self.registry.notifiers[notifier]
                # (language, recipients, dedupe suffix): e-mail groups its addresses by
                # language; a channel with linked recipients sends each its own message.
                targets: list[tuple[str, list[str], str]]
                if notifier == "email":
                    targets = [(lang, addresses, "") for lang, addresses in by_lang.items()]
                elif cls.links_recipients:
                    targets = [
                        (lang, [address], f":r{recipient_id}")
                        for recipient_id, address, lang in linked.get(
                            (item.account.household_id, notifier), []
                        )
                    ]
                else:
                    targets = [(item.rule.lang or household_lang, [], "")]
                for lang, recipients, suffix in sorted(targets):
                    view = AlertView(
                        kind=item.kind,
                        account_id=item.account.id,
                        provider_name=self._provider_name(item.account.provider_id, lang),
                        number=item.account.number_masked,
                        label=item.account.label,
                        details=item.details,
                        **alert_links(base, item.account.id),
                        household_name=household.name if household else "",
                        reminder=item.number > 0,
                    )
                    rendered = (
                        render_alert(view, lang) if notifier == "email" else render_chat(view, lang)
                    )
                    if item.key is not None:
                        key = f"{notifier}:{item.key}:{lang}{suffix}"
                    else:
                        key = dedupe_key(notifier, item.episode_id, item.number, lang) + suffix
                    statement = (
                        _insert(conn, outbox_t)
                        .values(
                            household_id=item.account.household_id,
                            episode_id=item.episode_id,
                            dedupe_key=key,
                            notifier=notifier,
                            kind=item.kind.value,
                            recipients=recipients,
                            subject=rendered.subject,
                            body_text=rendered.text,
                            body_html=rendered.html,
                            lang=rendered.lang,
                            link=view.link,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                        .on_conflict_do_nothing()
                    )
                    result = await conn.execute(statement)
                    queued += max(result.rowcount or 0, 0)
        return queued


async def linked_recipients(
    conn: AsyncConnection, household_ids: Sequence[int]
) -> dict[tuple[int, str], list[tuple[int, str, str]]]:
    """Active linked recipients of set-up channels: (household, notifier) -> (id, address,
    lang), oldest first."""
    rows = await conn.execute(
        select(
            recipients_t.c.id,
            recipients_t.c.household_id,
            recipients_t.c.notifier,
            recipients_t.c.address,
            recipients_t.c.lang,
        )
        .join(
            channel_settings_t,
            (channel_settings_t.c.household_id == recipients_t.c.household_id)
            & (channel_settings_t.c.notifier == recipients_t.c.notifier),
        )
        .where(
            recipients_t.c.household_id.in_(sorted(set(household_ids))),
            recipients_t.c.status == "active",
        )
        .order_by(recipients_t.c.id)
    )
    out: dict[tuple[int, str], list[tuple[int, str, str]]] = defaultdict(list)
    for row in rows:
        out[(row.household_id, row.notifier)].append((row.id, row.address, row.lang))
    return dict(out)


def recipients_by_lang(
    rule: EffectiveRule, users: Sequence[tuple[str, str]], household_lang: str
) -> dict[str, list[str]]:
    """Who gets the e-mail, grouped by language: the rule's recipients, else every member.

    The language is the rule's when it names one, else the member's own, else the household's.
    """
    from ..i18n import normalise_lang

    user_lang = {email.lower(): lang for email, lang in users}
    addresses = list(rule.recipients) or [email for email, _ in users]
    grouped: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for address in addresses:
        address = address.strip()
        if not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        lang = normalise_lang(rule.lang or user_lang.get(address.lower()) or household_lang)
        grouped[lang].append(address)
    return dict(grouped)
