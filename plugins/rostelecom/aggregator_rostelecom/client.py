"""Talking to Rostelecom: the passport (OpenID Connect, realm ``b2c``, client ``lk_b2c``) and the
client-api JSON. URLs, headers and transport errors; no parsing.

The HTTP client is shared by every account of the process, so nothing here relies on its cookie
jar: the passport's login session travels in its form URLs, and the client-api is called with
the session's bearer token in ``Authorization``. Redirects are never followed: the plugin reads
``Location`` itself to catch the authorization code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from aggregator import ParseError, SessionExpired
from aggregator.transport import check_response, json_body, mapped_errors

from . import parsing

__all__ = ["CLIENT_ID", "RostelecomClient"]

CLIENT_ID = "lk_b2c"
REALM = "passport/auth/realms/b2c"


class RostelecomClient:
    """A thin wrapper over the shared ``httpx.AsyncClient``; holds no per-user state."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.auth_url = f"{self.base}/{REALM}/protocol/openid-connect/auth"
        self.token_url = f"{self.base}/{REALM}/protocol/openid-connect/token"
        self.logout_url = f"{self.base}/{REALM}/protocol/openid-connect/logout"
        self.api_base = f"{self.base}/client-api/"
        self.default_redirect_uri = f"{self.base}/lk/sso-auth"

    def authorize_url(self, redirect_uri: str, state: str, idp_hint: str | None = None) -> str:
        query = {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if idp_hint:
            query["kc_idp_hint"] = idp_hint
        return f"{self.auth_url}?{urlencode(query)}"

    async def page(self, url: str) -> httpx.Response:
        """GET a passport page without following redirects; 429/5xx raise."""
        async with mapped_errors():
            response = await self.http.get(
                url, headers={"Accept": "text/html"}, follow_redirects=False
            )
        return check_response(response)

    async def post_form(self, url: str, data: Mapping[str, str]) -> httpx.Response:
        """POST a passport form without following redirects; 429/5xx raise."""
        async with mapped_errors():
            response = await self.http.post(
                url, data=dict(data), headers={"Accept": "text/html"}, follow_redirects=False
            )
        return check_response(response)

    async def binary(self, url: str) -> httpx.Response:
        async with mapped_errors():
            response = await self.http.get(url, follow_redirects=False)
        return check_response(response)

    async def token(self, form: Mapping[str, str], secrets: Iterable[str]) -> Any:
        """POST the token endpoint; the decoded JSON (OAuth errors included)."""
        async with mapped_errors():
            response = await self.http.post(
                self.token_url,
                data={"client_id": CLIENT_ID, **form},
                headers={"Accept": "application/json"},
                follow_redirects=False,
            )
        check_response(response)
        return json_body(response, secrets)

    async def logout(self, refresh_token: str) -> None:
        async with mapped_errors():
            response = await self.http.post(
                self.logout_url,
                data={"client_id": CLIENT_ID, "refresh_token": refresh_token},
                follow_redirects=False,
            )
        check_response(response)

    async def api(self, method: str, body: Mapping[str, Any], access_token: str) -> Any:
        """``POST client-api/<method>``: the decoded JSON (``isError`` not yet checked)."""
        secrets = [access_token]
        async with mapped_errors():
            response = await self.http.post(
                self.api_base + method,
                json=dict(body),
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/json",
                    "X-Requested-With": "XMLHttpRequest",
                },
                follow_redirects=False,
            )
        check_response(response)
        if response.status_code in (401, 403) and not response.content.strip():
            raise SessionExpired("rostelecom: the session is lost")
        payload = json_body(response, secrets)
        if response.status_code in (401, 403):
            parsing.check_api(payload, secrets)
            raise SessionExpired("rostelecom: the session is lost")
        if response.status_code >= 400:
            parsing.check_api(payload, secrets)
            raise ParseError(
                f"rostelecom: HTTP {response.status_code} that is not an error",
                payload=payload,
                secrets=secrets,
            )
        return payload

    async def download(self, report_id: str, access_token: str) -> httpx.Response:
        """``GET client-api/downloadDetail?reportId=`` -> the file (or a JSON error)."""
        async with mapped_errors():
            response = await self.http.get(
                self.api_base + "downloadDetail",
                params={"reportId": report_id},
                headers={"Authorization": f"Bearer {access_token}"},
                follow_redirects=False,
            )
        return check_response(response)
