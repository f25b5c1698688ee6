"""Package remainders through a real poll: stored with each reading, and a "less than N GB"
rule of one account that mails once until the package recovers (real aiosmtpd)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import Table, func, insert, select

from aggregator.alerts.outbox import OutboxSender
from aggregator.alerts.remainders import from_json, left_by_unit
from aggregator.alerts.sink import MailSink
from aggregator.core.models import PackageRemainder, UsageUnit
from aggregator.i18n import format_bytes
from aggregator.polling import PollingService
from aggregator.polling.service import notifier_instances
from aggregator.storage.models import AlertEpisode, AlertRule, BalanceReading, utcnow

NB = "\u00a0"
GIB = 1 << 30
rules_t = cast(Table, AlertRule.__table__)
readings_t = cast(Table, BalanceReading.__table__)
episodes_t = cast(Table, AlertEpisode.__table__)


async def _latest_remainders(env: InProcessEnv, account_id: int) -> list[PackageRemainder]:
    async with env.engine.connect() as conn:
        stored = await conn.scalar(
            select(readings_t.c.remainders)
            .where(readings_t.c.account_id == account_id)
            .order_by(readings_t.c.id.desc())
            .limit(1)
        )
    return from_json(stored)


async def test_gb_running_low_mails_once_until_the_package_recovers(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("reference", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    async with env.engine.begin() as conn:  # this account: tell me below 1 GB
        await conn.execute(
            insert(rules_t),
            [
                {
                    "household_id": household,
                    "account_id": account_id,
                    "kind": "low_data",
                    "enabled": True,
                    "threshold_units": GIB,
                    "recipients": [],
                }
            ],
        )
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))

    async def poll(used: float) -> None:
        acc.extra["used_share"] = used
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
        await sender.send_due()

    await poll(0.0)
    stored = await _latest_remainders(env, account_id)
    package = env.backend.usage(acc).remainders
    assert [(r.unit.value, int(r.rest), int(r.size or 0)) for r in stored] == [
        (p.unit, p.rest, p.size) for p in package
    ]
    assert all(r.period_end is not None for r in stored)  # the month's last day
    data = left_by_unit(stored)["bytes"]
    assert data.size is not None and data.rest == data.size > GIB
    assert sink.store.count() == 0

    await poll(0.97)  # 3 % of a 10+ GB package left: below 1 GB
    assert sink.store.count() == 1
    (mail,) = sink.store.list()
    left = left_by_unit(env_usage(env, acc))["bytes"].rest
    assert left < GIB
    subject = mail.subject.replace(NB, " ")
    amount = format_bytes(left).replace(NB, " ")
    assert subject.startswith("Эталонный оператор •••• ")
    assert subject.endswith(f": осталось {amount} интернета")
    text = sink.store.read(mail.id).text.replace(NB, " ")
    assert "Порог уведомления: 1 ГБ" in text

    for _ in range(3):  # still low: the same episode, no more mail
        await poll(0.98)
    assert sink.store.count() == 1

    await poll(0.0)  # the package renewed: the rule re-arms
    async with env.engine.connect() as conn:
        still_open = await conn.scalar(
            select(func.count())
            .select_from(episodes_t)
            .where(episodes_t.c.closed_at.is_(None), episodes_t.c.kind == "low_data")
        )
    assert still_open == 0
    await poll(0.99)
    assert sink.store.count() == 2
    assert sink.deliveries == 2 and sink.duplicates == 0


def env_usage(env: InProcessEnv, acc: object) -> list[PackageRemainder]:
    """The backend's own remainders in contract models (what the poll should have read)."""
    units = {u.value: u for u in UsageUnit}
    return [
        PackageRemainder(
            name=p.name, unit=units[p.unit], rest=Decimal(p.rest), size=Decimal(p.size)
        )
        for p in env.backend.usage(acc).remainders  # type: ignore[arg-type]
    ]


async def test_without_a_threshold_low_data_sends_nothing(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("reference", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    acc.extra["used_share"] = 1.0
    (outcome,) = await service.poll_accounts([account_id])
    assert outcome.status == "ok"
    assert left_by_unit(await _latest_remainders(env, account_id))["bytes"].rest == 0
    async with env.engine.connect() as conn:
        kinds = (await conn.scalars(select(episodes_t.c.kind))).all()
    assert "low_data" not in kinds and "low_minutes" not in kinds


async def test_beeline_poll_stores_its_remainders(
    env: InProcessEnv, service: PollingService
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    (outcome,) = await service.poll_accounts([account_id])
    assert outcome.status == "ok"
    stored = left_by_unit(await _latest_remainders(env, account_id))
    expected = left_by_unit(env_usage(env, acc))
    # Beeline answers traffic in KB (prepaid) or MB (postpaid), minutes in whole units.
    assert set(stored) == set(expected)
    assert abs(stored["bytes"].rest - expected["bytes"].rest) < 1 << 20
    assert stored["seconds"].rest // 60 == expected["seconds"].rest // 60


async def test_a_reminder_says_what_is_left_now(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("reference", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    async with env.engine.begin() as conn:
        await conn.execute(
            insert(rules_t),
            [
                {
                    "household_id": household,
                    "account_id": account_id,
                    "kind": "low_data",
                    "enabled": True,
                    "threshold_units": GIB,
                    "reminder_interval_s": 3600,
                    "recipients": [],
                }
            ],
        )
    acc.extra["used_share"] = 0.95
    await service.poll_accounts([account_id])
    acc.extra["used_share"] = 0.99  # used further before the reminder is due
    await service.poll_accounts([account_id])
    now_left = left_by_unit(env_usage(env, acc))["bytes"].rest
    writer = service.store.alerts
    async with service.engine.begin() as conn:
        assert await writer.queue_reminders(conn, utcnow() + dt.timedelta(minutes=61)) == 1
    later = utcnow() + dt.timedelta(hours=2)
    await OutboxSender(
        service.engine, notifier_instances(env.runtime, env.settings), clock=lambda: later
    ).send_due()
    subjects = sorted(mail.subject.replace(NB, " ") for mail in sink.store.list())
    assert len(subjects) == 2 and subjects[0].startswith("Напоминание: ")
    assert subjects[0].endswith(f": осталось {format_bytes(now_left).replace(NB, ' ')} интернета")
