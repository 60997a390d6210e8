"""Number normalization, withheld callers and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctilink.lists.numbers import (
    ANONYMOUS,
    MAX_INPUT_CHARS,
    InvalidNumberError,
    UnknownRegionError,
    is_withheld,
    normalize_number,
    normalize_prefix,
)
from ctilink.lists.safety import UnsafeTextError, check_text, escape_for_log


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946-0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("15551230001", "US", "+15551230001"),  # FreeSWITCH fixture caller ids: no '+'
        ("(212) 555-0142", "us", "+12125550142"),
    ],
)
def test_numbers_normalize_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_number(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "0000000000",
        "restricted",
        "unknown",
        "",
        "  ",
        "private",
        "Withheld",
        None,
    ],
)
def test_withheld_callers_normalize_to_anonymous(raw: str | None) -> None:
    assert is_withheld(raw)
    assert normalize_number(raw, "GB") == ANONYMOUS


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("12345\r\nX-Evil: 1", "control"),
        ("+44 20\x00 7946", "control"),
        ("1" * (MAX_INPUT_CHARS + 1), "longer than"),
        ("sip:1000@evil", "only digits"),
        ("+44", "did not seem"),
        ("12", "possible"),
        ("+44 20 7946 0958 0000", "possible"),
    ],
)
def test_invalid_numbers_raise_a_clear_error_naming_the_input(raw: str, needle: str) -> None:
    with pytest.raises(InvalidNumberError) as info:
        normalize_number(raw, "GB")
    message = str(info.value)
    assert needle in message
    assert message.isprintable()  # control characters never reach the message raw
    assert info.value.input.startswith("'")


def test_strict_mode_rejects_unallocated_ranges() -> None:
    assert normalize_number("15551230001", "US") == "+15551230001"
    with pytest.raises(InvalidNumberError, match="allocated"):
        normalize_number("15551230001", "US", strict=True)


def test_unknown_region_is_its_own_error() -> None:
    with pytest.raises(UnknownRegionError, match="XX"):
        normalize_number("020 7946 0958", "XX")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44", "GB", "+44"),
        ("+44 909", "GB", "+44909"),
        ("0909", "GB", "+44909"),
        ("0044909", "GB", "+44909"),
        ("011 44 909", "US", "+44909"),
        ("900", "US", "+1900"),
        ("+1-900", "GB", "+1900"),
    ],
)
def test_prefixes_normalize(raw: str, region: str, expected: str) -> None:
    assert normalize_prefix(raw, region) == expected


@pytest.mark.parametrize("raw", ["+0", "+999", "1" * 20, "anonymous", "+44\n"])
def test_bad_prefixes_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidNumberError):
        normalize_prefix(raw, "GB")


@given(st.text(max_size=200))
def test_normalize_never_crashes_and_never_returns_junk(raw: str) -> None:
    try:
        out = normalize_number(raw, "GB")
    except InvalidNumberError as exc:
        assert str(exc).isprintable()
        return
    assert out == ANONYMOUS or (out.startswith("+") and out[1:].isdigit() and len(out) <= 16)


@given(st.text(max_size=300))
def test_escape_for_log_is_printable_and_bounded(raw: str) -> None:
    out = escape_for_log(raw)
    assert out.isprintable()
    assert len(out) <= 80 * 10 + 40


def test_check_text_rejects_control_characters_and_long_values() -> None:
    assert check_text("reason", "spam caller ☎", 20) == "spam caller ☎"
    with pytest.raises(UnsafeTextError, match="reason: contains control"):
        check_text("reason", "a\x1b[2Jb", 20)
    with pytest.raises(UnsafeTextError, match="longer than 5"):
        check_text("reason", "abcdef", 5)
