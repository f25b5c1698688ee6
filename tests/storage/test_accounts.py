"""Account persistence: linking logins as accounts, secrets sealed to their row."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator import Credentials, IdentifierKind, IdentifierSpec, LoginScheme, Provider, Session
from aggregator.accounts import (
    link_accounts,
    login_key_for,
    mask_number,
    open_credentials,
    open_session,
    seal_credentials,
    seal_session,
)
from aggregator.core.models import Subaccount
from aggregator.storage.models import AuditLog, Household, LinkedAccount
from aggregator.vault import Vault, VaultError

PHONE = LoginScheme(
    id="phone",
    title_ru="Телефон и пароль",
    title_en="Phone and password",
    identifiers=[IdentifierSpec(kind=IdentifierKind.PHONE, label_ru="Телефон", label_en="Phone")],
)


class FakeProvider(Provider):
    id: ClassVar[str] = "fake"
    name: ClassVar[str] = "Фейк"
    name_en: ClassVar[str] = "Fake"
    default_base_url: ClassVar[str] = "http://127.0.0.1:1"
    login_schemes = (PHONE,)


CANARY = "Canary-Pa55word-7f3e"


def _credentials(password: str = CANARY) -> Credentials:
    return PHONE.build_credentials("+7 (903) 123-45-67", password)


def _session(token: str = "tok-abcdef-123456") -> Session:
    return Session(provider="fake", data={"token": token, "cookies": {"sid": "s-998877"}})


SUBS = [
    Subaccount(id="a1", number="9031234567", kind="mobile", label="Мама"),
    Subaccount(id="a2", number="123456784567", kind="internet"),
]


@pytest.mark.parametrize(
    ("number", "kind", "masked"),
    [
        ("9031234567", "mobile", "+7 903 ***-**-67"),
        ("+7 (903) 123-45-67", "mobile", "+7 903 ***-**-67"),
        ("8 903 123 45 67", "other", "+7 903 ***-**-67"),
        ("4951234567", "landline", "+7 495 ***-**-67"),
        ("123456784567", "internet", "•••• 4567"),
        ("0123-4567-89", "internet", "•••• 6789"),
        ("12345", "other", "•••• 45"),
        ("123", "other", "••••"),
        ("ivan@mail.ru", "other", "i•••@mail.ru"),
        ("", "other", ""),
    ],
)
def test_mask_number(number: str, kind: str, masked: str) -> None:
    assert mask_number(number, kind) == masked


async def test_link_creates_one_account_per_subaccount(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    accounts = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials(),
        session=_session(),
        subaccounts=SUBS,
        label="Дом",
    )
    await db.commit()
    assert [a.subaccount_id for a in accounts] == ["a1", "a2"]
    assert [a.number_masked for a in accounts] == ["+7 903 ***-**-67", "•••• 4567"]
    assert [a.kind for a in accounts] == ["mobile", "internet"]
    assert accounts[0].label == "Дом · Мама"
    assert len({a.login_key for a in accounts}) == 1
    assert accounts[0].login_key == login_key_for(vault, "fake", "9031234567")
    assert "9031234567" not in accounts[0].login_key
    for account in accounts:
        assert account.status == "new"
        assert account.next_due_at is not None
        assert account.next_due_at <= dt.datetime.now(dt.UTC)
        creds = open_credentials(vault, account)
        assert creds.secret is not None and creds.secret.reveal() == CANARY
        assert creds.identifier == "9031234567"
        session = open_session(vault, account)
        assert session is not None and session.data["token"] == "tok-abcdef-123456"
        assert CANARY.encode() not in (account.credentials_sealed or b"")
    audit = (await db.scalars(select(AuditLog).where(AuditLog.household_id == household.id))).all()
    assert sorted(a.action for a in audit) == ["account.linked", "account.linked"]
    assert all(CANARY not in str(a.details) for a in audit)


async def test_relinking_updates_instead_of_duplicating(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    first = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials("old-password"),
        session=_session("old-token-000"),
        subaccounts=SUBS[:1],
    )
    first[0].status = "needs_login"
    first[0].last_error_key = "auth.invalid_credentials"
    first[0].consecutive_failures = 3
    await db.commit()
    again = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials("new-password"),
        session=_session("new-token-111"),
        subaccounts=SUBS,
    )
    await db.commit()
    assert again[0].id == first[0].id
    rows = (
        await db.scalars(select(LinkedAccount).where(LinkedAccount.household_id == household.id))
    ).all()
    assert len(rows) == 2
    relinked = again[0]
    assert relinked.status == "new"
    assert relinked.last_error_key is None and relinked.consecutive_failures == 0
    assert open_credentials(vault, relinked).secret.reveal() == "new-password"  # type: ignore[union-attr]
    assert open_session(vault, relinked).data["token"] == "new-token-111"  # type: ignore[union-attr]
    actions = sorted(
        a.action
        for a in (
            await db.scalars(select(AuditLog).where(AuditLog.household_id == household.id))
        ).all()
    )
    assert actions == ["account.linked", "account.linked", "account.relinked"]


async def test_a_login_without_subaccounts_becomes_one_account(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    (account,) = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials(),
        session=_session(),
        subaccounts=[],
    )
    assert account.subaccount_id == ""
    assert account.kind == "mobile"
    assert account.number_masked == "+7 903 ***-**-67"


async def test_secrets_copied_to_another_account_do_not_open(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    one, two = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials(),
        session=_session(),
        subaccounts=SUBS,
    )
    two.credentials_sealed = one.credentials_sealed
    two.session_sealed = one.credentials_sealed  # another column too
    with pytest.raises(VaultError) as caught:
        open_credentials(vault, two)
    assert CANARY not in str(caught.value)
    with pytest.raises(VaultError):
        open_session(vault, two)


async def test_sealing_needs_a_flushed_row(vault: Vault) -> None:
    account = LinkedAccount(provider_id="fake", login_scheme="phone", login_key="x")
    with pytest.raises(ValueError, match="flush"):
        seal_credentials(vault, account, _credentials())


async def test_session_none_clears_and_reads_back_none(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    (account,) = await link_accounts(
        db,
        vault,
        household_id=household.id,
        provider=FakeProvider,
        credentials=_credentials(),
        session=_session(),
        subaccounts=SUBS[:1],
    )
    seal_session(vault, account, None)
    assert account.session_sealed is None
    assert open_session(vault, account) is None


async def test_unknown_login_scheme_is_refused(
    db: AsyncSession, vault: Vault, household: Household
) -> None:
    with pytest.raises(ValueError, match="no login scheme"):
        await link_accounts(
            db,
            vault,
            household_id=household.id,
            provider=FakeProvider,
            credentials=Credentials(scheme="nope", identifier="x"),
            session=_session(),
            subaccounts=SUBS,
        )


def test_a_new_password_after_a_temporary_one_is_kept_as_a_password_login() -> None:
    """Beeline's SMS temporary password cannot log in again unattended; the permanent password
    the user set can, so the stored credentials become a password login."""
    from aggregator_beeline.provider import BeelineProvider

    from aggregator.accounts import credentials_after_new_password
    from aggregator.core.secret import Secret

    sms = BeelineProvider.scheme("sms_password")
    assert not sms.silent_relogin
    typed = sms.build_credentials("8 903 123 45 67", "123456")
    stored = credentials_after_new_password(BeelineProvider, typed, "Permanent-Pass-2026")
    assert stored.scheme == "password"
    assert BeelineProvider.scheme(stored.scheme).silent_relogin
    assert stored.identifier == "9031234567"
    assert stored.secret == Secret("Permanent-Pass-2026")
    # A password login keeps its scheme and takes the new secret.
    again = credentials_after_new_password(BeelineProvider, stored, "Another-Pass-2027")
    assert again.scheme == "password" and again.secret == Secret("Another-Pass-2027")
