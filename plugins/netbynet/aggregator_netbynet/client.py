"""How to talk to NetByNet's JSON API (``<base>/api/``): requests, cookies, transport errors.

The session is a cookie the API sets at ``v3/login``. It travels in an explicit ``Cookie``
header built from the stored :class:`~aggregator.Session`, never through the shared client's
cookie jar (common to every account of the process). 401 means the session is over; 429 and
5xx are mapped by :mod:`aggregator.transport`; malformed or truncated JSON is a ParseError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from aggregator import ParseError, SessionExpired
from aggregator.transport import check_response, json_body, mapped_errors

__all__ = ["ApiReply", "NetbynetClient", "session_cookies"]


def session_cookies(data: Mapping[str, Any]) -> dict[str, str]:
    """The cookies stored in ``Session.data`` (or a flow's state)."""
    cookies = data.get("cookies")
    if not isinstance(cookies, Mapping) or not cookies:
        raise SessionExpired("the stored session holds no cookie")
    return {str(k): str(v) for k, v in cookies.items()}


@dataclass(frozen=True)
class ApiReply:
    payload: Any = field(repr=False)
    cookies: dict[str, str] = field(default_factory=dict, repr=False)


class NetbynetClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.api = self.base_url + "/api/"

    async def call(
        self,
        cookies: Mapping[str, str] | None,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: list[str] | None = None,
        device: str | None = None,
        cookies_wanted: bool = False,
    ) -> ApiReply:
        """One API call; the decoded JSON reply (and the cookies it set, when wanted: reading
        Set-Cookie costs more than the rest of a small reply)."""
        response = await self._send(cookies, method, path, body=body, params=params, device=device)
        if response.status_code == 401:
            raise SessionExpired("the API says the session is over")
        payload = json_body(response, secrets=secrets or [])
        if response.status_code >= 400 and not isinstance(payload, Mapping):
            raise ParseError(
                f"netbynet: unexpected status {response.status_code}",
                payload=response.content[:2000],
                secrets=secrets or [],
            )
        jar = dict(response.cookies.items()) if cookies_wanted else {}
        return ApiReply(payload=payload, cookies=jar)

    async def image(
        self,
        cookies: Mapping[str, str] | None,
        path: str,
        params: Mapping[str, str] | None = None,
        device: str | None = None,
    ) -> tuple[bytes, ApiReply]:
        """A picture (the captcha) and the cookies that bind it to the next login."""
        response = await self._send(
            cookies, "GET", path, params=params, accept="image/png", device=device
        )
        content = response.content
        if response.status_code != 200 or not content.startswith(b"\x89PNG"):
            raise ParseError("netbynet: the captcha is not a PNG picture", payload=content[:200])
        return content, ApiReply(payload=None, cookies=dict(response.cookies.items()))

    async def logout(self, cookies: Mapping[str, str]) -> None:
        """``GET <base>/logout``: outside the API (MobileBalance WiFire_API_inet1.js line 175)."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        async with mapped_errors():
            await self.http.get(self.base_url + "/logout", headers=headers, follow_redirects=False)

    async def _send(
        self,
        cookies: Mapping[str, str] | None,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
        device: str | None = None,
    ) -> httpx.Response:
        headers = {
            "Accept": accept,
            "X-Requested-With": "XMLHttpRequest",
            "Accept-Language": "ru-RU,ru;q=0.9",
        }
        if device:
            headers["X-Device-Id"] = device
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
        if body is not None:
            kwargs["json"] = dict(body)
        if params:
            kwargs["params"] = dict(params)
        async with mapped_errors():
            response = await self.http.request(method, self.api + path, **kwargs)
        return check_response(response)
