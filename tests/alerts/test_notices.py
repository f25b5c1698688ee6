"""The operator's own news reach the household once: a trusted payment falling due, a support
reply that came while away. Polled from the reference provider's Beeline dialect, mailed
through a real aiosmtpd server (the embedded sink)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from reference_provider.domain.trust_payment import take_trust_payment
from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import Table, insert, select

from aggregator.alerts.outbox import OutboxSender
from aggregator.alerts.sink import MailSink
from aggregator.polling import PollingOptions, PollingService
from aggregator.polling.service import notifier_instances
from aggregator.storage.models import AlertEpisode, AlertRule, ChatTranscript, LinkedAccount

NB = "\u00a0"
rules_t = cast(Table, AlertRule.__table__)
episodes_t = cast(Table, AlertEpisode.__table__)
accounts_t = cast(Table, LinkedAccount.__table__)
chat_t = cast(Table, ChatTranscript.__table__)
MANUAL = PollingOptions(send_mail=False, start_sink=False, min_interval_s=0)


@pytest.fixture
async def service(env: InProcessEnv) -> AsyncIterator[PollingService]:
    async with PollingService(
        env.runtime, settings=env.settings, options=MANUAL, vault=env.vault, schedule=False
    ) as service:
        yield service


async def only(env: InProcessEnv, household_id: int, **kinds: dict[str, Any]) -> None:
    """Household rules: the kinds given (with their values) on, money alerts off."""
    base = {"household_id": household_id, "recipients": [], "days": None}
    rows = [
        base | {"kind": k, "enabled": False} for k in ("low_balance", "runs_out", "suspension_ends")
    ]
    rows += [base | {"kind": k, "enabled": True} | v for k, v in kinds.items()]
    async with env.engine.begin() as conn:
        await conn.execute(insert(rules_t), rows)


async def test_a_trusted_payment_due_is_mailed_once_and_closes_when_repaid(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only(env, household, trusted_payment_due={"days": 3})
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household, balance=30_00)
    acc = env.backend.account(item["account_id"])
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))

    async def poll() -> None:
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
        await sender.send_due()
        await asyncio.sleep(0.3)  # the dialect allows 40 requests a second per token

    await poll()
    assert sink.store.count() == 0  # nothing owed: nothing to say
    take_trust_payment(env.backend, acc, 200_00)
    due = env.backend.clock.today() + dt.timedelta(days=3)
    for _ in range(3):
        await poll()
    (mail,) = sink.store.list()
    content = sink.store.read(mail.id)
    subject = content.subject.replace(NB, " ")
    assert "доверительный платёж 210,00 ₽" in subject, subject
    assert "Долг: 210,00 ₽" in content.text.replace(NB, " ")
    assert content.recipients == ["ivan@example.ru"]
    async with env.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(accounts_t.c.trusted_payment).where(accounts_t.c.id == account_id)
            )
        ).scalar_one()
    assert stored["debt"]["amount"] == "210.00" and stored["due_date"] == due.isoformat()

    env.backend.advance(days=3)  # taken back: the episode closes, no more mail
    await poll()
    await poll()
    assert sink.store.count() == 1
    async with env.engine.connect() as conn:
        episodes = (
            await conn.execute(
                select(episodes_t.c.kind, episodes_t.c.closed_at).where(
                    episodes_t.c.account_id == account_id
                )
            )
        ).all()
    assert [(e.kind, e.closed_at is not None) for e in episodes] == [("trusted_payment_due", True)]


async def test_a_support_reply_while_away_is_mailed_once(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "en")])
    await only(env, household, chat_reply={})
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))

    async def poll() -> None:
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
        await sender.send_due()
        await asyncio.sleep(0.3)  # the dialect allows 40 requests a second per token

    await poll()
    env.backend.send_chat(acc, "services", "Почему шипит в трубке?")  # the bot cannot answer
    await poll()
    assert sink.store.count() == 0  # no specialist yet
    env.backend.advance(minutes=16)
    await poll()
    await poll()
    (mail,) = sink.store.list()
    content = sink.store.read(mail.id)
    assert content.subject.endswith(": a reply from support"), content.subject
    assert "Support replied while you were away" in content.text

    # A reply the person already read in the dashboard's chat is not mailed.
    env.backend.send_chat(acc, "services", "А ещё вопрос: почему гудит?")
    env.backend.advance(minutes=16)
    for message in env.backend.chat_history(acc, None):
        if message.author == "agent":
            async with env.engine.begin() as conn:
                exists = await conn.scalar(
                    select(chat_t.c.id).where(
                        chat_t.c.account_id == account_id, chat_t.c.remote_id == message.id
                    )
                )
                if exists is None:
                    await conn.execute(
                        insert(chat_t).values(
                            account_id=account_id,
                            remote_id=message.id,
                            author="agent",
                            text=message.text,
                            sent_at=message.sent_at,
                            seen=True,
                        )
                    )
    await poll()
    assert sink.store.count() == 1


async def test_notices_of_a_kind_turned_off_are_not_mailed(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only(env, household)
    async with env.engine.begin() as conn:
        await conn.execute(
            insert(rules_t).values(
                household_id=household, kind="chat_reply", enabled=False, recipients=[]
            )
        )
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))
    env.backend.send_chat(acc, "services", "Почему шипит в трубке?")
    env.backend.advance(minutes=16)
    await service.poll_accounts([account_id])
    await sender.send_due()
    assert sink.store.count() == 0


async def test_a_block_we_asked_for_found_in_force_is_mailed_as_approved_once(
    env: InProcessEnv, service: PollingService, sink: MailSink
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only(env, household, suspension_approved={})
    (account_id,), (item,) = await env.link("beeline", 1, household_id=household)
    acc = env.backend.account(item["account_id"])
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))
    today = env.backend.clock.today()
    end = today + dt.timedelta(days=9)
    # The household asked for a block (the dashboard keeps it as "requested")...
    async with env.engine.begin() as conn:
        await conn.execute(
            accounts_t.update()
            .where(accounts_t.c.id == account_id)
            .values(
                suspension_state="requested", suspension_start=today, suspension_planned_end=end
            )
        )
    await service.poll_accounts([account_id])
    await sender.send_due()
    assert sink.store.count() == 0  # not in force yet
    env.backend.request_suspension(acc, today, end)  # ...and the operator applied it
    for _ in range(3):
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok"
        await sender.send_due()
        await asyncio.sleep(0.3)
    (mail,) = sink.store.list()
    content = sink.store.read(mail.id)
    assert "блокировка подтверждена" in content.subject, content.subject
    assert "Оператор подтвердил добровольную блокировку" in content.text
    async with env.engine.connect() as conn:
        state = (
            await conn.execute(
                select(accounts_t.c.suspension_state).where(accounts_t.c.id == account_id)
            )
        ).scalar_one()
    assert state == "suspended"


@pytest.mark.parametrize("operator", ["reference", "netbynet"])
async def test_an_operators_maintenance_notice_is_mailed_once(
    env: InProcessEnv, service: PollingService, sink: MailSink, operator: str
) -> None:
    """The operator announces works in its news (the reference operator's account reply, the
    NetByNet cabinet's promotions): the poll returns them as a notice, mailed once however many
    polls see it again; works long past are not news."""
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only(env, household, maintenance={})
    (account_id,), _ = await env.link(operator, 1, household_id=household)
    sender = OutboxSender(service.engine, notifier_instances(env.runtime, env.settings))
    for _ in range(2):  # past works are history: nothing to tell
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok", outcome
        await sender.send_due()
        await asyncio.sleep(0.3)
    assert sink.store.count() == 0
    works = env.backend.announce(
        operator, "Плановые работы на сети", "С 02:00 до 05:00 возможны перерывы.", in_days=2
    )
    for _ in range(3):
        (outcome,) = await service.poll_accounts([account_id])
        assert outcome.status == "ok", outcome
        await sender.send_due()
        await asyncio.sleep(0.3)
    (mail,) = sink.store.list()
    content = sink.store.read(mail.id)
    assert content.subject.endswith(f": {works.title}"), content.subject
    assert "Оператор сообщает" in content.text and works.text in content.text
    assert content.recipients == ["ivan@example.ru"]
