"""The error tree: stable keys, the tree drawn in the docstring, redaction of payloads."""

from __future__ import annotations

import json

import pytest

from aggregator import errors
from aggregator.core.errors import (
    AggregatorError,
    AuthError,
    ParseError,
    RateLimited,
    TemporaryError,
    redact,
)


def _all_error_classes() -> list[type[AggregatorError]]:
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, AggregatorError)
    ]


def test_every_error_has_a_unique_key_and_appears_in_the_tree_drawing() -> None:
    classes = _all_error_classes()
    keys = [cls.key for cls in classes]
    assert len(keys) == len(set(keys))
    doc = errors.__doc__ or ""
    for cls in classes:
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in the docstring"


def test_tree_sorts_by_what_the_caller_does() -> None:
    assert issubclass(errors.InvalidCredentials, AuthError)
    assert issubclass(errors.SessionExpired, AuthError)
    assert issubclass(errors.AccountLocked, AuthError)
    assert issubclass(errors.Timeout, TemporaryError)
    assert issubclass(errors.Unavailable, TemporaryError)
    assert issubclass(RateLimited, TemporaryError)
    assert RateLimited(retry_after=12).retry_after == 12


def test_redact_masks_sensitive_keys_numbers_and_known_secrets() -> None:
    payload = json.dumps(
        {
            "token": "abc123token",
            "meta": {"status": "OK", "password": "hunter2"},
            "ctn": "9031234567",
            "note": "sent code 4321 to you, pw=topsecretvalue",
        }
    )
    out = redact(payload, secrets=["topsecretvalue"])
    assert "abc123token" not in out
    assert "hunter2" not in out
    assert "9031234567" not in out
    assert "topsecretvalue" not in out
    assert '"status": "OK"' in out


def test_redact_blanks_html_input_values_and_truncates() -> None:
    html = '<input name="sid" value="SESSION-XYZ">' + "x" * 5000
    out = redact(html)
    assert "SESSION-XYZ" not in out
    assert len(out) <= 2001


def test_parse_error_carries_redacted_payload_and_no_secret_in_str() -> None:
    err = ParseError("balance missing", payload={"password": "p@ss", "x": 1}, secrets=["p@ss"])
    assert "p@ss" not in str(err)
    assert "p@ss" not in repr(err)
    assert err.payload is not None and "p@ss" not in err.payload
    assert err.to_dict()["key"] == "parse"


@pytest.mark.parametrize("cls", _all_error_classes())
def test_every_error_serialises_to_a_dict_with_its_key(cls: type[AggregatorError]) -> None:
    if cls is ParseError:
        err: AggregatorError = ParseError("x")
    elif cls is RateLimited:
        err = RateLimited("x", retry_after=1.0)
    elif cls is errors.OperationRejected:
        err = errors.OperationRejected("нет денег")
    else:
        err = cls("x")
    assert err.to_dict()["key"] == cls.key
