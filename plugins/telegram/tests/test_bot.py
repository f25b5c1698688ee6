"""The bot's commands (/balance, /help, /start), Telegram's errors (429 with retry_after,
403 blocked, 400 chat not found, a refused token), the per-chat pace, tokens in no log."""

from __future__ import annotations

import datetime as dt
import itertools
import logging

import pytest
from aggregator_telegram import TelegramNotifier
from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import select, update

from aggregator.alerts.outbox import OutboxSender
from aggregator.polling import PollingService
from aggregator.services import channels as channel_service
from aggregator.storage.models import LinkedAccount, NotifierRecipient, OutboxMessage, utcnow

from .conftest import TOKEN, Bot, only_low_balance, until

NB = "\u00a0"


async def _reply(bot: Bot, chat_id: int, text: str, **kw: str) -> str:
    before = len(bot.fake.sent(chat_id))
    bot.fake.user_says(TOKEN, chat_id, text, **kw)
    await until(lambda: len(bot.fake.sent(chat_id)) > before)
    return bot.fake.sent(chat_id)[-1].text.replace(NB, " ")


async def test_balance_answers_with_every_account_one_line_each(
    env: InProcessEnv, service: PollingService, bot: Bot
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await bot.set_up(household)
    await bot.link_chat(household, 500)
    ids, _ = await env.link("reference", 2, household_id=household, balance=812_40)
    (beeline,), items = await env.link("beeline", 1, household_id=household, balance=45_20)
    (_never,), _ = await env.link("netbynet", 1, household_id=household, balance=1_00)
    await service.poll_accounts([*ids, beeline])
    async with env.engine.begin() as conn:
        await conn.execute(
            update(LinkedAccount).where(LinkedAccount.id == beeline).values(status="needs_login")
        )
    answer = await _reply(bot, 500, "/balance")
    lines = answer.splitlines()
    assert lines[0] == "<b>Балансы</b>"
    body = lines[1:]
    assert len(body) == 4, answer  # every account, one line each
    assert sum("812,40 ₽" in line and line.startswith("✅") for line in body) == 2
    number = items[0]["number"]
    (bee,) = [line for line in body if number[-2:] in line and "Билайн" in line]
    assert bee.startswith("⚠️") and "45,20 ₽" in bee and "нужно войти заново" in bee
    (new,) = [line for line in body if "баланса ещё нет" in line]
    assert new.startswith("⏳") and "Нетбайнет" in new
    # English for an English member's chat; /balance@bot_name works in groups.
    await bot.link_chat(household, -900, lang="en")
    english = await _reply(bot, -900, "/balance@household_bot", language_code="en")
    assert english.startswith("<b>Balances</b>") and "sign in again" in english


async def test_help_start_and_strangers(env: InProcessEnv, bot: Bot) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await bot.set_up(household)
    stranger = await _reply(bot, 31, "/balance")
    assert "не связан" in stranger and "₽" not in stranger  # nothing of the household
    assert "/start" in await _reply(bot, 31, "/help")
    assert "not linked" in await _reply(bot, 32, "/start", language_code="en")
    await bot.link_chat(household, 33)
    linked_help = await _reply(bot, 33, "/help")
    assert "/balance" in linked_help and "Уведомления о счетах приходят" in linked_help
    before = len(bot.fake.sent(33))
    bot.fake.user_says(TOKEN, 33, "привет")  # not a command: no answer
    await _reply(bot, 33, "/help")
    assert len(bot.fake.sent(33)) == before + 1


async def _one_alert(env: InProcessEnv, service: PollingService, bot: Bot, chat: int) -> int:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only_low_balance(env, household, channels=["telegram"])
    await bot.set_up(household)
    await bot.link_chat(household, chat)
    (account_id,), _ = await env.link("reference", 1, household_id=household, balance=10_00)
    await service.poll_accounts([account_id])
    return household


async def test_429_retry_after_is_honoured_through_the_outbox(
    env: InProcessEnv, service: PollingService, bot: Bot
) -> None:
    await _one_alert(env, service, bot, 600)
    bot.fake.flood["600"] = [7]
    report = await bot.send()
    assert report.retried == 1
    async with env.engine.connect() as conn:
        row = (await conn.execute(select(OutboxMessage))).one()
    assert row.status == "pending" and row.last_error.startswith("temporary.rate_limited")
    wait = (row.next_attempt_at - utcnow()).total_seconds()
    assert 6.0 <= wait <= 7.0, wait  # exactly retry_after, not the backoff's 5-10 s
    assert (await bot.send()).sent == 0  # not due yet: nothing sent early
    later = OutboxSender(
        env.engine,
        bot.sender.notifiers,
        channels=bot.hub,
        clock=lambda: utcnow() + dt.timedelta(seconds=8),
    )
    assert (await later.send_due()).sent == 1
    assert len([m for m in bot.fake.sent(600) if "/accounts/" in m.text]) == 1


async def test_one_message_a_second_per_chat(
    env: InProcessEnv, service: PollingService, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TelegramNotifier, "chat_interval_s", 1.0)
    bot.fake.chat_interval_s = 1.0  # the fake answers 429 to a faster second message
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only_low_balance(env, household, channels=["telegram"])
    await bot.set_up(household)
    await bot.link_chat(household, 700)
    ids, _ = await env.link("reference", 3, household_id=household, balance=10_00)
    await service.poll_accounts(ids)
    report = await bot.send()
    assert (report.sent, report.retried) == (3, 0)
    alerts = [m for m in bot.fake.sent(700) if "/accounts/" in m.text]
    assert len(alerts) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(alerts)]
    assert all(gap >= 0.95 for gap in gaps), gaps


@pytest.mark.parametrize("gone", ["blocked", "deleted"])
async def test_a_blocked_bot_or_deleted_chat_disables_the_recipient(
    env: InProcessEnv, service: PollingService, bot: Bot, gone: str
) -> None:
    household = await _one_alert(env, service, bot, 800)
    getattr(bot.fake, gone).add("800")
    report = await bot.send()
    assert report.failed == 1 and report.retried == 0  # no endless retry
    async with env.engine.connect() as conn:
        recipient = (await conn.execute(select(NotifierRecipient))).one()
        row = (await conn.execute(select(OutboxMessage))).one()
    assert recipient.status == "disabled" and row.status == "failed"
    expected = "bot was blocked" if gone == "blocked" else "chat not found"
    assert expected in (recipient.disabled_reason or "")
    async with bot.sessions()() as db:
        (notice,) = await channel_service.disabled_recipients(db, env.registry, household)
    assert notice.notifier_name == "Telegram" and expected in (notice.disabled_reason or "")
    # The next alert queues nothing for the disabled chat; re-linking makes it active again.
    (second,), _ = await env.link("reference", 1, household_id=household, balance=5_00)
    await service.poll_accounts([second])
    async with env.engine.connect() as conn:
        rows = (await conn.execute(select(OutboxMessage.id))).all()
    assert len(rows) == 1
    getattr(bot.fake, gone).discard("800")
    await bot.link_chat(household, 800)
    recipient = await bot.hub.recipient("telegram", household, "800")
    assert recipient is not None and recipient.active


async def test_a_refused_token_is_retried_not_dropped(
    env: InProcessEnv, service: PollingService, bot: Bot
) -> None:
    household = await _one_alert(env, service, bot, 900)
    await bot.set_up(household, "999:REVOKED-token")  # the household's token was revoked
    report = await bot.send()
    assert report.retried == 1
    async with env.engine.connect() as conn:
        row = (await conn.execute(select(OutboxMessage))).one()
    assert row.status == "pending" and "token" in row.last_error
    assert "REVOKED" not in row.last_error


async def test_the_bot_token_appears_in_no_log_and_is_sealed(
    env: InProcessEnv, service: PollingService, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    household = await _one_alert(env, service, bot, 950)
    bot.fake.flood["950"] = [1]
    await bot.send()
    await _reply(bot, 950, "/balance")
    bot.fake.blocked.add("950")
    later = OutboxSender(
        env.engine,
        bot.sender.notifiers,
        channels=bot.hub,
        clock=lambda: utcnow() + dt.timedelta(seconds=5),
    )
    await later.send_due()
    secret_part = TOKEN.split(":", 1)[1]
    text = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "/bot***/" in text or caplog.records  # httpx lines are masked
    assert secret_part not in text
    async with env.engine.connect() as conn:
        from aggregator.storage.models import NotifierSettings

        stored = (await conn.execute(select(NotifierSettings))).one()
    assert stored.household_id == household
    assert secret_part.encode() not in (stored.secrets_sealed or b"")
    assert secret_part not in str(stored.options)
