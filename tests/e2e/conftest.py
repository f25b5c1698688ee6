"""Browser tests: Playwright (async) drives /usr/bin/chromium against real uvicorn servers.

- ``reference_url``: the reference provider (``--sim``, a frozen billing clock) on a free
  loopback port, in a thread.
- ``aggregator_url``: the dashboard with the embedded polling service and mail sink, every
  operator's base URL pointing at the reference provider, on a free loopback port, in a thread.
- ``browser`` / ``page``: one Chromium for the module; one page (Russian locale).
- ``check_a11y(page, name)``: axe-core on the current page; serious or critical violations fail;
  so do words said twice ("Вы · Вы") and roubles written with a dot ("500.00 ₽").
- ``sim``: a small client of the reference provider's simulation API.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from aggregator.plugins import load_plugins
from aggregator.server.app import create_app
from aggregator.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_REFERENCE_URL = "http://127.0.0.1:8081"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    """A uvicorn server in a thread with its own event loop (HTTP is the only way in)."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def reference_url() -> Iterator[str]:
    from reference_provider.app import create_app as create_reference_app

    app = create_reference_app(sim=True, clock_speed=0)
    with ThreadServer(app, free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def aggregator_settings(reference_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    port = free_port()
    registry = load_plugins()
    urls = {
        pid: cls.default_base_url.replace(DEFAULT_REFERENCE_URL, reference_url)
        for pid, cls in registry.providers.items()
    }
    return Settings(
        data_dir=tmp_path_factory.mktemp("aggregator"),
        database_url=None,
        key_file=None,
        vault_key=None,
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        secure_cookies=True,
        provider_urls=urls,
        embedded_scheduler=True,
        smtp_host=None,
        mail_sink_port=free_port(),
        http_timeout_s=15,
    )


@pytest.fixture(scope="module")
def aggregator_app(aggregator_settings: Settings) -> Any:
    """The dashboard's application (a test may reach its state, e.g. to age a login step)."""
    return create_app(aggregator_settings)


@pytest.fixture(scope="module")
def aggregator_url(aggregator_app: Any, aggregator_settings: Settings) -> Iterator[str]:
    with ThreadServer(aggregator_app, aggregator_settings.port) as url:
        yield url


@dataclass
class Sim:
    """The reference provider's simulation API."""

    base: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=15))

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"{self.base}/sim{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def last_code(self, operator: str, **params: str) -> str:
        found = await self.call("GET", "/outbox/last-code", params={"operator": operator, **params})
        return str(found["code"])

    async def captcha(self, operator: str) -> str:
        return str((await self.call("GET", "/captcha", params={"operator": operator}))["answer"])

    async def advance(self, **delta: float) -> None:
        await self.call("POST", "/clock/advance", json=delta)

    async def today(self) -> str:
        return str((await self.call("GET", "/clock"))["today"])


@pytest.fixture(scope="module")
async def sim(reference_url: str) -> AsyncIterator[Sim]:
    client = Sim(reference_url)
    try:
        yield client
    finally:
        await client.http.aclose()


CHROMIUM_PRESENT = Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM_PRESENT:
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def page(browser: Any, aggregator_url: str) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=aggregator_url,
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(30_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.js_errors = errors
    try:
        yield page
    finally:
        await context.close()


@dataclass
class A11yLog:
    checked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


_A11Y = A11yLog()


_DOUBLED = re.compile(r"(?<!\w)(\w+) · \1(?!\w)")  # "Вы · Вы", "Специалист · Специалист"
_DOTTED_ROUBLES = re.compile(r"\d\.\d\d\s?₽")  # "500.00 ₽": Russian money has a comma


async def check_words(page: Any, name: str) -> None:
    """The page's text says nothing twice in a row and writes Russian money with a comma."""
    text = await page.locator("body").inner_text()
    problems = [m.group(0) for m in _DOUBLED.finditer(text)]
    if await page.locator("html").get_attribute("lang") == "ru":
        problems += [m.group(0) for m in _DOTTED_ROUBLES.finditer(text)]
    assert not problems, f"words on {name}: {problems}"


async def check_a11y(page: Any, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation; and its words
    (:func:`check_words`)."""
    from axe_playwright_python.async_playwright import Axe

    await check_words(page, name)
    results = await Axe().run(page)
    bad = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    _A11Y.checked[name] = bad
    assert not bad, f"axe on {name}: {json.dumps(bad, ensure_ascii=False)}"


@pytest.fixture(scope="session", autouse=True)
def _a11y_report() -> Iterator[None]:
    yield
    if _A11Y.checked:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "axe.json").write_text(
            json.dumps(_A11Y.checked, ensure_ascii=False, indent=1), encoding="utf-8"
        )


async def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def eventually(check: Any, *, attempts: int = 60, pause: float = 0.5) -> Any:
    """Retry ``check`` (an async callable returning a truthy value) a bounded number of times."""
    last: Any = None
    for _ in range(attempts):
        last = await check()
        if last:
            return last
        await asyncio.sleep(pause)
    return last


os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
async def _failure_snapshot(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A screenshot and the page's text when a browser test fails (tests/artifacts/failures)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed or "page" not in request.fixturenames:
        return
    page = request.getfixturevalue("page")
    folder = ARTIFACTS / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    name = request.node.name
    try:
        await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        (folder / f"{name}.txt").write_text(
            f"{page.url}\n\n{await page.inner_text('body')}", encoding="utf-8"
        )
    except Exception:  # the page may be gone; the failure itself is what matters
        pass
