"""Every link in every alert e-mail (each kind, both languages, text and HTML) lands on a page
of the dashboard that exists."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from aggregator.alerts.episodes import alert_links
from aggregator.alerts.messages import AlertView
from aggregator.alerts.render import render_alert
from aggregator.alerts.rules import AlertKind

from .conftest import Harness
from .test_journey_reference import _accounts, _choose, _start

URL = re.compile(r"https?://[^\s\"'<>]+")
DETAILS = {
    "amount_minor": 4520,
    "threshold_minor": 10000,
    "days_left": 2,
    "daily_spend_minor": 2000,
    "runs_out_on": "2024-05-03",
    "currency": "RUB",
    "ends_on": "2024-05-03",
    "error_key": "auth.session_expired",
}


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_every_link_of_every_alert_mail_opens_a_page(signed_in: Harness, lang: str) -> None:
    h = signed_in
    step = await _start(h, "password", identifier="demo", password="demo-password")
    await _choose(h, step, "REF-0001")
    (account,) = await _accounts(h)
    base = h.settings.dashboard_url
    links: set[str] = set()
    for kind in AlertKind:
        view = AlertView(
            kind=kind,
            account_id=account.id,
            provider_name="Эталонный оператор",
            number=account.number_masked,
            label="",
            details=DETAILS,
            **alert_links(base, account.id),
        )
        mail = render_alert(view, lang)
        found = set(URL.findall(mail.text)) | set(URL.findall(mail.html))
        assert found, kind
        links |= {url.rstrip(".,)") for url in found}
    assert any(urlsplit(u).path == "/settings/alerts" for u in links)
    for url in sorted(links):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == base, url
        response = await h.page(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code == 200, url
