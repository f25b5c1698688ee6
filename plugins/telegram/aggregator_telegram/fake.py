"""A fake Telegram Bot API server for tests, served on loopback (an ASGI app for uvicorn).

It answers like the real one, as Telegram's public documentation describes it
(https://core.telegram.org/bots/api):

- "All queries to the Telegram Bot API must be served over HTTPS and need to be presented in
  this form: ``https://api.telegram.org/bot<token>/METHOD_NAME``" (GET and POST, JSON or form
  parameters; "All methods in the Bot API are case-insensitive");
- "The response contains a JSON object, which always has a Boolean field 'ok' and may have an
  optional String field 'description' with a human-readable description of the result. If 'ok'
  equals true, the request was successful and the result of the query can be found in the
  'result' field. In case of an unsuccessful request, 'ok' equals false and the error is
  explained in the 'description'. An Integer 'error_code' field is also returned [...]. Some
  errors may also have an optional field 'parameters' of the type ResponseParameters", whose
  ``retry_after`` is, "in case of exceeding flood control, the number of seconds left to wait
  before the request can be repeated" — the answer ``{"ok": false, "error_code": 429,
  "description": "Too Many Requests: retry after N", "parameters": {"retry_after": N}}``;
- ``sendMessage`` (``chat_id``, ``text``, ``parse_mode``): "On success, the sent Message is
  returned" (``message_id``, ``date``, ``chat``, ``text``); a blocked bot answers 403
  "Forbidden: bot was blocked by the user", a chat that does not exist 400 "Bad Request: chat
  not found";
- ``getUpdates`` (``offset``, ``limit``, ``timeout``, ``allowed_updates``): "Use this method to
  receive incoming updates using long polling. Returns an Array of Update objects." ``offset``:
  "Must be greater by one than the highest among the identifiers of previously received
  updates. By default, updates starting with the earliest unconfirmed update are returned. An
  update is considered confirmed as soon as getUpdates is called with an offset higher than its
  update_id." ``timeout``: "Timeout in seconds for long polling." An Update has ``update_id``
  and, for a message, ``message`` (``message_id``, ``from`` with ``language_code``, ``chat``,
  ``date``, ``text``);
- Telegram's Bot FAQ on limits: "When sending messages inside a particular chat, avoid sending
  more than one message per second. We may allow short bursts that go over this limit, but
  eventually you'll begin receiving 429 errors." The fake answers 429 when a chat gets two
  messages within ``chat_interval_s`` (off by default) or when a test asks for flood control.

Use it from tests::

    fake = FakeBotApi()
    fake.add_bot("123:SECRET")
    with running_server(fake.app) as url:  # settings: notifier_urls={"telegram": url}
        fake.user_says("123:SECRET", chat_id=42, text="/balance")
        ... fake.sent(chat_id=42) ...
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FakeBotApi", "SentMessage"]


@dataclass
class SentMessage:
    token: str
    chat_id: str
    text: str
    parse_mode: str | None
    message_id: int
    at: float


@dataclass
class _Bot:
    token: str
    user_id: int
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100
    next_message_id: int = 1
    polls: int = 0  # getUpdates calls seen
    active_polls: int = 0


class FakeBotApi:
    """The fake server's state and its ASGI app (``fake.app``). Thread-safe: tests talk to it
    from their own thread while uvicorn serves it from another."""

    def __init__(self, chat_interval_s: float = 0.0, answer_delay_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.bots: dict[str, _Bot] = {}
        self.messages: list[SentMessage] = []
        self.blocked: set[str] = set()  # chats that blocked the bot: 403
        self.deleted: set[str] = set()  # chats that no longer exist: 400 chat not found
        self.flood: dict[str, list[int]] = {}  # chat -> retry_after values to answer first
        self.chat_interval_s = chat_interval_s
        # A delivered message is answered this much later (the window in which a sender that
        # dies has sent a message without learning it: the at-least-once case).
        self.answer_delay_s = answer_delay_s
        self.requests: list[tuple[str, str]] = []  # (method, chat_id or "")
        self._last_in_chat: dict[str, float] = {}

    # -- test helpers ---------------------------------------------------------------------------
    def add_bot(self, token: str, username: str = "household_bot") -> None:
        with self._lock:
            self.bots[token] = _Bot(token, 7000 + len(self.bots), username)

    def user_says(
        self,
        token: str,
        chat_id: int,
        text: str,
        *,
        first_name: str = "Иван",
        language_code: str = "ru",
        chat_type: str = "private",
        title: str | None = None,
    ) -> int:
        """A person writes ``text`` to the bot: an Update waits for ``getUpdates``."""
        with self._lock:
            bot = self.bots[token]
            update_id = bot.next_update_id
            bot.next_update_id += 1
            chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
            if title:
                chat["title"] = title
            else:
                chat["first_name"] = first_name
            bot.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": bot.next_message_id,
                        "from": {
                            "id": abs(chat_id),
                            "is_bot": False,
                            "first_name": first_name,
                            "language_code": language_code,
                        },
                        "chat": chat,
                        "date": int(time.time()),
                        "text": text,
                    },
                }
            )
            bot.next_message_id += 1
        return update_id

    def sent(self, chat_id: int | str | None = None, token: str | None = None) -> list[SentMessage]:
        with self._lock:
            return [
                m
                for m in self.messages
                if (chat_id is None or m.chat_id == str(chat_id))
                and (token is None or m.token == token)
            ]

    def polling(self, token: str) -> bool:
        """Whether a getUpdates long poll of this bot is waiting now."""
        with self._lock:
            bot = self.bots.get(token)
            return bot is not None and bot.active_polls > 0

    def pending_updates(self, token: str) -> int:
        with self._lock:
            return len(self.bots[token].updates)

    # -- the API ----------------------------------------------------------------------------------
    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return body

    def _send_message(self, bot: _Bot, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = str(params.get("chat_id") or "")
        text = str(params.get("text") or "")
        if not chat_id:
            return 400, self._error(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return 400, self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return 400, self._error(400, "Bad Request: message is too long")
        with self._lock:
            self.requests.append(("sendMessage", chat_id))
            if chat_id in self.blocked:
                return 403, self._error(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.deleted:
                return 400, self._error(400, "Bad Request: chat not found")
            queued = self.flood.get(chat_id)
            if queued:
                retry = queued.pop(0)
                return 429, self._error(429, f"Too Many Requests: retry after {retry}", retry)
            now = time.monotonic()
            last = self._last_in_chat.get(chat_id)
            if self.chat_interval_s and last is not None and now - last < self.chat_interval_s:
                retry = max(1, round(self.chat_interval_s - (now - last)))
                return 429, self._error(429, f"Too Many Requests: retry after {retry}", retry)
            self._last_in_chat[chat_id] = now
            message_id = bot.next_message_id
            bot.next_message_id += 1
            self.messages.append(
                SentMessage(bot.token, chat_id, text, params.get("parse_mode"), message_id, now)
            )
        return 200, {
            "ok": True,
            "result": {
                "message_id": message_id,
                "from": {"id": bot.user_id, "is_bot": True, "username": bot.username},
                "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id},
                "date": int(time.time()),
                "text": text,
            },
        }

    async def _get_updates(self, bot: _Bot, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            offset = int(params["offset"]) if params.get("offset") is not None else None
            timeout = float(params.get("timeout") or 0)
            limit = int(params.get("limit") or 100)
        except (TypeError, ValueError):
            return 400, self._error(400, "Bad Request: wrong parameter")
        deadline = time.monotonic() + min(timeout, 50.0)
        with self._lock:
            bot.polls += 1
            bot.active_polls += 1
        try:
            while True:
                with self._lock:
                    if offset is not None:  # confirmed: forgotten
                        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
                    ready = bot.updates[:limit]
                if ready or time.monotonic() >= deadline:
                    return 200, {"ok": True, "result": ready}
                await asyncio.sleep(0.02)
        finally:
            with self._lock:
                bot.active_polls -= 1

    @property
    def app(self) -> FakeBotApi:
        """The ASGI application (the object itself: uvicorn needs an ``async __call__``)."""
        return self

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = await self._answer(scope, body)
        payload = json.dumps(answer, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
        parts = scope["path"].strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, self._error(404, "Not Found")
        token, method = parts[0][3:], parts[1].lower()
        with self._lock:
            bot = self.bots.get(token)
        if bot is None:
            return 401, self._error(401, "Unauthorized")
        params: dict[str, Any] = dict(parse_qsl(scope.get("query_string", b"").decode()))
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode()
        if body:
            if content_type.startswith("application/json"):
                try:
                    parsed = json.loads(body)
                except ValueError:
                    return 400, self._error(400, "Bad Request: can't parse JSON")
                if isinstance(parsed, dict):
                    params.update(parsed)
            else:
                params.update(parse_qsl(body.decode()))
        if method == "sendmessage":
            answer = self._send_message(bot, params)
            if self.answer_delay_s:
                await asyncio.sleep(self.answer_delay_s)
            return answer
        if method == "getupdates":
            return await self._get_updates(bot, params)
        if method == "getme":
            return 200, {
                "ok": True,
                "result": {
                    "id": bot.user_id,
                    "is_bot": True,
                    "first_name": "Household",
                    "username": bot.username,
                },
            }
        return 404, self._error(404, "Not Found: method not found")
