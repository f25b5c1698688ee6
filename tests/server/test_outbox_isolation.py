"""The /outbox page shows a household the sink mail IT queued, never mail chosen by address.

Attack from the review: a member of household B adds A's address as an alert recipient and
then reads A's alert e-mails on /outbox. Mail belongs to the household whose outbox row queued
it (its Message-ID), whatever its recipients.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from aggregator.alerts.email import build_message
from aggregator.alerts.sink import MailStore
from aggregator.core.notify import Notification
from aggregator.services.households import create_household_with_owner
from aggregator.storage.models import AlertRule, OutboxMessage, User

from .conftest import PASSWORD, Harness


async def _queue_and_deliver(h: Harness, household_id: int, subject: str, to: str) -> None:
    """An outbox row of ``household_id``, delivered to the sink as the notifier would."""
    server = h.app.state.server
    async with server.db() as db:
        row_id = (
            await db.execute(
                insert(OutboxMessage)
                .values(
                    household_id=household_id,
                    dedupe_key=f"test:{subject}",
                    kind="low_balance",
                    recipients=[to],
                    subject=subject,
                    body_text=f"{subject} body",
                    status="sent",
                )
                .returning(OutboxMessage.id)
            )
        ).scalar_one()
        await db.commit()
        row = await db.get(OutboxMessage, row_id)
        assert row is not None
    notification = Notification(
        kind="low_balance",
        subject=subject,
        text=f"{subject} body",
        recipients=[to],
        idempotency_key=f"o{row_id}.{row.dedupe_key}",
    )
    message = build_message(notification, h.settings.smtp_from)
    MailStore.for_settings(h.settings).save(message.as_bytes())


async def test_sink_mail_belongs_to_the_household_that_queued_it(harness: Harness) -> None:
    h = harness
    await h.sign_up("victim@example.ru")
    server = h.app.state.server
    async with server.db() as db:
        victim_household = await db.scalar(
            select(User.household_id).where(User.email == "victim@example.ru")
        )
        attacker = await create_household_with_owner(
            db, email="attacker@example.ru", password=PASSWORD
        )
        await db.flush()
        attacker_household = attacker.household_id
        # The attacker names the victim's address as one of their alert recipients.
        db.add(
            AlertRule(
                household_id=attacker_household,
                kind="low_balance",
                recipients=["victim@example.ru"],
            )
        )
        await db.commit()
    assert victim_household is not None
    await _queue_and_deliver(h, victim_household, "VICTIM-SECRET-BALANCE", "victim@example.ru")
    await _queue_and_deliver(h, attacker_household, "ATTACKER-OWN-ALERT", "victim@example.ru")

    victim_page = (await h.page("/outbox")).text
    assert "VICTIM-SECRET-BALANCE" in victim_page
    assert "ATTACKER-OWN-ALERT" not in victim_page  # addressed to the victim, queued by B

    await h.sign_out()
    await h.sign_in("attacker@example.ru", PASSWORD)
    attacker_page = (await h.page("/outbox")).text
    assert "ATTACKER-OWN-ALERT" in attacker_page
    assert "VICTIM-SECRET-BALANCE" not in attacker_page


async def test_mail_no_outbox_row_queued_is_shown_to_nobody(signed_in: Harness) -> None:
    h = signed_in
    raw = (
        b"From: x@localhost\r\nTo: owner@example.ru\r\nSubject: STRAY-MAIL\r\n"
        b"Message-ID: <stray@localhost>\r\n\r\nhello\r\n"
    )
    MailStore.for_settings(h.settings).save(raw)
    assert "STRAY-MAIL" not in (await h.page("/outbox")).text
