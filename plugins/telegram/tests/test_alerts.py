"""A drained balance: one Telegram message (in the fake Bot API) and one e-mail when both are
chosen; the recipient's language; the per-kind choice of channels; linking by code."""

from __future__ import annotations

from reference_provider.testing.aggregator_env import InProcessEnv, create_household
from sqlalchemy import select

from aggregator.alerts.sink import MailSink
from aggregator.polling import PollingService
from aggregator.storage.models import NotifierRecipient, OutboxMessage

from .conftest import TOKEN, Bot, only_low_balance

NB = "\u00a0"


def alerts_in(bot: Bot, chat_id: int) -> list[str]:
    """The alert messages a chat got (not the bot's replies to commands)."""
    return [m.text for m in bot.fake.sent(chat_id) if "/accounts/" in m.text]


async def test_a_drained_balance_sends_one_telegram_message_and_one_email(
    env: InProcessEnv, service: PollingService, sink: MailSink, bot: Bot
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only_low_balance(env, household)  # channels: every channel set up
    await bot.set_up(household)
    await bot.link_chat(household, 4242)
    (welcome,) = bot.fake.sent(4242)
    assert "Чат связан" in welcome.text

    (account_id,), _items = await env.link("reference", 1, household_id=household, balance=45_20)
    (outcome,) = await service.poll_accounts([account_id])
    assert outcome.status == "ok"
    report = await bot.send()
    assert (report.sent, report.failed) == (2, 0)

    (mail,) = sink.store.list()
    assert "45,20" in mail.subject and mail.recipients == ["ivan@example.ru"]
    (text,) = alerts_in(bot, 4242)
    plain = text.replace(NB, " ")
    assert "<b>" in text and "на счёте 45,20 ₽" in plain
    assert f'href="{env.settings.dashboard_url}/accounts/{account_id}"' in text
    assert "Открыть счёт" in text and "письмо" not in text  # a chat message, not the e-mail
    (sent,) = [m for m in bot.fake.sent(4242) if "/accounts/" in m.text]
    assert sent.parse_mode == "HTML"

    for _ in range(3):  # the same episode: nothing more anywhere
        await service.poll_accounts([account_id])
        await bot.send()
    assert sink.store.count() == 1 and len(alerts_in(bot, 4242)) == 1


async def test_each_chat_gets_the_alert_in_its_members_language(
    env: InProcessEnv, service: PollingService, bot: Bot
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only_low_balance(env, household, channels=["telegram"])
    await bot.set_up(household)
    await bot.link_chat(household, 1001, lang="ru")
    await bot.link_chat(household, 1002, lang="en")
    (account_id,), _ = await env.link("reference", 1, household_id=household, balance=30_00)
    await service.poll_accounts([account_id])
    await bot.send()
    (ru,) = alerts_in(bot, 1001)
    (en,) = alerts_in(bot, 1002)
    assert "Открыть счёт" in ru and "Баланс" in ru
    assert "Open the account" in en and "Balance" in en and "Баланс" not in en


async def test_the_household_chooses_the_channels_per_kind(
    env: InProcessEnv, service: PollingService, sink: MailSink, bot: Bot
) -> None:
    only_mail = await create_household(env.engine, name="A", users=[("a@example.ru", "ru")])
    await only_low_balance(env, only_mail, channels=["email"])
    only_chat = await create_household(env.engine, name="B", users=[("b@example.ru", "ru")])
    await only_low_balance(env, only_chat, channels=["telegram"])
    for household, chat in ((only_mail, 11), (only_chat, 22)):
        # One bot token per household: the fake knows both.
        token = f"{TOKEN}-{household}"
        bot.fake.add_bot(token)
        await bot.set_up(household, token)
        await bot.link_chat(household, chat, token=token)
    (a,), _ = await env.link("reference", 1, household_id=only_mail, balance=10_00)
    (b,), _ = await env.link("reference", 1, household_id=only_chat, balance=10_00)
    await service.poll_accounts([a, b])
    await bot.send()
    assert [m.recipients for m in sink.store.list()] == [["a@example.ru"]]
    assert alerts_in(bot, 11) == [] and len(alerts_in(bot, 22)) == 1


async def test_without_a_linked_chat_only_the_email_goes(
    env: InProcessEnv, service: PollingService, sink: MailSink, bot: Bot
) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    await only_low_balance(env, household)
    await bot.set_up(household)  # a bot, but no chat linked yet
    (account_id,), _ = await env.link("reference", 1, household_id=household, balance=10_00)
    await service.poll_accounts([account_id])
    await bot.send()
    assert sink.store.count() == 1
    async with env.engine.connect() as conn:
        notifiers = (await conn.execute(select(OutboxMessage.notifier))).scalars().all()
    assert notifiers == ["email"]


async def test_a_wrong_or_used_code_links_nothing(env: InProcessEnv, bot: Bot) -> None:
    household = await create_household(env.engine, users=[("ivan@example.ru", "ru")])
    other = await create_household(env.engine, name="B", users=[("b@example.ru", "ru")])
    await bot.set_up(household)
    await bot.set_up(other, f"{TOKEN}-other")
    foreign = await bot.code(other)  # another household's code, sent to this bot
    bot.fake.user_says(TOKEN, 77, f"/start {foreign}")
    bot.fake.user_says(TOKEN, 77, "/start WRONG123", language_code="en")
    code = await bot.code(household)
    bot.fake.user_says(TOKEN, 78, f"/start {code}")
    bot.fake.user_says(TOKEN, 79, f"/start {code}")  # used already

    async def replied() -> bool:
        return len(bot.fake.sent(77)) == 2 and bool(bot.fake.sent(79))

    from .conftest import until

    await until(replied)
    first, second = bot.fake.sent(77)
    assert "Код не подошёл" in first.text and "unknown or has expired" in second.text
    assert "Код не подошёл" in bot.fake.sent(79)[0].text
    async with env.engine.connect() as conn:
        linked = (await conn.execute(select(NotifierRecipient.address))).scalars().all()
    assert linked == ["78"]
