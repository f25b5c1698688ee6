"""HTTP to the native dialect: one method, ``call``, that maps every failure onto the contract.

Transport errors, 429 and 5xx go through :mod:`aggregator.transport` (the one translation
point); the dialect's ``{"error": {"code", "message"}}`` answers become contract errors here.
A demanded captcha is not an error for the caller: it surfaces as :class:`CaptchaDemanded`,
which the provider turns into a challenge.
"""

from __future__ import annotations

from typing import Any

import httpx

from aggregator import (
    AccountLocked,
    InvalidCredentials,
    OperationRejected,
    ParseError,
    SessionExpired,
)
from aggregator.transport import check_response, json_body, mapped_errors

__all__ = ["CaptchaDemanded", "ReferenceClient"]


class CaptchaDemanded(Exception):
    """The login needs a captcha: ``captcha_id`` and the picture's ``image_url``."""

    def __init__(self, captcha_id: str, image_url: str) -> None:
        super().__init__("captcha demanded")
        self.captcha_id = captcha_id
        self.image_url = image_url


#: A bearer token, or the session's data holding it (renewed in place when the operator rotates).
Token = str | dict[str, Any] | None


class ReferenceClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: Token = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        device: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> tuple[int, Any]:
        """``(status, body)`` of a JSON call (status 200 or 202); errors raise."""
        response = await self._send(method, path, token, json, params, device)
        body = json_body(response, secrets)
        if response.status_code in (200, 202):
            return response.status_code, body
        raise self._error(response.status_code, body)

    async def download(
        self, path: str, *, token: Token = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """A file (report, captcha picture): the response itself, errors raised."""
        response = await self._send("GET", path, token, None, params, None)
        if response.status_code != 200:
            raise self._error(response.status_code, json_body(response))
        return response

    async def _send(
        self,
        method: str,
        path: str,
        token: Token,
        json: Any,
        params: dict[str, str] | None,
        device: str | None,
    ) -> httpx.Response:
        """``token`` is the token, or the session's data holding it: an answer that rotates
        the token (``X-Renewed-Token``; the old one stops working) updates that data and marks
        it ``refreshed`` for :meth:`Provider.refreshed_session`."""
        headers = {}
        value = token.get("token") if isinstance(token, dict) else token
        if value:
            headers["authorization"] = f"Bearer {value}"
        if device:
            headers["x-device-id"] = device
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        async with mapped_errors():
            response = await self.http.request(
                method, url, json=json, params=params, headers=headers
            )
        renewed = response.headers.get("x-renewed-token")
        if renewed and isinstance(token, dict):
            token["token"] = renewed
            token["refreshed"] = True
        return check_response(response)

    @staticmethod
    def _error(status: int, body: Any) -> Exception:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            return ParseError(f"unexpected answer with status {status}", body)
        code, message = error["code"], str(error.get("message") or "")
        if code == "captcha_required":
            captcha = error.get("captcha") or {}
            if not captcha.get("id") or not captcha.get("image_url"):
                return ParseError("captcha demanded without a picture", body)
            return CaptchaDemanded(captcha["id"], captcha["image_url"])
        if code == "invalid_credentials":
            return InvalidCredentials(message)
        if code == "account_locked":
            return AccountLocked(message)
        if code in ("session_expired", "password_change_required"):
            return SessionExpired(message)
        return OperationRejected(message, code=code)
