"""The Grafana dashboard only queries what the daemon exports, with labels those metrics carry."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ctilink.core import EngineConfig, OverflowAction, QueueConfig
from ctilink.core import requests as rq
from ctilink.esl.metrics import EslMetrics
from ctilink.service.metrics import KpiMetrics

sys.path.insert(0, str(Path(__file__).parent / "core"))
from core_switch import Switch, agent

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "examples" / "grafana" / "ctilink-dashboard.json"
PROMETHEUS = ROOT / "examples" / "prometheus.yml"

_METRIC = re.compile(r"\b(ctilink_[A-Za-z0-9_]+)")
_SELECTOR = re.compile(r"\b(ctilink_[A-Za-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


class _Fed(Switch):
    def __init__(self, config: EngineConfig, metrics: KpiMetrics) -> None:
        self.metrics = metrics
        super().__init__(config)

    def _record(self, effects):  # type: ignore[no-untyped-def]
        for note in effects.notifications:
            self.metrics.observe(note, self.now)
        return super()._record(effects)


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Sample name -> label names, from a registry the daemon's metric classes were exercised on."""
    registry = CollectorRegistry()
    queues = [
        QueueConfig(name="support", wrap_up_s=2),
        QueueConfig(
            name="sales",
            max_wait_s=5,
            overflow=OverflowAction(kind="queue", target="support"),
            required_skills={"sales": 1},
            escalation=[{"after_s": 1, "relax_skills": {"sales": 0}}],
        ),
    ]
    cfg = EngineConfig(
        queues=queues, agents=[agent("1001"), agent("1002")], disposition_codes=["sale"], sticky={"enabled": True}
    )
    metrics = KpiMetrics.from_config(registry, cfg, per_agent=True)
    sw = _Fed(cfg, metrics)
    sw.login("1001")
    sw.request(rq.AgentNotReady("1001", "break"))
    sw.park("c1", caller="+15551230001")
    sw.park("c2", caller="+15551230002", queue="sales")  # escalates, then overflows to support at 5 s
    sw.park("c3", caller="+15551230003", queue="nope")  # unknown queue: default route
    sw.hangup("c3", "ORIGINATOR_CANCEL", at=20.0)
    sw.hangup("c1", "ORIGINATOR_CANCEL", at=30.0)
    sw.send(rq.AgentReady("1001"), at=31.0)  # takes c2
    leg = sw.leg_of("1001")
    sw.answer(leg, at=32.0)
    sw.send(rq.TransferCall(sw.call_id("c2"), queue="support"), at=40.0)
    sw.hangup(leg)
    sw.advance(42.0)  # wrap-up over: 1001 takes c2 again
    leg = sw.leg_of("1001")
    sw.answer(leg, at=43.0)
    sw.request(rq.SetDisposition("1001", "sale"))
    sw.hangup("c2", at=50.0)
    sw.hangup(leg)
    sw.park("c5", caller="+15551230005", at=61.0)  # 1001 free: answered at once
    leg = sw.leg_of("1001")
    sw.answer(leg, at=62.0)
    sw.hangup("c5", at=70.0)
    sw.hangup(leg)
    sw.park("c6", caller="+15551230005", at=75.0)  # a repeat caller: sticky routing to 1001
    sw.park("c7", caller="+15551230007", at=76.0)
    sw.hangup("c7", "ORIGINATOR_CANCEL", at=77.0)  # a short abandon
    sw.login("1002")
    sw.request(rq.AddListEntry(list_name="blacklist", number="+15551239999", action="reject"))
    sw.park("c4", caller="+15551239999")
    metrics.refresh(sw.engine.snapshot(sw.now), sw.now)
    metrics.observe_decision("ChannelParked", 0.0001)
    metrics.observe_store_write(0.002, ok=False)
    _feed_dialer_metrics(registry)
    esl = EslMetrics(registry, "fs1")
    esl.event("ChannelParked")
    esl.command("uuid_bridge", 0.004, ok=False)
    esl.connect_failed("refused")
    esl.disconnected("eof")
    esl.reconnects.inc()
    esl.resyncs.inc()
    esl.malformed.inc()
    esl.dropped_events.inc()
    esl.buffer_depth.set(3)
    esl.connected.set(1)

    names: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _feed_dialer_metrics(registry: CollectorRegistry) -> None:
    """The dialer's metrics, fed as the daemon feeds them (notifications, then campaign stats)."""
    from ctilink.dialer.campaign import Mode
    from ctilink.dialer.dialer import AttemptRecorded, CampaignState, CampaignStats, DialRefused
    from ctilink.service.metrics import DialerMetrics
    from ctilink.store.records import CampaignAttempt

    dialer = DialerMetrics(registry)
    dialer.observe(
        AttemptRecorded(
            CampaignAttempt(
                attempt_id="a1", campaign="spring", contact_id="c1", started_at=1.0, ended_at=9.0, outcome="busy"
            )
        ),
        9.0,
    )
    dialer.observe(DialRefused("spring", "c2", "dnc", 9.0), 9.0)
    dialer.refresh(
        [
            CampaignStats(
                campaign="spring",
                state=CampaignState.RUNNING,
                mode=Mode.PREDICTIVE,
                pending=1,
                dials_in_flight=2,
                live_answers=1,
                connected=1,
                abandoned=0,
                abandon_rate=0.0,
                abandon_rate_window=0.0,
                refused=1,
                agents_idle=0,
                agents_working=1,
                dial_level=2.0,
            )
        ]
    )


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels(dash: dict) -> list[dict]:
    out = []
    for panel in dash["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _exprs(dash: dict) -> list[str]:
    exprs = [t["expr"] for p in _panels(dash) for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["query"]["query"] if isinstance(var["query"], dict) else var["query"])
    return exprs


def test_every_expression_uses_only_exported_metrics(exported: dict[str, set[str]]) -> None:
    exprs = _exprs(_dashboard())
    assert len(exprs) > 40
    missing = sorted({name for e in exprs for name in _METRIC.findall(e)} - exported.keys())
    assert missing == [], f"the dashboard queries metrics nobody exports: {missing}"
    for expr in exprs:
        assert _METRIC.search(expr), f"expression without a ctilink metric: {expr}"


def test_label_matchers_and_groupings_name_real_labels(exported: dict[str, set[str]]) -> None:
    for expr in _exprs(_dashboard()):
        for name, body in _SELECTOR.findall(expr):
            for label in _MATCHER.findall(body):
                assert label in exported[name], f"{name} has no label {label!r} ({expr})"
        labels_here = set().union(*(exported.get(n, set()) for n in _METRIC.findall(expr)))
        for group in _GROUPING.findall(expr):
            for label in (s.strip() for s in group.split(",") if s.strip()):
                assert label in labels_here, f"grouping by {label!r} but no metric in {expr!r} has it"


def test_dashboard_is_importable_shape() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["queue"]["query"]["query"].startswith("label_values(")
    panels = _panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["Wallboard", "Queue performance", "Agents", "System health", "Outbound campaigns"]
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24


def test_panels_do_not_overlap() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in _panels(_dashboard()):
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_wallboard_has_the_headline_figures() -> None:
    dash = _dashboard()
    panels = _panels(dash)
    wallboard = []
    for panel in panels:
        if panel["type"] == "row" and wallboard:
            break
        if panel["type"] == "row":
            wallboard.append(panel)
            continue
        if wallboard:
            wallboard.append(panel)
    exprs = " ".join(t["expr"] for p in wallboard for t in p.get("targets", []))
    for name in (
        "ctilink_service_level_ratio",
        "ctilink_queue_calls_waiting",
        "ctilink_queue_oldest_wait_seconds",
        "ctilink_agents",
    ):
        assert re.search(rf"\b{name}\b", exprs), name


def test_prometheus_example_scrapes_the_daemon() -> None:
    text = PROMETHEUS.read_text()
    assert re.search(r"targets:\s*\[\s*\"127\.0\.0\.1:9464\"\s*\]", text)
    assert "job_name: ctilink" in text


def test_every_kpi_family_is_fed_by_the_scenario(exported: dict[str, set[str]]) -> None:
    """No dead metrics: each family KpiMetrics registers gets samples from notifications, snapshots or timings."""
    registry = CollectorRegistry()
    KpiMetrics(registry, per_agent=True)
    families = {family.name for family in registry.collect()}
    unfed = sorted(f for f in families if not any(f + suffix in exported for suffix in _SUFFIXES))
    assert unfed == []


def test_dashboard_shows_every_kpi_family() -> None:
    registry = CollectorRegistry()
    KpiMetrics(registry, per_agent=True)
    used = {name for e in _exprs(_dashboard()) for name in _METRIC.findall(e)}
    unseen = sorted(f.name for f in registry.collect() if not any(f.name + suffix in used for suffix in _SUFFIXES))
    assert unseen == [], f"exported but on no panel: {unseen}"
