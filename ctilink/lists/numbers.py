"""Phone-number normalization for the number lists.

Rules:
- Every number kept in a list or looked up in one is either E.164 (``+4420...``) or the single
  token :data:`ANONYMOUS` for a withheld caller. Prefixes are E.164 digit runs that start with
  a real country calling code (``+44``, ``+44909``).
- Caller-controlled input is hostile: it is length-capped (:data:`MAX_INPUT_CHARS`), may hold
  only digits, one leading ``+`` and the usual separators (space ``-`` ``.`` ``(`` ``)`` ``/``),
  and anything else raises :class:`InvalidNumberError` naming the (escaped) input and the reason.
- Withheld callers are recognised from what FreeSWITCH puts in ``caller_id_number``: sofia
  copies the SIP From user part, so RFC 3323 anonymity arrives as ``anonymous``/``Anonymous``;
  carriers send ``restricted``, ``private``, ``unknown``, ``unavailable``, ``withheld``; an
  empty From user, or a leg with no caller id at all, gets FreeSWITCH's default caller id number
  ``0000000000`` (``SWITCH_DEFAULT_CLID_NUMBER``). All of these normalize to :data:`ANONYMOUS`.

Theory of operation: :func:`normalize_number` strips separators and lets ``phonenumbers`` parse
with the configured default region (so national ``020 7946 0958``, IDD ``0044...`` /
``011 44...`` and ``+44...`` all meet), then requires the result to be a *possible* number for its
country (a length check). ``strict=True`` additionally requires a number in an allocated range
(``is_valid_number``); that is off by default because metadata lags real allocations and a list
that cannot hold a real caller's number is worse than one that holds an unallocated one.
:func:`normalize_prefix` cannot use the parser (a prefix is not a number), so it rewrites IDD and
national prefixes itself from the region's metadata and checks the country calling code.

This module knows nothing about lists, scopes, the store or the engine.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

from ctilink.lists.safety import escape_for_log

__all__ = [
    "ANONYMOUS",
    "MAX_INPUT_CHARS",
    "InvalidNumberError",
    "UnknownRegionError",
    "check_region",
    "is_e164",
    "is_withheld",
    "normalize_number",
    "normalize_prefix",
]

#: The token every withheld / anonymous caller normalizes to.
ANONYMOUS = "anonymous"

#: Longest raw input considered at all (E.164 is at most 15 digits; separators need room).
MAX_INPUT_CHARS = 64

#: Lower-cased ``caller_id_number`` values that mean "the caller withheld their number".
WITHHELD_VALUES = frozenset(
    {
        "",
        "anonymous",
        "anonymous@anonymous.invalid",
        "0000000000",
        "restricted",
        "private",
        "unknown",
        "unavailable",
        "withheld",
        "n/a",
    }
)

_ALLOWED = re.compile(r"\+?[0-9 ().\-/]+")
_SEPARATORS = re.compile(r"[ ().\-/]")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_MAX_E164_DIGITS = 15


class InvalidNumberError(ValueError):
    """A number (or prefix) could not be normalized; ``input`` is the escaped original."""

    def __init__(self, raw: object, reason: str) -> None:
        self.input = escape_for_log(raw)
        self.reason = reason
        super().__init__(f"invalid phone number {self.input}: {reason}")


class UnknownRegionError(ValueError):
    """The configured default region is not a region ``phonenumbers`` knows."""

    def __init__(self, region: object) -> None:
        self.region = escape_for_log(region)
        super().__init__(f"unknown default region {self.region}: expected an ISO 3166 code such as 'GB' or 'US'")


def check_region(region: str) -> str:
    """Return the upper-cased region code, or raise :class:`UnknownRegionError`."""
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise UnknownRegionError(region)
    return region.upper()


def is_withheld(raw: str | None) -> bool:
    """True when ``raw`` is how a withheld caller id shows up (see the module rules)."""
    if raw is None:
        return True
    if not isinstance(raw, str) or len(raw) > MAX_INPUT_CHARS or not raw.isprintable():
        return False
    return raw.strip().lower() in WITHHELD_VALUES


def is_e164(value: str) -> bool:
    """True when ``value`` is already in canonical E.164 form."""
    return _E164.fullmatch(value) is not None


def _clean(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidNumberError(raw, f"expected text, got {type(raw).__name__}")
    if len(raw) > MAX_INPUT_CHARS:
        raise InvalidNumberError(raw, f"longer than {MAX_INPUT_CHARS} characters")
    if not raw.isprintable():
        raise InvalidNumberError(raw, "contains control or non-printable characters")
    text = raw.strip()
    if not text:
        raise InvalidNumberError(raw, "empty")
    if _ALLOWED.fullmatch(text) is None:
        raise InvalidNumberError(raw, "only digits, a leading '+' and spaces, '-', '.', '(', ')', '/' are allowed")
    digits = _SEPARATORS.sub("", text)
    if not digits.lstrip("+"):
        raise InvalidNumberError(raw, "no digits")
    return digits


def normalize_number(raw: str | None, default_region: str, *, strict: bool = False) -> str:
    """Normalize a caller/list number to E.164, or to :data:`ANONYMOUS` for a withheld caller."""
    region = check_region(default_region)
    if is_withheld(raw):
        return ANONYMOUS
    text = _clean(raw)
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumberError(raw, str(exc._msg)) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumberError(raw, f"not a possible number (default region {region})")
    if strict and not phonenumbers.is_valid_number(parsed):
        raise InvalidNumberError(raw, f"not in an allocated number range (default region {region})")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


@lru_cache(maxsize=512)
def _region_prefixes(region: str) -> tuple[str, str, str]:
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        raise ValueError(f"no numbering metadata for region {region!r}")
    idd = meta.international_prefix or ""
    # Some regions describe their IDD as a pattern; only a plain digit run can be stripped safely.
    idd = idd if idd.isdigit() else ""
    national = meta.national_prefix or ""
    return str(meta.country_code), idd, national


def _has_country_code(digits: str) -> bool:
    return any(int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for n in (1, 2, 3) if len(digits) >= n)


def normalize_prefix(raw: str, default_region: str) -> str:
    """Normalize a number prefix (``+44``, ``0044 909``, national ``0909``) to ``+<digits>``."""
    region = check_region(default_region)
    text = _clean(raw)
    country, idd, national = _region_prefixes(region)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif idd and text.startswith(idd):
        digits = text[len(idd) :]
    elif national and text.startswith(national):
        digits = country + text[len(national) :]
    else:
        digits = country + text
    if not digits or digits[0] == "0":
        raise InvalidNumberError(raw, "a prefix must start with a country calling code")
    if len(digits) > _MAX_E164_DIGITS:
        raise InvalidNumberError(raw, f"longer than {_MAX_E164_DIGITS} digits")
    if not _has_country_code(digits):
        raise InvalidNumberError(raw, "does not start with a known country calling code")
    return "+" + digits
