"""From a balance drained by the simulation clock to exactly one e-mail, through a real
aiosmtpd server; hysteresis; an SMTP outage; the outbox loop of the service."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from decimal import Decimal
from typing import Any, cast

import pytest
from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import Table, func, insert, select

from aggregator.alerts.outbox import OutboxSender
from aggregator.alerts.sink import MailSink
from aggregator.i18n import format_days
from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.service import notifier_instances
from aggregator.storage.models import AlertEpisode, AlertRule, OutboxMessage, utcnow

NB = "\u00a0"
rules_t = cast(Table, AlertRule.__table__)
outbox_t = cast(Table, OutboxMessage.__table__)
episodes_t = cast(Table, AlertEpisode.__table__)


async def set_rules(env: InProcessEnv, household_id: int, **low: Any) -> None:
    """The household's rules: low balance (100 ₽, margin 20 ₽ unless given), nothing else."""

    def rule(kind: str, enabled: bool, threshold: int | None, margin: int | None) -> dict[str, Any]:
        return {
            "household_id": household_id,
            "kind": kind,
            "enabled": enabled,
            "threshold_minor": threshold,
            "margin_minor": margin,
            "recipients": [],
        }

    async with env.engine.begin() as conn:
        await conn.execute(
            insert(rules_t),
            [
                rule("low_balance", True, low.get("threshold", 100_00), low.get("margin", 20_00)),
                rule("runs_out", False, None, None),
                rule("suspension_ends", False, None, None),
            ],
        )


def sender_for(env: InProcessEnv, service: PollingService, **kw: Any) -> OutboxSender:
    return OutboxSender(service.engine, notifier_instances(env.runtime, env.settings), **kw)


async def test_drained_balance_mails_once_then_again_after_a_top_up(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await set_rules(env, household)
    (account_id,), (item,) = await env.link("reference", 1, household_id=household, balance=200_00)
    acc = env.backend.account(item["account_id"])
    sender = sender_for(env, service)

    async def poll_and_send() -> None:
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
        assert outcome.balance == Decimal(env.backend.balance(acc)) / 100
        await sender.send_due()

    crossed_at: Decimal | None = None
    for _ in range(40):  # 10 ₽ a day: below 100 ₽ within two weeks
        await poll_and_send()
        if sink.store.count():
            crossed_at = Decimal(env.backend.balance(acc)) / 100
            break
        env.backend.advance(days=1)
    assert crossed_at is not None and crossed_at < 100
    (mail,) = sink.store.list()
    content = sink.store.read(mail.id)
    figure = f"{crossed_at:.2f}".replace(".", ",")
    assert content.subject.replace(NB, " ").startswith("Эталонный оператор •••• ")
    # The forecast: the tariff costs about 10 ₽ a day; the subject names the whole days left.
    text = content.text.replace(NB, " ")
    daily = Decimal(re.search(r"Средний расход: (\d+,\d\d) ₽ в день", text)[1].replace(",", "."))  # type: ignore[index]
    assert Decimal("9.5") <= daily <= Decimal("10.5")
    days = format_days(int(crossed_at // daily)).replace(NB, " ")
    assert f": на счёте {figure} ₽, хватит на {days}" in content.subject.replace(NB, " ")
    assert content.recipients == ["ivan@example.ru"]
    assert f"/accounts/{account_id}" in content.text and content.html

    for _ in range(5):  # draining further: still the same episode, no new mail
        env.backend.advance(days=1)
        await poll_and_send()
    assert sink.store.count() == 1

    env.backend.top_up(acc, 300_00)  # above threshold + margin: re-armed
    await poll_and_send()
    async with env.engine.connect() as conn:
        open_episodes = await conn.scalar(
            select(func.count()).select_from(episodes_t).where(episodes_t.c.closed_at.is_(None))
        )
    assert open_episodes == 0
    for _ in range(40):
        env.backend.advance(days=1)
        await poll_and_send()
        if sink.store.count() == 2:
            break
    assert sink.store.count() == 2
    assert sink.deliveries == 2 and sink.duplicates == 0


async def test_beeline_subject_names_the_number_and_the_days_left(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household, balance=45_20)
    acc = env.backend.account(item["account_id"])
    env.backend.set_balance(acc, 45_20)
    sender = sender_for(env, service)
    await service.poll_accounts([account_id])  # default rules: low balance below 100 ₽
    await sender.send_due()
    (mail,) = sink.store.list()
    number = item["number"]
    masked = f"+7 {number[:3]} ***-**-{number[-2:]}"
    assert mail.subject.replace(NB, " ").startswith(f"Билайн {masked}: на счёте 45,20 ₽, ")
    text = sink.store.read(mail.id).text.replace(NB, " ")
    assert "Баланс: 45,20 ₽ (порог уведомления 100,00 ₽)" in text


async def test_wobbling_inside_the_band_sends_nothing_more(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("anna@example.ru", "en")])
    await set_rules(env, household, threshold=100_00, margin=20_00)
    (account_id,), (item,) = await env.link("reference", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    sender = sender_for(env, service)
    for amount in ("150.00", "119.00", "100.00", "100.01", "110.00"):  # never below 100
        env.backend.set_balance(acc, int(Decimal(amount) * 100))
        await service.poll_accounts([account_id])
        await sender.send_due()
    assert sink.store.count() == 0
    for amount in ("99.00", "101.00", "95.50", "119.99", "80.00", "120.00"):  # one crossing
        env.backend.set_balance(acc, int(Decimal(amount) * 100))
        await service.poll_accounts([account_id])
        await sender.send_due()
    (mail,) = sink.store.list()
    assert ": balance ₽99.00, " in mail.subject


async def test_smtp_outage_delays_mail_and_loses_none(
    env: InProcessEnv, service: PollingService
) -> None:
    household = await create_household(
        env.engine, users=[("ivan@example.ru", "ru"), ("john@example.com", "en")]
    )
    await set_rules(env, household)
    ids, _ = await env.link("reference", 3, household_id=household, balance=50_00)
    now = [utcnow()]
    sender = sender_for(env, service, clock=lambda: now[0])
    await service.poll_accounts(ids)  # three accounts below 100 ₽: three episodes
    now[0] = utcnow()
    async with env.engine.connect() as conn:
        queued = await conn.scalar(select(func.count()).select_from(outbox_t))
    assert queued == 6  # one message per episode and language

    report = await sender.send_due()  # no SMTP server listening
    assert report.sent == 0 and report.retried == 6
    report = await sender.send_due()  # not due again yet: backoff
    assert report.sent == report.retried == 0
    now[0] += dt.timedelta(minutes=1)
    assert (await sender.send_due()).retried == 6  # still down

    sink = MailSink(env.settings.data_dir / "mail", port=env.settings.mail_sink_port)
    with sink:
        now[0] += dt.timedelta(hours=1)
        report = await sender.send_due()
        assert report.sent == 6 and report.failed == 0
        now[0] += dt.timedelta(hours=1)
        assert (await sender.send_due()).sent == 0
        mails = sink.store.list()
    assert len(mails) == 6 and sink.duplicates == 0
    assert len({m.message_id for m in mails}) == 6
    async with env.engine.connect() as conn:
        rows = (await conn.execute(select(outbox_t.c.status, outbox_t.c.attempts))).all()
    assert {row.status for row in rows} == {"sent"}
    assert all(row.attempts == 3 for row in rows)


async def test_the_service_sends_by_itself(env: InProcessEnv) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await set_rules(env, household)
    (account_id,), _ = await env.link("netbynet", 1, household_id=household, balance=30_00)
    options = PollingOptions(send_mail=True, start_sink=True, min_interval_s=0)
    async with PollingService(
        env.runtime, settings=env.settings, options=options, vault=env.vault, schedule=False
    ) as service:
        assert service.sink is not None
        await service.poll_accounts([account_id])
        for _ in range(200):
            if service.sink.store.count():
                break
            await asyncio.sleep(0.05)
        (mail,) = service.sink.store.list()
    assert "Нетбайнет" in mail.subject or "NetByNet" in mail.subject or "•" in mail.subject


async def test_reminder_after_its_interval(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await set_rules(env, household)
    async with env.engine.begin() as conn:
        await conn.execute(
            rules_t.update()
            .where(rules_t.c.household_id == household, rules_t.c.kind == "low_balance")
            .values(reminder_interval_s=3600)
        )
    (account_id,), _ = await env.link("reference", 1, household_id=household, balance=50_00)
    await service.poll_accounts([account_id])
    writer = service.store.alerts
    async with service.engine.begin() as conn:
        assert await writer.queue_reminders(conn, utcnow() + dt.timedelta(minutes=30)) == 0
    async with service.engine.begin() as conn:
        assert await writer.queue_reminders(conn, utcnow() + dt.timedelta(minutes=61)) == 1
    async with service.engine.begin() as conn:  # the next one is an hour after that
        assert await writer.queue_reminders(conn, utcnow() + dt.timedelta(minutes=90)) == 0
    now = [utcnow() + dt.timedelta(hours=2)]
    await sender_for(env, service, clock=lambda: now[0]).send_due()
    subjects = sorted(mail.subject for mail in sink.store.list())
    assert len(subjects) == 2
    assert subjects[0].startswith("Напоминание: Эталонный оператор")
    assert ": на счёте 50,00" in subjects[0].replace(NB, " ")


async def test_low_balance_and_run_out_opening_together_send_one_email(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    (account_id,), (item,) = await env.link("reference", 1, household_id=household, balance=900_00)
    acc = env.backend.account(item["account_id"])
    sender = sender_for(env, service)
    for _ in range(8):  # a spending history: about 10 ₽ a day, far from every threshold
        await service.poll_accounts([account_id])
        env.backend.advance(days=1)
    await sender.send_due()
    assert sink.store.count() == 0
    env.backend.set_balance(acc, 25_00)  # below 100 ₽ and gone within three days: both rules
    await service.poll_accounts([account_id])
    await sender.send_due()
    async with env.engine.connect() as conn:
        kinds = {
            row.kind: row.details
            for row in await conn.execute(
                select(episodes_t.c.kind, episodes_t.c.details).where(
                    episodes_t.c.account_id == account_id, episodes_t.c.closed_at.is_(None)
                )
            )
        }
    assert set(kinds) == {"low_balance", "runs_out"}
    assert kinds["runs_out"].get("told_with") == "low_balance"
    (mail,) = sink.store.list()  # one e-mail, and it names the days left
    assert "хватит" in mail.subject


async def test_a_crash_after_the_servers_accept_is_a_detected_resend(
    env: InProcessEnv, service: PollingService, caplog: pytest.LogCaptureFixture
) -> None:
    """The Message-ID and the attempt are recorded before the send: a row the server accepted
    but a crash left unmarked is sent again with the same Message-ID, counted and logged."""
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await set_rules(env, household)
    ids, _ = await env.link("reference", 1, household_id=household, balance=50_00)
    await service.poll_accounts(ids)
    now = [utcnow()]
    first = sender_for(env, service, clock=lambda: now[0], mail_from=env.settings.smtp_from)

    class Killed(BaseException):
        pass

    async def die_before_marking(row_id: int, **values: Any) -> None:
        raise Killed  # the process dies between the server's 250 and our commit

    first._mark = die_before_marking  # type: ignore[method-assign]
    sink = MailSink(env.settings.data_dir / "mail", port=env.settings.mail_sink_port)
    with sink:
        with pytest.raises(Killed):
            await first.send_due()
        async with env.engine.connect() as conn:
            row = (await conn.execute(select(outbox_t))).one()
        assert row.status == "sending" and row.attempted_at is not None
        assert row.message_id and row.resends == 0
        assert sink.deliveries == 1

        now[0] += dt.timedelta(minutes=5)  # the lease is over: another process takes it
        second = sender_for(env, service, clock=lambda: now[0], mail_from=env.settings.smtp_from)
        with caplog.at_level("WARNING", logger="aggregator.alerts.outbox"):
            assert (await second.send_due()).sent == 1
        mails = sink.store.list()
    async with env.engine.connect() as conn:
        after = (await conn.execute(select(outbox_t))).one()
    assert after.status == "sent" and after.resends == 1 and after.attempted_at is None
    assert sink.deliveries == 2 and sink.duplicates == 1  # the server saw it twice...
    assert [m.message_id for m in mails] == [row.message_id]  # ...with one Message-ID
    assert row.message_id in caplog.text and "without a recorded outcome" in caplog.text
