"""``Retry-After``: delta-seconds, an HTTP-date, and what servers send besides (garbage): a 429
is always a rate limit, never a crash."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest

from aggregator.core.errors import RateLimited
from aggregator.transport import check_response, retry_after


def answer(value: str | bytes | None, status: int = 429) -> httpx.Response:
    headers = {"Retry-After": value} if value is not None else {}
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


def test_delta_seconds() -> None:
    assert retry_after(answer("120")) == 120.0
    assert retry_after(answer(" 7 ")) == 7.0
    assert retry_after(answer("-5")) == 0.0
    assert retry_after(answer(None)) is None
    assert retry_after(answer("")) is None


def test_an_http_date_counts_from_now() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300)
    seconds = retry_after(answer(email.utils.format_datetime(later, usegmt=True)))
    assert seconds is not None and 290 <= seconds <= 301
    assert retry_after(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # already past
    naive = email.utils.format_datetime(later.replace(tzinfo=None))  # "-0000": UTC
    seconds = retry_after(answer(naive))
    assert seconds is not None and 290 <= seconds <= 301


@pytest.mark.parametrize(
    "value", ["soon", "nan", "inf", "Thu, 99 Foo 2024 99:99:99 GMT", "1 2 3", "Пн, 1 янв".encode()]
)
def test_garbage_is_no_hint_and_no_crash(value: str | bytes) -> None:
    assert retry_after(answer(value)) is None
    with pytest.raises(RateLimited) as raised:
        check_response(answer(value))
    assert raised.value.retry_after is None
