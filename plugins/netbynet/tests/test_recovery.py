"""NetByNet password recovery against the reference provider: the region, the phone given in
the contract and the account number (not the contract's), the code from the SMS or e-mail, a
new password checked before it is sent; then the login with it."""

from __future__ import annotations

import pytest
from aggregator_netbynet.provider import NetbynetProvider
from reference_provider.backend import Backend

from aggregator import (
    Capability,
    Challenge,
    ChallengeKind,
    InvalidCredentials,
    OperationRejected,
    RecoveryDone,
    RecoveryOutcome,
    Session,
)
from aggregator.services import recovery
from aggregator.services.errors import BadInput

from .conftest import Customer


def _request(customer: Customer, *, account: str | None = None, contract: bool = True) -> object:
    extras: dict[str, str | None] = {
        "region": customer.region,
        "account_number": account or customer.account.number,
        "contract": customer.contract if contract else None,
    }
    return recovery.build_request(
        NetbynetProvider, None, f"+7{customer.phone}", extras=extras, channel="email"
    )


async def test_recovery_by_region_phone_and_account_number_then_login(
    provider: NetbynetProvider, backend: Backend, customer: Customer
) -> None:
    assert NetbynetProvider.has(Capability.RECOVERY)
    assert NetbynetProvider.provenance_of(Capability.RECOVERY) == "seed"
    step = await recovery.start(provider, _request(customer))  # type: ignore[arg-type]
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.CODE
    assert step.channel == "email" and step.masked_destination
    # A wrong code: asked again after the new password is typed (the operator checks both).
    step = await recovery.answer(provider, step, text="000000")
    assert isinstance(step, Challenge) and step.kind is ChallengeKind.NEW_PASSWORD
    assert step.password_policy is not None and step.password_policy.min_length == 6
    # Too short: refused here, nothing sent.
    with pytest.raises(BadInput) as refused:
        await recovery.answer(provider, step, new_password="abc", confirm="abc")
    assert refused.value.values["problems"] == ["password.length"]
    again = await recovery.answer(provider, step, new_password="Lesnaya-5", confirm="Lesnaya-5")
    assert isinstance(again, Challenge) and again.kind is ChallengeKind.CODE
    code = backend.last_code("netbynet", None, "password_reset")
    step = await recovery.answer(provider, again, text=code)
    assert isinstance(step, Challenge)
    done = await recovery.answer(provider, step, new_password="Lesnaya-5", confirm="Lesnaya-5")
    assert isinstance(done, RecoveryDone) and done.outcome is RecoveryOutcome.PASSWORD_SET
    assert done.credentials is not None and done.credentials.identifier == customer.contract
    session = await recovery.log_in(provider, done)
    assert isinstance(session, Session)
    with pytest.raises(InvalidCredentials):  # the old password is gone
        await provider.start_login(customer.credentials())


async def test_the_contract_number_is_not_the_account_number(
    provider: NetbynetProvider, customer: Customer
) -> None:
    # The person typed the contract number where the account number belongs: refused, in
    # the operator's words.
    with pytest.raises(OperationRejected) as refused:
        await recovery.start(provider, _request(customer, account=customer.contract))  # type: ignore[arg-type]
    assert "не найден" in refused.value.reason


async def test_without_the_contract_the_password_is_set_and_the_person_logs_in_later(
    provider: NetbynetProvider, backend: Backend, customer: Customer
) -> None:
    step = await recovery.start(provider, _request(customer, contract=False))  # type: ignore[arg-type]
    assert isinstance(step, Challenge)
    code = backend.last_code("netbynet", None, "password_reset")
    step = await recovery.answer(provider, step, text=code)
    assert isinstance(step, Challenge)
    done = await recovery.answer(provider, step, new_password="Lesnaya-6", confirm="Lesnaya-6")
    assert isinstance(done, RecoveryDone) and done.credentials is None
    assert done.outcome is RecoveryOutcome.PASSWORD_SET
    result = await provider.start_login(customer.credentials("Lesnaya-6"))
    assert isinstance(result, Session)
