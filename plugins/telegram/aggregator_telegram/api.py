"""A small client of the Telegram Bot API: the two methods the channel needs.

Shapes, from Telegram's public documentation (https://core.telegram.org/bots/api):

- a request is ``POST {base}/bot<token>/<METHOD_NAME>`` with a JSON body;
- every answer is a JSON object with a Boolean ``ok``; on success the value is in ``result``;
  otherwise ``description`` explains the error, an Integer ``error_code`` is also returned, and
  some errors carry ``parameters`` (ResponseParameters), whose ``retry_after`` is "in case of
  exceeding flood control, the number of seconds left to wait before the request can be
  repeated" (the 429 answer);
- ``getUpdates`` receives updates by long polling: ``offset`` must be "greater by one than the
  highest among the identifiers of previously received updates" (an update is confirmed, and
  forgotten by the server, once ``getUpdates`` is called with a higher offset), ``timeout`` is
  the long-poll timeout in seconds; it does not work while a webhook is set (409 Conflict, as
  when a second process polls the same bot).

The token is part of every URL: it never reaches a log line or an exception message here (a
log filter masks it in httpx's request lines).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from aggregator import Secret

__all__ = ["DEFAULT_BASE_URL", "BotApi", "BotApiError", "mask_tokens"]

DEFAULT_BASE_URL = "https://api.telegram.org"
_TOKEN_IN_URL = re.compile(r"/bot[^/\s]+/")


def mask_tokens(text: str) -> str:
    return _TOKEN_IN_URL.sub("/bot***/", text)


class _MaskBotTokens(logging.Filter):
    """Masks ``/bot<token>/`` in records of the HTTP client's loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(mask_tokens(str(a)) if "/bot" in str(a) else a for a in args)
        if isinstance(record.msg, str) and "/bot" in record.msg:
            record.msg = mask_tokens(record.msg)
        return True


_FILTER = _MaskBotTokens()
for _name in ("httpx", "httpcore"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


class BotApiError(Exception):
    """An answer with ``ok: false`` (or no answer): the code, Telegram's words, retry_after."""

    def __init__(self, error_code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    @property
    def chat_gone(self) -> bool:
        """The chat will never take a message again: the bot was blocked or kicked, the user
        deactivated (403), or the chat does not exist (400 chat not found)."""
        text = self.description.lower()
        return self.error_code == 403 or (self.error_code == 400 and "chat not found" in text)


class BotApi:
    """One bot: ``await api.call("sendMessage", {...})`` returns ``result`` or raises
    :class:`BotApiError`; network failures raise httpx's own errors."""

    def __init__(
        self,
        token: Secret,
        http: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 20.0,
    ) -> None:
        self._token = token
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"BotApi(base_url={self.base_url!r}, token=***)"

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> Any:
        url = f"{self.base_url}/bot{self._token.reveal()}/{method}"
        response = await self.http.post(
            url, json=payload or {}, timeout=timeout_s or self.timeout_s
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BotApiError(
                response.status_code, f"not a Bot API answer ({response.status_code})"
            )
        if body.get("ok") is True:
            return body.get("result")
        parameters = body.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        try:
            code = int(body.get("error_code") or response.status_code)
        except (TypeError, ValueError):
            code = response.status_code
        retry_s = float(retry_after) if isinstance(retry_after, int | float) else None
        raise BotApiError(code, mask_tokens(str(body.get("description") or "")), retry_s)
