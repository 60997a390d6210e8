"""CRM lookup for screen pops: a Python callable or an HTTP GET template, with a TTL cache.

Rules:
- A lookup never raises and never blocks the engine greenlet: it runs in the pop's own greenlet
  under ``timeout_s`` and always returns a :class:`CrmResult` whose ``status`` says what happened:
  ``found`` (a record), ``new`` (the CRM does not know the number: pop as a new customer),
  ``failed`` (the CRM errored or answered garbage), ``timeout``, or ``disabled`` (no CRM).
- Only ``found`` and ``new`` answers are cached (``cache_ttl_s``): a CRM that was down a second ago
  is asked again, not remembered as down.
- The number reaches the URL percent-encoded, so a hostile caller id cannot add query parameters
  or change the path. HTTP GET follows no redirects and reads at most ``max_response_bytes``.

Theory: this module owns the lookup and its cache. It knows nothing about calls, agents or
the engine; it is handed a number and a clock.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent

from ctilink.config import CrmConfig
from ctilink.service.httpclient import HttpClientError, http_request

#: A lookup callable: the E.164 number in, the customer record out (None: unknown number).
Lookup = Callable[[str], Mapping[str, Any] | None]

FOUND = "found"
NEW = "new"
FAILED = "failed"
TIMEOUT = "timeout"
DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class CrmResult:
    status: str
    record: Mapping[str, Any] | None = None
    error: str | None = None
    cached: bool = False


class CrmLookup:
    """Pluggable customer lookup with a TTL cache. ``lookup`` wins over ``url_template``."""

    def __init__(
        self,
        config: CrmConfig | None = None,
        *,
        lookup: Lookup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config if config is not None else CrmConfig()
        self._lookup = lookup
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, CrmResult]] = OrderedDict()
        self.calls = 0  # lookups that reached the CRM (not the cache)

    @property
    def enabled(self) -> bool:
        return self._lookup is not None or self.config.url_template is not None

    def set_lookup(self, lookup: Lookup | None) -> None:
        self._lookup = lookup
        self._cache.clear()

    def cached(self, number: str) -> CrmResult | None:
        """A fresh cached answer for ``number``, without asking the CRM."""
        hit = self._cache.get(number)
        if hit is None:
            return None
        expires, result = hit
        if self._clock() >= expires:
            del self._cache[number]
            return None
        self._cache.move_to_end(number)
        return CrmResult(result.status, result.record, None, cached=True)

    def lookup(self, number: str | None) -> CrmResult:
        """Look ``number`` up (cache first). Cooperative: call it from its own greenlet."""
        if not self.enabled:
            return CrmResult(DISABLED)
        if not number:
            return CrmResult(NEW)
        hit = self.cached(number)
        if hit is not None:
            return hit
        self.calls += 1
        try:
            with gevent.Timeout(self.config.timeout_s):
                record = self._ask(number)
        except gevent.Timeout:
            return CrmResult(TIMEOUT, error=f"no answer within {self.config.timeout_s:g}s")
        except Exception as exc:
            return CrmResult(FAILED, error=f"{type(exc).__name__}: {exc}"[:300])
        result = CrmResult(FOUND, record) if record is not None else CrmResult(NEW)
        self._remember(number, result)
        return result

    def _remember(self, number: str, result: CrmResult) -> None:
        if self.config.cache_ttl_s <= 0 or self.config.cache_size <= 0:
            return
        self._cache[number] = (self._clock() + self.config.cache_ttl_s, result)
        self._cache.move_to_end(number)
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)

    def _ask(self, number: str) -> Mapping[str, Any] | None:
        if self._lookup is not None:
            record = self._lookup(number)
            if record is not None and not isinstance(record, Mapping):
                raise TypeError(f"the CRM lookup returned {type(record).__name__}, expected a mapping or None")
            return dict(record) if record is not None else None
        assert self.config.url_template is not None
        url = self.config.url_template.replace("{number}", urllib.parse.quote(number, safe=""))
        resp = http_request(
            "GET",
            url,
            headers=dict(self.config.headers),
            timeout=self.config.timeout_s,
            max_body=self.config.max_response_bytes,
        )
        if resp.status == 404:
            return None
        if not 200 <= resp.status < 300:
            raise HttpClientError(f"CRM answered HTTP {resp.status}")
        if resp.truncated:
            raise HttpClientError(f"CRM answer larger than {self.config.max_response_bytes} bytes")
        if not resp.body.strip():
            return None
        data = json.loads(resp.body)
        if isinstance(data, list):  # a search endpoint: first match, or none
            data = data[0] if data else None
        if data is not None and not isinstance(data, dict):
            raise HttpClientError("CRM answer is not a JSON object")
        return data


__all__ = ["DISABLED", "FAILED", "FOUND", "NEW", "TIMEOUT", "CrmLookup", "CrmResult", "Lookup"]
