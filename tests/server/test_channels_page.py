"""The notification channels page: a plugin channel's settings (the secret sealed, never shown
back), a one-time link code, the choice of channels per alert kind, and the dashboard's notice
about a recipient a channel disabled. Uses the installed Telegram plugin as the channel."""

from __future__ import annotations

import re

from sqlalchemy import select

from aggregator.alerts.channels import hash_link_code
from aggregator.alerts.rules import AlertKind
from aggregator.storage.models import (
    AlertRule,
    NotifierLinkCode,
    NotifierRecipient,
    NotifierSettings,
    User,
    utcnow,
)

from .conftest import Harness

TOKEN = "4242:page-test-secret-token"


async def test_settings_code_choice_and_notice(signed_in: Harness) -> None:
    h = signed_in
    page = await h.page("/settings/channels")
    assert page.status_code == 200 and "Telegram" in page.text
    response = await h.post("/settings/channels/telegram", {"bot_token": TOKEN})
    assert response.status_code == 303
    page = await h.page("/settings/channels")
    assert TOKEN not in page.text and "secret-token" not in page.text
    server = h.app.state.server
    async with server.db() as db:
        row = (await db.execute(select(NotifierSettings))).scalar_one()
    assert row.notifier == "telegram" and b"secret-token" not in (row.secrets_sealed or b"")
    # Saving again with the secret left empty keeps it.
    assert (await h.post("/settings/channels/telegram", {"bot_token": ""})).status_code == 303
    async with server.db() as db:
        again = (await db.execute(select(NotifierSettings))).scalar_one()
    assert again.secrets_sealed is not None

    code_page = await h.post("/settings/channels/telegram/code")
    assert code_page.status_code == 200
    code = re.search(r'data-code="([A-Z0-9]+)"', code_page.text)
    assert code and f"/start {code.group(1)}" in code_page.text
    async with server.db() as db:
        stored = (await db.execute(select(NotifierLinkCode))).scalar_one()
    assert stored.code_hash == hash_link_code(code.group(1)) and stored.used_at is None

    kinds = [kind.value for kind in AlertKind]  # the page ticks each kind at least once
    choice = [f"{k}:email" for k in kinds] + ["low_balance:telegram"]
    response = await h.post("/settings/channels/choice", {"channel": choice})
    assert response.status_code == 303
    async with server.db() as db:
        rules = {r.kind: r.channels for r in (await db.execute(select(AlertRule))).scalars()}
    assert rules["low_balance"] == ["email", "telegram"] and rules["runs_out"] == ["email"]
    refused = await h.post("/settings/channels/choice", {"channel": ["low_balance:email"]})
    assert refused.status_code == 400  # the ticks as sent, each kind left without one marked
    kept = 'value="low_balance:email" aria-label="Мало денег на счёте: E-mail" checked>'
    assert kept in refused.text
    assert 'value="runs_out:email" aria-label' in refused.text
    assert 'aria-invalid="true" aria-describedby="choice-runs_out-error"' in refused.text
    assert 'aria-describedby="choice-low_balance-error"' not in refused.text

    async with server.db() as db:
        user = (await db.execute(select(User))).scalar_one()
        db.add(
            NotifierRecipient(
                household_id=user.household_id,
                notifier="telegram",
                address="555",
                label="Иван",
                status="disabled",
                disabled_reason="Telegram: Forbidden: bot was blocked by the user",
                disabled_at=utcnow(),
            )
        )
        await db.commit()
    home = await h.page("/")
    assert "больше не доставляет оповещения в «Иван»" in home.text
    assert "bot was blocked" in home.text and 'href="/settings/channels"' in home.text
