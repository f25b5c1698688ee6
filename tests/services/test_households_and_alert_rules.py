"""The application layer's households, members, sign-in and alert rules, each workflow once.

The pages (``/members``, ``/settings``, ``/settings/alerts``, an account's thresholds), the JSON
API (``/api/v1/alerts``) and the CLI (``users create``, ``db current``) are adapters over these
functions; their own tests check only the translation to HTML, JSON or a terminal. Real
databases (SQLite, and PostgreSQL under ``make test``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.services import alert_rules, households
from aggregator.services.errors import BadInput, Forbidden, NotFound
from aggregator.storage.models import (
    AlertRule,
    AuditLog,
    LinkedAccount,
    User,
    WebSession,
    utcnow,
)

PASSWORD = "correct horse battery"


def _email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.org"


async def _actions(db: AsyncSession, household_id: int) -> list[str]:
    rows = await db.scalars(
        select(AuditLog.action).where(AuditLog.household_id == household_id).order_by(AuditLog.id)
    )
    return list(rows)


@dataclass(frozen=True)
class Person:
    """What the tests keep of a user (the ORM row expires at each commit)."""

    id: int
    household_id: int
    email: str


async def _owner(db: AsyncSession) -> Person:
    owner = await households.create_household_with_owner(
        db, email=_email("owner"), password=PASSWORD, name="Семья"
    )
    await db.commit()
    return Person(owner.id, owner.household_id, owner.email)


async def test_sign_in_is_audited_and_a_wrong_password_is_none(db: AsyncSession) -> None:
    owner = await _owner(db)
    assert await households.any_user_exists(db)
    assert await households.authenticate(db, owner.email.upper(), "wrong password") is None
    assert await households.authenticate(db, _email("nobody"), PASSWORD) is None
    signed_in = await households.authenticate(db, f" {owner.email} ", PASSWORD)
    assert signed_in is not None and signed_in.id == owner.id
    assert await _actions(db, owner.household_id) == [
        "household.created",
        "auth.sign_in_failed",
        "auth.sign_in",
    ]


async def test_invite_accept_and_remove_a_member(db: AsyncSession) -> None:
    owner = await _owner(db)
    address = _email("Member").upper()
    token = await households.invite_member(db, owner.household_id, owner.id, f" {address} ")
    invitation = await households.open_invitation(db, token)
    assert invitation is not None and invitation.email == address.lower()
    assert [i.id for i in await households.open_invitations(db, owner.household_id)] == [
        invitation.id
    ]
    assert await households.open_invitation(db, "not-a-token") is None

    joined = await households.accept_invitation(
        db, invitation, password=PASSWORD, name=" Мама ", lang="en"
    )
    assert (joined.role, joined.display_name, joined.lang) == ("member", "Мама", "en")
    member = Person(joined.id, joined.household_id, joined.email)
    await db.commit()
    assert await households.open_invitation(db, token) is None  # used once
    assert [u.id for u in await households.members(db, owner.household_id)] == [
        owner.id,
        member.id,
    ]

    with pytest.raises(BadInput) as taken:
        await households.invite_member(db, owner.household_id, owner.id, member.email)
    assert (taken.value.field, taken.value.key) == ("email", "members.email_taken")
    with pytest.raises(BadInput) as malformed:
        await households.invite_member(db, owner.household_id, owner.id, "a@b.org, c@d.org")
    assert malformed.value.key == "form.email_invalid"

    with pytest.raises(Forbidden):
        await households.remove_member(db, owner.household_id, owner.id, owner.id)
    other = await _owner(db)
    with pytest.raises(NotFound):
        await households.remove_member(db, other.household_id, other.id, member.id)
    await households.remove_member(db, owner.household_id, owner.id, member.id)
    assert await db.get(User, member.id) is None
    assert await _actions(db, owner.household_id) == [
        "household.created",
        "member.invited",
        "member.joined",
        "member.removed",
    ]


async def test_an_invitation_revoked_or_taken_meanwhile(db: AsyncSession) -> None:
    owner = await _owner(db)
    token = await households.invite_member(db, owner.household_id, owner.id, _email("late"))
    invitation = await households.open_invitation(db, token)
    assert invitation is not None
    invitation_id, address = invitation.id, invitation.email
    other = await _owner(db)
    await households.revoke_invitation(db, other.household_id, invitation_id)  # not theirs
    invitation = await households.open_invitation(db, token)
    assert invitation is not None
    await households.create_household_with_owner(db, email=address, password=PASSWORD)
    with pytest.raises(BadInput) as taken:
        await households.accept_invitation(db, invitation, password=PASSWORD, name="", lang="ru")
    assert taken.value.key == "invite.email_taken"
    await db.rollback()
    await households.revoke_invitation(db, owner.household_id, invitation_id)
    assert await households.open_invitation(db, token) is None


async def test_change_password_ends_other_sessions(db: AsyncSession) -> None:
    owner = await _owner(db)
    for session_id in ("keep", "other"):
        db.add(
            WebSession(
                id=f"{session_id}-{owner.id}",
                user_id=owner.id,
                csrf_token=session_id,
                expires_at=utcnow() + dt.timedelta(days=1),
            )
        )
    await db.commit()
    with pytest.raises(BadInput) as wrong:
        await households.change_password(
            db, owner.id, current="nope", new="new password!", confirm="new password!"
        )
    assert wrong.value.key == "settings.wrong_password"
    with pytest.raises(BadInput) as short:
        await households.change_password(db, owner.id, current=PASSWORD, new="x", confirm="x")
    assert short.value.key == "form.password_short"
    await households.change_password(
        db,
        owner.id,
        current=PASSWORD,
        new="new password!",
        confirm="new password!",
        keep_session_id=f"keep-{owner.id}",
    )
    left = await db.scalars(select(WebSession.id).where(WebSession.user_id == owner.id))
    assert list(left) == [f"keep-{owner.id}"]
    assert await households.authenticate(db, owner.email, "new password!") is not None
    assert "auth.password_changed" in await _actions(db, owner.household_id)


async def test_profile_changes_the_household_only_for_its_owner(db: AsyncSession) -> None:
    owner = await _owner(db)
    profile = households.Profile(
        display_name=" Папа ",
        lang="en",
        household_name="Дом",
        timezone="Asia/Yekaterinburg",
        poll_interval_s=1800,
    )
    await households.save_profile(db, owner.household_id, owner.id, is_owner=False, profile=profile)
    house = await households.household(db, owner.household_id)
    assert (house.name, house.timezone) == ("Семья", "Europe/Moscow")
    await households.save_profile(db, owner.household_id, owner.id, is_owner=True, profile=profile)
    await db.refresh(house)
    assert (house.name, house.timezone, house.poll_interval_s) == (
        "Дом",
        "Asia/Yekaterinburg",
        1800,
    )
    user = await db.get(User, owner.id)
    assert user is not None and (user.display_name, user.lang) == ("Папа", "en")
    await households.save_profile(
        db,
        owner.household_id,
        owner.id,
        is_owner=True,
        profile=households.Profile(display_name="", timezone="Mars/Olympus"),
    )
    await db.refresh(house)
    assert house.timezone == "Asia/Yekaterinburg"  # a zone not offered is ignored


async def test_household_alerts_saved_and_read_once(db: AsyncSession) -> None:
    owner = await _owner(db)
    alerts = alert_rules.HouseholdAlerts(
        threshold_minor=150_00,
        margin_minor=50_00,
        days=5,
        runs_out_enabled=False,
        suspension_days=3,
        trusted_days=2,
        reminder_interval_s=6 * 3600,
        notices={"chat_reply": False, "suspension_approved": True, "maintenance": True},
        remainders=alert_rules.RemainderDefaults(data_bytes=2 * 1024**3, minutes_seconds=None),
        recipients=(" Mama@Example.org",),
        lang="en",
    )
    await alert_rules.save_household_alerts(db, owner.household_id, owner.id, alerts)
    read = await alert_rules.household_alerts(db, owner.household_id, "ru")
    assert read.recipients == ("mama@example.org",)
    assert (read.threshold_minor, read.margin_minor, read.days) == (150_00, 50_00, 5)
    assert not read.runs_out_enabled and read.low_balance_enabled
    assert (read.suspension_days, read.trusted_days, read.reminder_interval_s) == (3, 2, 6 * 3600)
    assert read.notices == {"chat_reply": False, "suspension_approved": True, "maintenance": True}
    assert read.remainders == alert_rules.RemainderDefaults(2 * 1024**3, None)
    assert read.lang == "en"
    assert set(await alert_rules.household_rules(db, owner.household_id)) == set(
        alert_rules.ALERT_KINDS
    )

    # The API carries no remainder defaults: saving without them keeps them as they are.
    await alert_rules.save_household_alerts(
        db, owner.household_id, owner.id, alert_rules.HouseholdAlerts(remainders=None)
    )
    again = await alert_rules.household_alerts(db, owner.household_id, "ru")
    assert again.remainders == alert_rules.RemainderDefaults(2 * 1024**3, None)
    assert again.threshold_minor is None and again.runs_out_enabled
    assert (await _actions(db, owner.household_id)).count("alerts.updated") == 2


async def test_account_thresholds_override_and_fall_back(db: AsyncSession) -> None:
    owner = await _owner(db)
    account = LinkedAccount(
        household_id=owner.household_id,
        provider_id="reference",
        login_scheme="password",
        login_key=uuid.uuid4().hex,
    )
    db.add(account)
    await db.commit()
    account_id = account.id
    own = alert_rules.AccountThresholds(threshold_minor=300_00, days=None, data_bytes=10**9)
    await alert_rules.save_account_thresholds(db, owner.household_id, account_id, own)
    assert await alert_rules.account_thresholds(db, owner.household_id, account_id) == own
    assert set(await alert_rules.account_rules(db, owner.household_id, account_id)) == {
        "low_balance",
        "low_data",
    }
    await alert_rules.save_account_thresholds(
        db, owner.household_id, account_id, alert_rules.AccountThresholds()
    )
    count = await db.scalar(
        select(func.count()).select_from(AlertRule).where(AlertRule.account_id == account_id)
    )
    assert count == 0  # every override gone: the household's defaults apply


async def test_schema_state_is_current_after_upgrade(tmp_path: object) -> None:
    from pathlib import Path

    from aggregator.services.database import schema_state, upgrade_schema
    from aggregator.settings import Settings

    assert isinstance(tmp_path, Path)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    before = await schema_state(settings)
    assert before.current is None and not before.is_current
    assert await upgrade_schema(settings) == before.head
    assert (await schema_state(settings)).is_current
