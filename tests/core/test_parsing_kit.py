"""The parsing kit's tolerant rules and the one money conversion (aggregator.core.parsing/money)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator import (
    MOSCOW_TZ,
    Date,
    DateTime,
    Flag,
    Int,
    Kopecks,
    Number,
    ParseError,
    Roubles,
    Text,
    Wire,
    from_minor,
    models,
    parse_amount,
    parse_date,
    parse_datetime,
    parse_flag,
    parse_int,
    parse_kopecks,
    parse_reply,
    parse_roubles,
    reading,
    to_minor,
)


class Reply(Wire):
    balance: Roubles
    bonus: Kopecks | None = None
    as_of: DateTime
    start: Date | None = None
    name: Text = ""
    count: Int = 0
    rate: Number | None = None
    active: Flag = False
    items: list[Text] = []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56\u00a0₽", "1234.56"),
        ("1234.567", "1234.57"),
        ("1234.565", "1234.57"),  # half up, not to even
        ("-45,20 руб.", "-45.20"),
        ("−45,2 ₽", "-45.20"),
        ("1,234.56", "1234.56"),
        ("1.234.567,8", "1234567.80"),
        ("+12", "12.00"),
        (12, "12.00"),
        (12.5, "12.50"),
        (1234.565, "1234.57"),
        (Decimal("0.005"), "0.01"),
        (Decimal("-0.005"), "-0.01"),
    ],
)
def test_roubles_read_the_ways_cabinets_write_them(raw: object, expected: str) -> None:
    assert parse_amount(raw) == Decimal(expected)
    assert parse_roubles(raw) == models.Money.rub(expected)


@pytest.mark.parametrize("raw", ["", "12abc", "руб.", None, True, [], "1e5", float("nan")])
def test_what_is_not_money_is_a_parse_error(raw: object) -> None:
    with pytest.raises(ParseError):
        parse_amount(raw)


def test_kopecks_must_be_whole() -> None:
    assert parse_kopecks(123456) == models.Money.rub("1234.56")
    assert parse_kopecks("-5") == models.Money.rub("-0.05")
    with pytest.raises(ParseError):
        parse_kopecks("12.5")


def test_one_conversion_to_and_from_minor_units() -> None:
    assert to_minor(Decimal("1234.567")) == 123457
    assert to_minor(Decimal("-1.005")) == -101
    assert to_minor("0.004") == 0
    assert from_minor(123457) == Decimal("1234.57")
    assert from_minor(-5) == Decimal("-0.05")
    assert to_minor(from_minor(987654321)) == 987654321
    assert models.Money.from_minor(101).amount == Decimal("1.01")
    assert models.Money.rub("1.005").minor == 101
    with pytest.raises(TypeError):
        to_minor(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_minor(Decimal(1))  # type: ignore[arg-type]


def test_a_model_ignores_unknown_fields_and_reads_variants() -> None:
    reply = parse_reply(
        Reply,
        {
            "balance": "1 234,567 ₽",
            "bonus": "12345",
            "as_of": "2024-05-01T10:00:00.000+0300",
            "start": "01.06.2024",
            "name": 42,
            "count": " 1 234 ",
            "rate": "12,5",
            "active": "Y",
            "items": None,
            "newFieldOfTomorrow": {"x": 1},
        },
    )
    assert reply.balance == models.Money.rub("1234.57")
    assert reply.bonus == models.Money.rub("123.45")
    assert reply.as_of == dt.datetime(2024, 5, 1, 7, tzinfo=dt.UTC)
    assert reply.start == dt.date(2024, 6, 1)
    assert (reply.name, reply.count, reply.active) == ("42", 1234, True)
    assert reply.rate == Decimal("12.5")
    assert reply.items == []


def test_null_and_blank_optional_fields_take_their_default() -> None:
    reply = parse_reply(
        Reply, '{"balance": 5, "bonus": "", "as_of": "2024-05-01 10:00", "name": null}'
    )
    assert reply.bonus is None and reply.name == ""
    assert reply.as_of.tzinfo is MOSCOW_TZ and reply.as_of.hour == 10


def test_a_reply_lacking_what_the_reading_needs_is_a_redacted_parse_error() -> None:
    payload = {"as_of": "yesterday", "password": "hunter2hunter2", "phone": "79031234567"}
    with pytest.raises(ParseError) as caught:
        parse_reply(Reply, payload, what="balance", secrets=["s3cr3t-token"])
    error = caught.value
    assert "balance" in error.message and "as_of" in error.message
    assert "yesterday" not in error.message
    assert error.payload is not None
    assert "hunter2" not in error.payload and "1234567" not in error.payload
    with pytest.raises(ParseError, match="not JSON"):
        parse_reply(Reply, b"<html>oops</html>")
    with pytest.raises(ParseError) as token_case:
        parse_reply(Reply, {"note": "s3cr3t-token"}, secrets=["s3cr3t-token"])
    assert "s3cr3t-token" not in (token_case.value.payload or "")


def test_dates_and_times() -> None:
    assert parse_datetime("2024-06-01T12:00:00Z") == dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    assert parse_datetime("2024-06-01T12:00:00+0500").utcoffset() == dt.timedelta(hours=5)
    assert parse_datetime("01.06.2024 12:30:45") == dt.datetime(
        2024, 6, 1, 12, 30, 45, tzinfo=MOSCOW_TZ
    )
    assert parse_datetime(1717243200000) == dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    assert parse_datetime("2024-06-01T12:00", tz=dt.UTC).tzinfo is dt.UTC
    assert parse_date("2024-06-01T23:30:00+0300") == dt.date(2024, 6, 1)
    for bad in ("31.02.2024", "tomorrow", None):
        with pytest.raises(ParseError):
            parse_date(bad)
    with pytest.raises(ParseError):
        parse_datetime("12:30")


def test_whole_numbers_and_flags() -> None:
    assert parse_int("1 234") == 1234 and parse_int(7.0) == 7
    with pytest.raises(ParseError):
        parse_int("7.5")
    assert parse_flag("да") is True and parse_flag(0) is False and parse_flag("N") is False
    with pytest.raises(ParseError):
        parse_flag("maybe")


def test_reading_turns_any_slip_into_a_parse_error_with_the_payload() -> None:
    page = {"balance": {"amount": "1"}, "token": "abcdef"}
    with pytest.raises(ParseError) as caught, reading(page, "cabinet"):
        page["missing"]
    assert "cabinet" in caught.value.message and "abcdef" not in (caught.value.payload or "")
    with pytest.raises(ParseError, match="kept"), reading(page, "cabinet"):
        raise ParseError("kept")


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    """A plugin type-checks against the aggregator only when the wheel carries ``py.typed``."""
    import aggregator

    package = Path(aggregator.__file__).parent
    assert (package / "py.typed").is_file()
    # uv is on PATH, or where `make` installs it when it was not (.tools/uv, see the Makefile)
    local_uv = package.parent / ".tools" / "uv" / "bin" / "uv"
    uv = shutil.which("uv") or (str(local_uv) if local_uv.is_file() else None)
    if uv is None:
        pytest.skip("uv is neither on PATH nor in .tools/uv (make installs it there)")
    subprocess.run(
        [uv, "build", "--wheel", "--offline", "-q", "-o", str(tmp_path), str(package.parent)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    wheel = next(tmp_path.glob("aggregator-*.whl"))
    assert "aggregator/py.typed" in zipfile.ZipFile(wheel).namelist()
