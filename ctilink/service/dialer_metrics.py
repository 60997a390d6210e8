"""Outbound campaign metrics for Prometheus, fed by the dialer's notifications and statistics.

Rules:
- The registry is passed in, as for :class:`~ctilink.service.metrics.KpiMetrics`; names are
  ``ctilink_dialer_*``.
- Labels are bounded (:mod:`ctilink.service.metric_labels`): ``campaign`` at most
  ``max_campaigns`` distinct names, ``outcome`` the attempt outcomes, ``reason`` the refusal
  reasons; anything else is ``_other``.
- Counters move on notifications (:meth:`DialerMetrics.observe`): an attempt counts once, when it
  has ended with a dial outcome; gauges are set from the dialer's stats (:meth:`DialerMetrics.refresh`).

The dialer's notifications and stats are read by class name and attribute (as the KPI metrics read
the engine's), so only the outcome vocabulary is imported from the dialer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from ctilink.dialer.campaign import AttemptOutcome
from ctilink.service.metric_labels import CappedLabel

__all__ = ["DialerMetrics"]


class DialerMetrics:
    """Outbound campaign metrics (docs/dialer.md), fed by the dialer's notifications and stats.

    Labels: ``campaign`` (configured campaign names, at most ``max_campaigns`` distinct, then
    ``_other``); ``outcome`` (:class:`~ctilink.dialer.campaign.AttemptOutcome` values);
    ``reason`` (refusal reasons: ``dnc``, ``blacklist``, ``window``, ``max-attempts``, else ``_other``).
    Counters move in :meth:`observe`; gauges are set from ``Dialer.stats`` by :meth:`refresh`.
    Families with no campaign configured export no samples (no placeholder series).
    """

    def __init__(self, registry: CollectorRegistry, *, max_campaigns: int = 64) -> None:
        self._campaigns = CappedLabel(cap=max_campaigns)
        self._outcomes = CappedLabel(allowed={o.value for o in AttemptOutcome})
        self._reasons = CappedLabel(allowed={"dnc", "blacklist", "window", "max-attempts"})
        r = registry
        self._dials = Counter(
            "ctilink_dialer_dials_total",
            "Campaign dial attempts ended, by outcome (refusals are not dials: see ctilink_dialer_refusals_total)",
            ["campaign", "outcome"],
            registry=r,
        )
        self._refusals = Counter(
            "ctilink_dialer_refusals_total",
            "Contacts not dialed: DNC, blacklist, window, attempts",
            ["campaign", "reason"],
            registry=r,
        )
        self._abandon = Gauge(
            "ctilink_dialer_abandon_ratio", "Abandoned / live answers over the last hour", ["campaign"], registry=r
        )
        self._abandon_life = Gauge(
            "ctilink_dialer_abandon_lifetime_ratio",
            "Abandoned / live answers since the campaign was loaded",
            ["campaign"],
            registry=r,
        )
        self._lines = Gauge(
            "ctilink_dialer_lines_in_flight",
            "Customer legs the dialer holds (ringing, answered, waiting for an agent, announcing)",
            ["campaign"],
            registry=r,
        )
        self._level = Gauge(
            "ctilink_dialer_dial_level_ratio",
            "Lines in flight per agent working the campaign (what the pacer runs at)",
            ["campaign"],
            registry=r,
        )
        self._pending = Gauge(
            "ctilink_dialer_contacts_pending",
            "Contacts waiting to be dialed (pending or callback)",
            ["campaign"],
            registry=r,
        )
        self._running = Gauge(
            "ctilink_dialer_campaign_running", "1 while the campaign is running", ["campaign"], registry=r
        )

    def observe(self, note: object, now: float) -> None:
        kind = type(note).__name__
        if kind == "AttemptRecorded":
            attempt: Any = note.attempt  # type: ignore[attr-defined]  # dispatched on the class name
            if attempt.ended_at is None or attempt.outcome in (None, "refused"):
                return
            self._dials.labels(self._campaigns(attempt.campaign), self._outcomes(attempt.outcome)).inc()
        elif kind == "DialRefused":
            n: Any = note
            self._refusals.labels(self._campaigns(n.campaign), self._reasons(n.reason)).inc()

    def refresh(self, stats: Iterable[Any]) -> None:
        for s in stats:
            label = self._campaigns(s.campaign)
            self._abandon.labels(label).set(s.abandon_rate_window)
            self._abandon_life.labels(label).set(s.abandon_rate)
            self._lines.labels(label).set(s.dials_in_flight)
            self._level.labels(label).set(s.dial_level)
            self._pending.labels(label).set(s.pending)
            self._running.labels(label).set(1.0 if getattr(s.state, "value", s.state) == "running" else 0.0)
