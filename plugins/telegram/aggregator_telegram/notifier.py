"""The Telegram channel: alerts to linked chats, and a bot answering commands.

Each household creates its own bot (@BotFather) and types its token on the settings page; the
core seals it with the vault and hands it over in ``Notification.options``. A person links a
chat by sending the bot ``/start CODE`` with the one-time code the dashboard shows; from then
on that chat gets the household's alerts in the language of the member who made the code.

Sending (:meth:`TelegramNotifier.send`), one outbox row per chat:

- Telegram's flood control answers 429 with ``parameters.retry_after``: raised as
  :class:`~aggregator.RateLimited`, so the outbox tries exactly that much later;
- in a chat, at most one message a second (a group: one every three seconds, Telegram allows
  20 a minute there), so a burst of alerts does not run into 429 in the first place;
- 403 (the bot was blocked, kicked, the user deactivated) and 400 "chat not found" raise
  :class:`~aggregator.RecipientGone`: the core disables that chat and says so on the
  dashboard, instead of retrying forever;
- a refused token (401/404), 5xx, a network failure: :class:`~aggregator.TemporaryError`
  (retried with backoff: fixing the token delivers the queued alerts).

Receiving (:meth:`TelegramNotifier.run`): one ``getUpdates`` long poll per household bot.
``/start CODE`` links the chat, ``/balance`` lists every account with its balance and status,
``/help`` says what the bot does. A chat that is not linked learns how to link and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any, ClassVar

import httpx

from aggregator import (
    ChannelField,
    ChannelHub,
    Notification,
    Notifier,
    OperationRejected,
    RateLimited,
    RecipientGone,
    Secret,
    TemporaryError,
    Timeout,
    Unavailable,
)

from . import bot
from .api import DEFAULT_BASE_URL, BotApi, BotApiError

__all__ = ["TelegramNotifier"]

log = logging.getLogger(__name__)


class TelegramNotifier(Notifier):
    id = "telegram"
    name = "Telegram"
    fields = (
        ChannelField(
            name="bot_token",
            label_ru="Токен бота",
            label_en="Bot token",
            secret=True,
            hint_ru="Создайте бота у @BotFather (команда /newbot) и вставьте его токен.",
            hint_en="Create a bot with @BotFather (the /newbot command) and paste its token.",
        ),
    )
    links_recipients = True
    link_hint_ru = "Отправьте своему боту в Telegram: /start {code}"
    link_hint_en = "Send your bot in Telegram: /start {code}"

    # Telegram's Bot FAQ: no more than one message a second in a chat, 20 a minute in a group.
    chat_interval_s: ClassVar[float] = 1.0
    group_interval_s: ClassVar[float] = 3.0
    long_poll_s: ClassVar[int] = 25  # getUpdates' timeout
    refresh_s: ClassVar[float] = 5.0  # how often the set of household bots is read again
    error_pause_s: ClassVar[float] = 5.0

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        urls = self.settings.get("notifier_urls") or {}
        self.base_url = str(urls.get(self.id) or DEFAULT_BASE_URL)
        self.timeout_s = float(self.settings.get("http_timeout_s") or 20.0)
        self._http: httpx.AsyncClient | None = None
        self._last_sent: dict[str, float] = {}
        self._pace = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TelegramNotifier(base_url={self.base_url!r})"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(
                timeout=self.timeout_s, limits=httpx.Limits(max_connections=20)
            )
        return self._http

    def api(self, token: Secret) -> BotApi:
        return BotApi(token, self._client(), self.base_url, self.timeout_s)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- sending --------------------------------------------------------------------------------
    async def _wait_for_chat(self, chat_id: str) -> None:
        interval = self.group_interval_s if chat_id.startswith("-") else self.chat_interval_s
        async with self._pace:
            wait = self._last_sent.get(chat_id, 0.0) + interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_sent[chat_id] = time.monotonic()

    async def send(self, notification: Notification) -> None:
        token = notification.options.get("bot_token")
        if not token:
            raise TemporaryError("the Telegram bot token is not set")
        if not notification.recipients:
            raise OperationRejected("no chat for this alert")
        chat_id = notification.recipients[0]
        await self._wait_for_chat(chat_id)
        payload = {
            "chat_id": chat_id,
            "text": bot.alert_text(notification),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        await self._deliver(_secret(token), chat_id, payload)

    async def _deliver(self, token: Secret, chat_id: str, payload: dict[str, Any]) -> Any:
        try:
            return await self._post(self.api(token), chat_id, payload)
        except BotApiError as exc:
            raise self._error(exc, chat_id) from None
        except httpx.TimeoutException:
            raise Timeout("Telegram did not answer in time") from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach Telegram ({type(exc).__name__})") from None

    @staticmethod
    def _error(exc: BotApiError, chat_id: str) -> Exception:
        if exc.error_code == 429:
            return RateLimited("Telegram asks to slow down", retry_after=exc.retry_after)
        if exc.chat_gone:
            return RecipientGone(chat_id, f"Telegram: {exc.description}"[:300])
        if exc.error_code in (401, 404):
            return TemporaryError("Telegram refused the bot token; check it in the settings")
        if exc.error_code >= 500:
            return Unavailable(f"Telegram answered {exc.error_code}")
        return OperationRejected(
            exc.description or "Telegram refused the message", code=str(exc.error_code)
        )

    # -- receiving ------------------------------------------------------------------------------
    async def run(self, hub: ChannelHub) -> None:
        """Poll each household's bot for commands, following settings as they change."""
        running: dict[int, tuple[str, asyncio.Task[None]]] = {}
        try:
            while True:
                wanted = {c.household_id: c for c in await hub.households(self.id)}
                for household_id, (fingerprint, task) in list(running.items()):
                    channel = wanted.get(household_id)
                    value = channel.options.get("bot_token") if channel is not None else None
                    same = bool(value) and _key(_secret(value)) == fingerprint
                    if not same or task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
                        del running[household_id]
                for household_id, channel in wanted.items():
                    value = channel.options.get("bot_token")
                    if household_id in running or not value:
                        continue
                    bot_token = _secret(value)
                    task = asyncio.create_task(
                        self._poll_updates(hub, household_id, bot_token),
                        name=f"telegram-updates-{household_id}",
                    )
                    running[household_id] = (_key(bot_token), task)
                await asyncio.sleep(self.refresh_s)
        finally:
            for _fingerprint, task in running.values():
                task.cancel()
            for _fingerprint, task in running.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.aclose()

    async def _poll_updates(self, hub: ChannelHub, household_id: int, token: Secret) -> None:
        api = self.api(token)
        offset: int | None = None
        while True:
            payload: dict[str, Any] = {"timeout": self.long_poll_s, "allowed_updates": ["message"]}
            if offset is not None:
                payload["offset"] = offset
            try:
                updates = await api.call("getUpdates", payload, self.long_poll_s + self.timeout_s)
            except BotApiError as exc:
                pause = exc.retry_after or (30.0 if exc.error_code in (401, 404, 409) else 5.0)
                log.warning(
                    "telegram bot of household %s: getUpdates refused (%s); again in %.0f s",
                    household_id,
                    exc.error_code,
                    pause,
                )
                await asyncio.sleep(pause)
                continue
            except httpx.HTTPError as exc:
                log.info("telegram: getUpdates failed (%s)", type(exc).__name__)
                await asyncio.sleep(self.error_pause_s)
                continue
            for update in updates or []:
                if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                    continue
                offset = max(offset or 0, update["update_id"] + 1)
                message = update.get("message")
                if isinstance(message, dict):
                    try:
                        await self._handle(hub, api, household_id, message)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("telegram: a command of household %s failed", household_id)

    async def _handle(
        self, hub: ChannelHub, api: BotApi, household_id: int, message: dict[str, Any]
    ) -> None:
        chat = message.get("chat") or {}
        if not isinstance(chat, dict) or chat.get("id") is None:
            return
        chat_id = str(chat["id"])
        sender = message.get("from") or {}
        asked_lang = bot.lang_of(sender.get("language_code") if isinstance(sender, dict) else None)
        command, argument = bot.parse_command(str(message.get("text") or ""))
        recipient = await hub.recipient(self.id, household_id, chat_id)
        linked = recipient is not None and recipient.active
        lang = recipient.lang if recipient is not None and linked else asked_lang
        if command == "start" and argument:
            label = str(
                chat.get("title")
                or chat.get("username")
                or " ".join(p for p in (chat.get("first_name"), chat.get("last_name")) if p)
                or chat_id
            )
            new = await hub.link(self.id, household_id, argument, chat_id, label)
            reply = bot.linked_text(new.lang) if new is not None else bot.wrong_code_text(lang)
        elif command == "balance":
            if not linked:
                reply = bot.not_linked_text(lang)
            else:
                reply = bot.balance_text(await hub.accounts(household_id, lang), lang)
        elif command in ("start", "help") or command:
            reply = bot.help_text(lang, linked)
        else:
            return  # plain chatter: the bot stays quiet
        await self._reply(api, chat_id, reply)

    async def _post(self, api: BotApi, chat_id: str, payload: dict[str, Any]) -> Any:
        """sendMessage; the chat's pace counts from when Telegram answered (a slow request
        does not let the next one arrive sooner than the interval)."""
        try:
            return await api.call("sendMessage", payload)
        finally:
            self._last_sent[chat_id] = time.monotonic()

    async def _reply(self, api: BotApi, chat_id: str, text: str) -> None:
        await self._wait_for_chat(chat_id)
        payload = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        try:
            await self._post(api, chat_id, payload)
        except BotApiError as exc:
            if exc.error_code == 429 and exc.retry_after:
                await asyncio.sleep(exc.retry_after)
                with contextlib.suppress(BotApiError, httpx.HTTPError):
                    await self._post(api, chat_id, payload)
            else:
                log.info("telegram: a reply was refused (%s)", exc.error_code)
        except httpx.HTTPError as exc:
            log.info("telegram: a reply failed (%s)", type(exc).__name__)


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(str(value))


def _key(token: Secret) -> str:
    """A fingerprint of a token, to notice it changed without keeping it in the clear."""
    return hashlib.sha256(token.reveal().encode()).hexdigest()
