"""Talking to Beeline's mobile API: URLs, headers, the token, transport errors. No parsing.

The API lives under ``<base>/api/``. After ``PUT 2.0/auth/auth`` every request carries the token
in ``X-Auth-Token``; a request about one number of the login carries it in ``X-CTN``. Transport
failures become the contract's errors through :mod:`aggregator.transport`; the ``meta`` block is
checked by :mod:`.parsing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from aggregator import ParseError, SessionExpired
from aggregator.transport import check_response, json_body, mapped_errors

from . import parsing

__all__ = ["BeelineClient"]

_JSON_TYPES = ("application/json", "text/json")


class BeelineClient:
    """A thin wrapper over the shared ``httpx.AsyncClient``; holds no per-user state."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.api = base_url.rstrip("/") + "/api/"

    def url(self, path: str) -> str:
        return self.api + path.lstrip("/")

    @staticmethod
    def headers(token: str | None = None, ctn: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        if ctn:
            headers["X-CTN"] = ctn
        return headers

    async def send(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        ctn: str | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; 429 and 5xx become RateLimited / Unavailable."""
        async with mapped_errors():
            response = await self.http.request(
                method,
                self.url(path),
                headers=self.headers(token, ctn),
                params=params,
                json=body,
            )
        return check_response(response)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        ctn: str | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> Any:
        """One JSON call: the decoded payload, ``meta`` not yet checked (:mod:`.parsing` does).

        An error status must carry a ``meta`` block; without one it is a changed API (or, for
        401, a lost session)."""
        secrets = [s for s in (*secrets, token or "") if s]
        response = await self.send(method, path, token=token, ctn=ctn, params=params, body=body)
        payload = json_body(response, secrets)
        has_meta = isinstance(payload, Mapping) and isinstance(payload.get("meta"), Mapping)
        if response.status_code == 401 and not has_meta:
            raise SessionExpired("beeline: the token is no longer valid")
        if response.status_code >= 400 and not has_meta:
            raise ParseError(
                f"beeline: HTTP {response.status_code} without a meta block",
                payload=payload,
                secrets=secrets,
            )
        return payload

    async def download(
        self,
        path: str,
        *,
        token: str,
        ctn: str,
        params: Mapping[str, str],
    ) -> tuple[bytes, str]:
        """A file (detail report): its bytes and content type. A JSON answer is an error."""
        response = await self.send("GET", path, token=token, ctn=ctn, params=params)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in _JSON_TYPES or response.status_code >= 400:
            payload = json_body(response, [token])
            if response.status_code == 401:
                parsing.check_meta(payload, [token])
                raise SessionExpired("beeline: the token is no longer valid")
            parsing.check_meta(payload, [token])
            raise ParseError("beeline: a JSON answer where a file was expected", payload=payload)
        return response.content, content_type
