"""Capabilities come from overridden methods; missing ones raise NotSupported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from aggregator import (
    Capability,
    Credentials,
    IdentifierKind,
    IdentifierSpec,
    LoginScheme,
    NotSupported,
    Provider,
    ProviderContext,
    Session,
)
from aggregator.core.models import Balance, Money, Usage

SCHEME = LoginScheme(
    id="password",
    title_ru="Пароль",
    title_en="Password",
    identifiers=[IdentifierSpec(kind=IdentifierKind.LOGIN, label_ru="Логин", label_en="Login")],
)


class Minimal(Provider):
    id = "minimal"
    name = "Минимальный"
    name_en = "Minimal"
    default_base_url = "http://127.0.0.1:1"
    login_schemes = (SCHEME,)

    async def start_login(self, credentials: Credentials) -> Session:
        return Session(provider=self.id, data={"token": "t0ken-value"})

    async def balance(self, session: Session, account: str) -> Balance:
        return Balance(amount=Money.rub("10.5"), as_of=dt.datetime.now(dt.UTC))


class WithUsage(Minimal):
    async def usage(self, session: Session, account: str) -> Usage:
        return Usage()


async def test_capabilities_are_inferred_from_overrides() -> None:
    assert Minimal.capabilities() == {Capability.BALANCE}
    assert WithUsage.capabilities() == {Capability.BALANCE, Capability.USAGE}
    assert WithUsage.has("usage") and not Minimal.has(Capability.USAGE)


async def test_missing_capability_raises_not_supported() -> None:
    async with httpx.AsyncClient() as http:
        provider = Minimal(ProviderContext(http=http, base_url=Minimal.default_base_url))
        session = await provider.start_login(SCHEME.build_credentials("me", "pw"))
        with pytest.raises(NotSupported):
            await provider.usage(session, "default")
        result = await provider.poll(session, "default")
        assert result.balance.amount.amount == Decimal("10.50")


def test_a_capability_without_its_companions_is_refused() -> None:
    with pytest.raises(TypeError, match="suspend"):

        class Broken(Minimal):  # only half of the suspension capability
            async def suspend(self, session, account, start, end):  # type: ignore[no-untyped-def]
                raise AssertionError


def test_session_repr_hides_data() -> None:
    session = Session(provider="x", data={"token": "t0ken-value"})
    assert "t0ken-value" not in repr(session)
    assert session.secrets() == ["t0ken-value"]


def test_money_is_exact_and_kopecks_are_converted() -> None:
    assert Money.from_kopecks(4520).amount == Decimal("45.20")
    with pytest.raises(TypeError):
        Money.from_kopecks(45.2)  # type: ignore[arg-type]
    assert Money.rub("1234.5").amount == Decimal("1234.50")
