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


async def test_a_missing_token_is_marked_at_its_field_in_words(signed_in: Harness) -> None:
    """The first save without the bot's token: the field says what it needs (Russian first),
    not an English line at the top of the page; nothing is stored."""
    h = signed_in
    refused = await h.post("/settings/channels/telegram", {"bot_token": "   "})
    assert refused.status_code == 400
    html = refused.text
    field = re.search(r'<input id="telegram-bot_token"[^>]*>', html)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="telegram-bot_token-error telegram-bot_token-hint"' in field.group(0)
    message = re.search(r'<p class="field-error" id="telegram-bot_token-error">([^<]*)</p>', html)
    assert message and "Заполните поле «Токен бота»" in message.group(1)
    assert "is required" not in html and 'class="alert alert-error"' not in html
    async with h.app.state.server.db() as db:
        assert (await db.execute(select(NotifierSettings))).first() is None
    # Saved once, the kept token makes the field optional (an empty save keeps it).
    assert (await h.post("/settings/channels/telegram", {"bot_token": TOKEN})).status_code == 303
    page = await h.page("/settings/channels")
    field = re.search(r'<input id="telegram-bot_token"[^>]*>', page.text)
    assert field and " required" not in field.group(0)
    too_long = await h.post("/settings/channels/telegram", {"bot_token": "x" * 501})
    assert too_long.status_code == 400 and "не длиннее 500 символов" in too_long.text
