"""Talking to the cabinet (``lk.rt.ru``) over plain HTTP once the passport let us in.

The cabinet runs on a cookie session. Cookies travel in an explicit ``Cookie`` header built from
the :class:`~aggregator.Session`, never through the shared client's cookie jar (common to every
account of the process). Every ``client-api`` call is a JSON POST as the cabinet's own page
makes it: the body carries ``client_uuid`` (a fresh UUID) and ``current_page`` (and the page's
``page_uuid``), and the ``CSRF-TOKEN`` header repeats the cookie of that name.

A lost session (``isSessionLost``, HTTP 401) is :class:`~aggregator.SessionExpired`; 429 and 5xx
are mapped by :mod:`aggregator.transport`. Cookies the cabinet renews come back to the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from aggregator import ParseError, SessionExpired
from aggregator.transport import check_response, json_body, mapped_errors

from . import parsing

__all__ = ["CSRF_COOKIE", "LkClient", "cookie_header"]

CSRF_COOKIE = "CSRF-TOKEN"
CSRF_HEADER = "CSRF-TOKEN"


def cookie_header(cookies: Mapping[str, str]) -> str:
    if not cookies:
        raise SessionExpired("rostelecom: the stored session holds no cookies")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def response_cookies(response: httpx.Response) -> dict[str, str]:
    """The cookies a response sets (a deleted one maps to "")."""
    out: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        pair = header.split(";", 1)[0]
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            expired = "max-age=0" in header.lower().replace(" ", "")
            out[name.strip()] = "" if expired else value.strip().strip('"')
    return out


class LkClient:
    """``client-api`` calls and the ``sso-auth`` page of the cabinet host."""

    def __init__(self, http: httpx.AsyncClient, lk_url: str) -> None:
        self.http = http
        self.lk = lk_url.rstrip("/")
        self.api_base = f"{self.lk}/client-api/"

    def _forget_jar(self, response: httpx.Response) -> None:
        """Drop what the shared client's jar kept of this response (it is not ours to share)."""
        names = set(response_cookies(response))
        if not names:
            return
        host = urlsplit(self.lk).hostname or ""
        for cookie in list(self.http.cookies.jar):
            if cookie.name in names and cookie.domain.lstrip(".") in (host, host + ".local"):
                self.http.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)

    def headers(self, cookies: Mapping[str, str]) -> dict[str, str]:
        headers = {
            "Cookie": cookie_header(cookies),
            "Accept": "application/json, text/plain, */*",
            "Origin": "{0.scheme}://{0.netloc}".format(urlsplit(self.lk)),
            "Referer": self.lk + "/",
        }
        csrf = cookies.get(CSRF_COOKIE)
        if csrf:
            headers[CSRF_HEADER] = csrf
        return headers

    async def api(
        self,
        method: str,
        body: Mapping[str, Any],
        cookies: Mapping[str, str],
        *,
        page: str = "main",
        page_uuid: str | None = None,
    ) -> tuple[Any, dict[str, str]]:
        """``POST client-api/<method>``: the decoded JSON (``isError`` not yet checked) and the
        cookies the cabinet set."""
        secrets = [v for v in cookies.values() if v]
        payload = {
            **body,
            "client_uuid": str(uuid.uuid4()).upper(),
            "current_page": page,
        }
        if page_uuid:
            payload["page_uuid"] = page_uuid
        async with mapped_errors():
            response = await self.http.post(
                self.api_base + method,
                json=payload,
                headers=self.headers(cookies),
                follow_redirects=False,
            )
        self._forget_jar(response)
        check_response(response)
        renewed = response_cookies(response)
        if response.is_redirect:
            raise SessionExpired("rostelecom: the cabinet sent the call to its login")
        if response.status_code in (401, 403) and not response.content.strip():
            raise SessionExpired("rostelecom: the session is lost")
        data = json_body(response, secrets)
        if response.status_code in (401, 403):
            parsing.check_api(data, secrets)
            raise SessionExpired("rostelecom: the session is lost")
        if response.status_code >= 400:
            parsing.check_api(data, secrets)
            raise ParseError(
                f"rostelecom: HTTP {response.status_code} that is not an error",
                payload=data,
                secrets=secrets,
            )
        return data, renewed

    async def download(self, report_id: str, cookies: Mapping[str, str]) -> httpx.Response:
        """``GET client-api/downloadDetail?reportId=`` -> the file (or a JSON error)."""
        async with mapped_errors():
            response = await self.http.get(
                self.api_base + "downloadDetail",
                params={"reportId": report_id},
                headers=self.headers(cookies),
                follow_redirects=False,
            )
        self._forget_jar(response)
        return check_response(response)
