"""The Secret type never shows its value, in any of the ways a value leaks."""

from __future__ import annotations

import logging
import pickle

import pytest

from aggregator import Credentials, Secret

CANARY = "canary-Pa55word-7731"


def test_secret_hides_value_in_str_repr_format() -> None:
    secret = Secret(CANARY)
    assert CANARY not in str(secret)
    assert CANARY not in repr(secret)
    assert CANARY not in f"{secret}"
    assert CANARY not in "%s %r" % (secret, secret)  # noqa: UP031
    assert secret.reveal() == CANARY


def test_secret_refuses_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(CANARY))


def test_credentials_model_hides_secret_in_repr_and_dump() -> None:
    creds = Credentials(scheme="password", identifier="9031234567", secret=CANARY)
    assert isinstance(creds.secret, Secret)
    assert CANARY not in repr(creds)
    assert CANARY not in str(creds)
    assert CANARY not in creds.model_dump_json()
    assert CANARY not in str(creds.model_dump())


def test_reveal_context_round_trips_for_sealing() -> None:
    creds = Credentials(scheme="password", identifier="x", secret=CANARY)
    dumped = creds.model_dump(mode="json", context={"reveal_secrets": True})
    assert dumped["secret"] == CANARY
    again = Credentials.model_validate(dumped)
    assert again.secret == Secret(CANARY)


def test_logging_a_secret_shows_stars(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("login with %s", Secret(CANARY))
    assert CANARY not in caplog.text
    assert "***" in caplog.text
