"""Fixtures of the dashboard's tests: the app in-process, talking to the reference provider
in-process too (``httpx.ASGITransport``), with a fresh SQLite database per test.

- ``ref``: the reference provider (a :class:`Backend` with the demo household, frozen clock)
  and its ASGI app with the sim API.
- ``harness``: the dashboard app with an :class:`AsyncTestClient`, signed out; helpers to
  sign up, sign in, read CSRF tokens and post forms.
- ``signed_in``: the same, signed in as the owner of a fresh household.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from reference_provider.app import create_app as create_reference_app
from reference_provider.backend import Backend

from aggregator.runtime import Runtime
from aggregator.server.app import create_app
from aggregator.settings import Settings

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
_FIELD = re.compile(r'name="_csrf" value="([^"]+)"')


@dataclass
class Reference:
    backend: Backend
    app: Any
    http: httpx.AsyncClient  # to the reference app, in-process

    async def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/sim{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def last_code(self, **params: str) -> str:
        found = await self.sim(
            "GET", "/outbox/last-code", params={"operator": "reference", **params}
        )
        return str(found["code"])

    async def captcha_answer(self, captcha_id: str | None = None) -> str:
        params = {"captcha_id": captcha_id} if captcha_id else {"operator": "reference"}
        return str((await self.sim("GET", "/captcha", params=params))["answer"])


@dataclass
class Harness:
    app: Litestar
    client: AsyncTestClient[Litestar]
    settings: Settings
    ref: Reference
    csrf_token: str = ""
    users: dict[str, str] = field(default_factory=dict)

    async def page(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", True)
        response = await self.client.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found and found.group(1):
            self.csrf_token = found.group(1)
        return response

    async def csrf(self) -> str:
        if not self.csrf_token:
            await self.page("/login")
        return self.csrf_token

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        form = {"_csrf": await self.csrf(), **(data or {})}
        kwargs.setdefault("follow_redirects", False)
        return await self.client.post(path, data=form, **kwargs)

    async def htmx(
        self, method: str, path: str, data: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = {"HX-Request": "true", "X-CSRF-Token": await self.csrf()}
        if method == "GET":
            return await self.client.get(path, params=data, headers=headers)
        return await self.client.request(method, path, data=data, headers=headers)

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if method != "GET":
            headers.setdefault("X-CSRF-Token", await self.csrf())
        return await self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def sign_up(self, email: str = "owner@example.ru", password: str = PASSWORD) -> None:
        """Create the first user (the setup page) and stay signed in."""
        await self.page("/setup")
        response = await self.post(
            "/setup",
            {
                "household": "Ивановы",
                "name": "Иван",
                "email": email,
                "password": password,
                "password_confirm": password,
                "lang": "ru",
            },
        )
        assert response.status_code == 303, response.text[:500]
        self.csrf_token = ""
        await self.page("/")
        self.users[email] = password

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        await self.page("/login")
        response = await self.post("/login", {"email": email, "password": password})
        self.csrf_token = ""
        await self.page("/")
        return response

    async def sign_out(self) -> None:
        await self.post("/logout")
        self.client.cookies.clear()
        self.csrf_token = ""


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": None,
        "key_file": None,
        "vault_key": None,
        "secure_cookies": False,
        "embedded_scheduler": False,
        "public_url": "http://127.0.0.1:8000",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def ref() -> AsyncIterator[Reference]:
    backend = Backend(seed=1, clock_speed=0)
    app = create_reference_app(backend=backend, sim=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as http:
        yield Reference(backend, app, http)


@pytest.fixture
async def harness(tmp_path: Path, ref: Reference) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path)
    async with Runtime(settings, http=ref.http) as runtime:
        app = create_app(settings, runtime=runtime)
        async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
            yield Harness(app, client, settings, ref)


@pytest.fixture
async def signed_in(harness: Harness) -> Harness:
    await harness.sign_up()
    return harness
