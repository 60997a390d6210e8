"""Receivers' signature check: the library's and the one docs/integration.md tells receivers to copy.

Everything in a webhook request is the sender's (or an attacker's) to choose, so both checks must
answer False, never raise, on missing headers, odd timestamps and non-ASCII signatures, and must
find the headers whatever their case.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from ctilink.service.webhooks import sign, verify_request

DOC = Path(__file__).resolve().parents[1] / "docs" / "integration.md"
SECRET = b"s3cret-for-tests"
BODY = b'{"id":"evt_1","type":"ScreenPop"}'

Verifier = Callable[[bytes, Mapping[str, str], bytes], bool]


def _doc_verify() -> Verifier:
    text = DOC.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    code = next(b for b in blocks if "def verify(" in b)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    fn: Verifier = namespace["verify"]
    return fn


def _library(secret: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    return verify_request(secret, headers, body)


VERIFIERS = {"library": _library, "docs": _doc_verify()}


def _good_headers() -> dict[str, str]:
    ts = str(int(time.time()))
    return {"X-Ctilink-Timestamp": ts, "X-Ctilink-Signature": sign(SECRET, ts, BODY)}


@pytest.mark.parametrize("name", sorted(VERIFIERS))
def test_a_good_request_passes_in_any_header_case(name: str) -> None:
    check = VERIFIERS[name]
    good = _good_headers()
    assert check(SECRET, good, BODY)
    assert check(SECRET, {k.lower(): v for k, v in good.items()}, BODY)
    assert check(SECRET, {k.upper(): v for k, v in good.items()}, BODY)
    assert not check(b"another-secret", good, BODY)
    assert not check(SECRET, good, BODY + b" ")


def _hostile() -> dict[str, dict[str, str]]:
    good = _good_headers()
    ts, sig = good["X-Ctilink-Timestamp"], good["X-Ctilink-Signature"]
    return {
        "no headers": {},
        "no signature": {"X-Ctilink-Timestamp": ts},
        "no timestamp": {"X-Ctilink-Signature": sig},
        "non-numeric timestamp": {"X-Ctilink-Timestamp": "soon", "X-Ctilink-Signature": sig},
        "timestamp with spaces": {"X-Ctilink-Timestamp": f" {ts} ", "X-Ctilink-Signature": sig},
        "timestamp in other digits": {
            "X-Ctilink-Timestamp": ts.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
            "X-Ctilink-Signature": sig,
        },
        "huge timestamp": {"X-Ctilink-Timestamp": "9" * 5000, "X-Ctilink-Signature": sig},
        "non-ascii signature": {"X-Ctilink-Timestamp": ts, "X-Ctilink-Signature": "v1=" + "é" * 64},
        "non-ascii beside the right one": {"X-Ctilink-Timestamp": ts, "X-Ctilink-Signature": "v1=ü," + sig[:-1]},
        "empty signature": {"X-Ctilink-Timestamp": ts, "X-Ctilink-Signature": ""},
        "stale": {
            "X-Ctilink-Timestamp": str(int(ts) - 3600),
            "X-Ctilink-Signature": sign(SECRET, str(int(ts) - 3600), BODY),
        },
    }


@pytest.mark.parametrize("case", sorted(_hostile()))
@pytest.mark.parametrize("name", sorted(VERIFIERS))
def test_hostile_requests_answer_false_without_raising(name: str, case: str) -> None:
    assert VERIFIERS[name](SECRET, _hostile()[case], BODY) is False
