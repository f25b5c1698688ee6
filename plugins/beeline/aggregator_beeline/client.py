"""Talking to Beeline's mobile API: URLs, headers, the token, the terms offer, transport errors.

The API lives under ``<base>/api/``. Headers are those of the app as AnyBalance sends them
(``dukei/any-balance-providers`` ``modules/extract/abe-cell-beeline/source/lkapi.js`` lines
26-33). After ``PUT 2.0/auth/auth`` every request carries the token as header
``X-Auth-Token`` (lkapi.js lines 135, 163) and as cookie ``token`` (line 180); a request about
one number names it in the ``ctn`` query parameter (line 276 and every ``info/*`` call) and in
headers ``X-CTN`` and ``X-Login`` (lines 227-228). A reply with ``offerUrl`` asks to accept the
app's terms first: the client GETs it with ``X-Offer-Token`` and reads that answer instead
(lines 97-104). HTTP 429 is RateLimited, 5xx Unavailable (lines 76-81). No parsing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from aggregator import ParseError, SessionExpired
from aggregator.transport import check_response, json_body, mapped_errors

from . import parsing

__all__ = ["APP_HEADERS", "BeelineClient"]

_JSON_TYPES = ("application/json", "text/json")

#: The app's headers (lkapi.js lines 26-33).
APP_HEADERS = {
    "Accept": "application/json",
    "User-Agent": "okhttp/2.6.0",
    "Client-Type": "MYBEE/ANDROID/PHONE/2.90",
    "X-AppVersion": "4.43.0",
    "X-AndroidVersion": "26",
    "X-Device": "PHONE",
}


class BeelineClient:
    """A thin wrapper over the shared ``httpx.AsyncClient``; holds no per-user state."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.api = base_url.rstrip("/") + "/api/"

    def url(self, path: str) -> str:
        return self.api + path.lstrip("/")

    @staticmethod
    def headers(
        token: str | None = None, ctn: str | None = None, login: str | None = None
    ) -> dict[str, str]:
        headers = dict(APP_HEADERS)
        if token:
            headers["X-Auth-Token"] = token
            headers["Cookie"] = f"token={token}"
        if ctn:
            headers["X-CTN"] = ctn
            headers["X-Login"] = login or ctn
        return headers

    async def send(
        self,
        method: str,
        path_or_url: str,
        *,
        token: str | None = None,
        ctn: str | None = None,
        login: str | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; 429 and 5xx become RateLimited / Unavailable."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        query = dict(params or {})
        if ctn:
            query.setdefault("ctn", ctn)
        headers = self.headers(token, ctn, login)
        if body is not None:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        headers.update(extra_headers or {})
        async with mapped_errors():
            response = await self.http.request(
                method, url, headers=headers, params=query or None, json=body
            )
        return check_response(response)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        ctn: str | None = None,
        login: str | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> Any:
        """One JSON call: the decoded payload (``meta`` not checked yet: :mod:`.parsing`).

        A reply asking to accept the terms is followed once (GET ``offerUrl`` with
        ``X-Offer-Token``); an error status without a ``meta`` block is a lost session (401)
        or a changed API."""
        secrets = [s for s in (*secrets, token or "") if s]
        response = await self.send(
            method, path, token=token, ctn=ctn, login=login, params=params, body=body
        )
        payload = self._json(response, secrets)
        offer = parsing.parse_offer(payload)
        if offer is not None:
            payload = self._json(await self._accept(offer, token), [*secrets, offer.token])
        return payload

    async def _accept(self, offer: parsing.OfferToAccept, token: str | None) -> httpx.Response:
        url = urljoin(self.api, offer.url)
        if urlsplit(url).netloc != urlsplit(self.api).netloc:
            raise ParseError("beeline: the terms to accept are on another host", payload=url)
        return await self.send(
            "GET", url, token=token, extra_headers={"X-Offer-Token": offer.token}
        )

    @staticmethod
    def _json(response: httpx.Response, secrets: list[str]) -> Any:
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
        self, path: str, *, token: str, ctn: str, login: str, params: Mapping[str, str]
    ) -> tuple[bytes, str]:
        """A file (the detail's attachment): its bytes and content type. JSON is an error."""
        response = await self.send("GET", path, token=token, ctn=ctn, login=login, params=params)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in _JSON_TYPES or response.status_code >= 400:
            payload = self._json(response, [token])
            parsing.check_meta(payload, [token])
            raise ParseError("beeline: a JSON answer where a file was expected", payload=payload)
        return response.content, content_type
