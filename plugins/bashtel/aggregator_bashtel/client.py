"""How to talk to the Bashtel cabinet over plain HTTP once the browser has logged in.

The browser is needed only for the login form; afterwards every page is read with the host's
shared ``httpx.AsyncClient`` and the session cookies the browser obtained. Cookies travel in an
explicit ``Cookie`` header built from :class:`~aggregator.Session` data, never through the
shared client's cookie jar (that jar is common to every account of the process).

A redirect to the login form, or the login form itself, means the cabinet forgot the session:
:class:`~aggregator.SessionExpired`, and the host logs in again. The cabinet's own error pages
become :class:`~aggregator.OperationRejected` with its words; 429 and 5xx are mapped by
:mod:`aggregator.transport`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from aggregator import OperationRejected, ParseError, Session, SessionExpired
from aggregator.transport import check_response, mapped_errors

from . import parsing

__all__ = ["BashtelClient", "Download", "cookie_header"]

MAX_REDIRECTS = 5


def cookie_header(session: Session) -> str:
    """The ``Cookie`` header from the cookies stored in the session (all are the cabinet's)."""
    cookies = session.data.get("cookies")
    if not isinstance(cookies, Mapping) or not cookies:
        raise SessionExpired("the stored session holds no cookies")
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    filename: str | None


class BashtelClient:
    """Reads and submits the cabinet's pages with a stored cookie session."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path.rstrip("/")

    def url(self, path: str) -> str:
        """An absolute URL from a cabinet path (``/cabinet``) or a link found on a page."""
        if path.startswith(("http://", "https://")):
            return path
        if self.base_path and path.startswith(self.base_path + "/"):
            return urljoin(self.base_url + "/", path)
        return self.base_url + "/" + path.lstrip("/")

    async def get(
        self, session: Session, path: str, params: Mapping[str, str] | None = None
    ) -> str:
        """The HTML of a cabinet page (after following the cabinet's redirects)."""
        response = await self._send(session, "GET", self.url(path), params=params)
        return self._page(session, response)

    async def submit(self, session: Session, form: parsing.Form, **values: str) -> str:
        """Submit a form found on a page (its hidden fields and CSRF token included)."""
        data = {**form.fields, **values}
        method = form.method.upper()
        if method == "GET":
            response = await self._send(session, "GET", self.url(form.action), params=data)
        else:
            response = await self._send(session, "POST", self.url(form.action), data=data)
        return self._page(session, response)

    async def download(self, session: Session, href: str) -> Download:
        """A file linked from a page (the spending detail as PDF or XLSX)."""
        response = await self._send(session, "GET", self.url(href))
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if media_type.startswith("text/html"):
            self._page(session, response)  # raises SessionExpired or the cabinet's error
            raise ParseError("bashtel: a download answered with a page", payload=response.text)
        disposition = response.headers.get("content-disposition", "")
        match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
        return Download(response.content, media_type, match.group(1) if match else None)

    # -- plumbing -------------------------------------------------------------------------
    async def _send(
        self,
        session: Session,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        for _ in range(MAX_REDIRECTS + 1):
            if (urlsplit(url).path or "/").rstrip("/").endswith("/login"):
                raise SessionExpired("the cabinet sent the session back to its login form")
            headers = {
                "Cookie": cookie_header(session),
                "Accept": "text/html,application/xhtml+xml",
                "Accept-Language": "ru-RU,ru;q=0.9",
            }
            kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
            if params:
                kwargs["params"] = dict(params)
            if data is not None and method == "POST":
                kwargs["data"] = dict(data)
            async with mapped_errors():
                response = await self.http.request(method, url, **kwargs)
            check_response(response)
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise ParseError("bashtel: a redirect without a location", payload="")
                url = urljoin(url, location)
                method, params, data = "GET", None, None
                continue
            return response
        raise ParseError("bashtel: too many redirects", payload=url)

    def _page(self, session: Session, response: httpx.Response) -> str:
        html = response.text
        if parsing.is_login_page(html):
            raise SessionExpired("the cabinet answered with its login form")
        message = parsing.parse_error_page(html)
        if message is not None or response.status_code >= 400:
            if response.status_code in (401, 419):
                raise SessionExpired("the cabinet says the session is over")
            if message is None:
                raise ParseError(
                    f"bashtel: unexpected status {response.status_code}",
                    payload=html,
                    secrets=session.secrets(),
                )
            raise OperationRejected(message, code=str(response.status_code))
        try:
            parsing.check_complete(html)
        except ParseError as exc:
            raise parsing.redacted(exc, session.secrets()) from None
        return html
