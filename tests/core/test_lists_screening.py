"""Number lists in the engine: blacklist actions, scopes, expiry, anonymous callers, VIPs and the
green channel, do-not-call checks, and list changes as requests (with their typed refusals)."""

from __future__ import annotations

import pytest
from core_switch import Switch, agent, make_switch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctilink import commands as cmd
from ctilink.core import Disposition, QueueConfig, ScreenDecision
from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.config import ListsConfig
from ctilink.core.errors import (
    DoNotCallError,
    InvalidListEntry,
    InvalidNumber,
    InvalidValue,
    UnknownList,
    UnknownListEntry,
    UnknownQueue,
)
from ctilink.events import ChannelParked, ExecuteComplete
from ctilink.lists import Entry, build_entry
from ctilink.testing.invariants import check_invariants

CALLER = "15551230001"  # +15551230001 with default_region US
E164 = "+15551230001"
DID_A = "+12025550100"
DID_B = "+12025550111"


def arrive(
    sw: Switch,
    uuid: str,
    caller: str | None = CALLER,
    queue: str | None = "support",
    destination: str = "7000",
    **variables: str,
) -> str:
    """Park an inbound call; returns its call id."""
    if queue is not None:
        variables["ctilink_queue"] = queue
    sw.send(
        ChannelParked(
            uuid=uuid,
            caller_number=caller,
            destination_number=destination,
            channel_name="sofia/external/x@127.0.0.1",
            variables=variables,
        )
    )
    return sw.call_id(uuid)


def add(sw: Switch, list_name: str, number: str, **fields: object) -> nt.ListChanged:
    effects = sw.request(rq.AddListEntry(list_name=list_name, number=number, **fields))  # type: ignore[arg-type]
    assert effects.error is None, effects.error
    [changed] = sw.of(nt.ListChanged, effects.notifications)
    return changed


def screened(sw: Switch) -> list[tuple[str, str, str]]:
    return [(n.list, n.action, n.scope) for n in sw.of(nt.CallScreened)]


def two_queues(**config: object) -> Switch:
    sw = make_switch(
        agents=[agent("1001"), agent("1002", {"vip": 1})],
        queues=[QueueConfig(name="support", wrap_up_s=5), QueueConfig(name="sales", wrap_up_s=5)],
        **config,
    )
    sw.login("1001")
    return sw


# ---------------------------------------------------------------- blacklist actions


def test_blacklist_reject_hangs_up_busy_before_answer_and_records_why() -> None:
    seen = []
    sw = two_queues(screen=lambda info: seen.append(info) or ScreenDecision.accept())
    add(sw, "blacklist", "+1 (555) 123-0001", reason="harassing the desk")
    effects = sw.park("c1", caller=CALLER)
    call_id = sw.call_id("c1")
    assert [type(c).__name__ for c in effects.commands] == ["SetVariables", "Hangup"]
    assert effects.commands[1] == cmd.Hangup("c1", "USER_BUSY")
    assert seen == [], "a blacklisted caller is not shown to the screen hook"
    assert screened(sw) == [("blacklist", "reject", "global")]
    note = sw.of(nt.CallScreened)[0]
    assert note.call_id == call_id and note.reason == "harassing the desk" and note.entry.number == E164
    assert sw.offers() == [] and sw.state("1001") == "available"
    record = sw.record(call_id).record
    assert record.disposition is Disposition.REJECTED
    assert record.rejected_reason == "blacklist global: harassing the desk"
    assert record.screening == "blacklist:reject:global" and record.customer_number == E164
    # The switch's own hangup later changes nothing.
    assert sw.hangup("c1").commands == []


def test_blacklist_reject_with_configured_cause() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, cause="call_rejected")
    effects = sw.park("c1")
    assert effects.commands[-1] == cmd.Hangup("c1", "CALL_REJECTED")


def test_blacklist_announce_answers_plays_then_hangs_up_with_cause() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, action="announce", target="ivr/blocked.wav", cause="CALL_REJECTED")
    effects = sw.park("c1")
    call_id = sw.call_id("c1")
    assert effects.commands[1:] == [cmd.Answer("c1"), cmd.Break("c1"), cmd.Playback("c1", "ivr/blocked.wav")]
    effects = sw.send(ExecuteComplete(uuid="c1", application="playback", application_data="ivr/blocked.wav"), at=4.0)
    assert effects.commands == [cmd.Hangup("c1", "CALL_REJECTED")]
    sw.hangup("c1", "CALL_REJECTED")
    record = sw.record(call_id).record
    assert record.disposition is Disposition.REJECTED and record.screening == "blacklist:announce:global"
    assert sw.offers() == []


def test_blacklist_announce_hangs_up_after_max_if_playback_never_ends() -> None:
    sw = two_queues(lists=ListsConfig(announce_max_s=12))
    add(sw, "blacklist", CALLER, action="announce", target="ivr/blocked.wav")
    sw.park("c1")
    effects = sw.advance(12.0)
    assert effects.commands == [cmd.Hangup("c1", "NORMAL_CLEARING")]


def test_blacklist_route_sends_to_voicemail_extension() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, action="route", target="vm-blocked")
    effects = sw.park("c1")
    call_id = sw.call_id("c1")
    assert effects.commands[-1] == cmd.Transfer("c1", "vm-blocked", context="default")
    record = sw.record(call_id).record
    assert record.disposition is Disposition.REJECTED
    assert [(t.kind, t.target) for t in record.transfers] == [("blacklist-route", "vm-blocked")]


# ---------------------------------------------------------------- scopes, expiry, anonymous


def test_scope_precedence_did_then_queue_then_global() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, scope=f"did:{DID_A}", action="route", target="vm-did")
    add(sw, "blacklist", CALLER, scope="queue:support", action="route", target="vm-queue")
    add(sw, "blacklist", CALLER, action="route", target="vm-global")
    arrive(sw, "c1", destination="(202) 555-0100")  # national form of DID_A
    arrive(sw, "c2", destination=DID_B)
    arrive(sw, "c3", queue="sales", destination=DID_B)
    transfers = {c.uuid: c.destination for c in sw.cmds(cmd.Transfer)}
    assert transfers == {"c1": "vm-did", "c2": "vm-queue", "c3": "vm-global"}
    assert [s for _, _, s in screened(sw)] == [f"did:{DID_A}", "queue:support", "global"]


def test_narrow_scope_prefix_beats_global_exact_and_exact_beats_prefix() -> None:
    sw = two_queues()
    add(sw, "blacklist", "+1555*", scope="queue:support", cause="CALL_REJECTED")
    add(sw, "blacklist", CALLER, cause="USER_BUSY")
    add(sw, "blacklist", "+1*", scope="queue:sales", cause="NO_ROUTE_DESTINATION")
    add(sw, "blacklist", CALLER, scope="queue:sales", cause="UNALLOCATED_NUMBER")
    arrive(sw, "c1")
    arrive(sw, "c2", queue="sales")
    assert [h.cause for h in sw.cmds(cmd.Hangup)] == ["CALL_REJECTED", "UNALLOCATED_NUMBER"]


def test_expired_entry_stops_matching_and_is_announced_as_expired() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, expires_at=100.0)
    arrive(sw, "c1")
    assert sw.cmds(cmd.Hangup)[-1] == cmd.Hangup("c1", "USER_BUSY")
    sw.advance(150.0)
    effects = sw.park("c2")
    expired = sw.of(nt.ListChanged, effects.notifications)
    assert [(n.op, n.entry.number, n.at) for n in expired] == [("expire", E164, 150.0)]
    assert sw.leg_of("1001"), "the caller is queued and offered now"
    assert sw.engine.query_list("blacklist") == []


def test_anonymous_entry_matches_every_withheld_form_and_nothing_else() -> None:
    sw = two_queues()
    add(sw, "blacklist", "anonymous", reason="no withheld ids")
    add(sw, "blacklist", "+1*", scope="queue:sales")  # a prefix never matches a withheld caller
    for n, caller in enumerate(["anonymous", "Restricted", "", None, "0000000000", "PRIVATE"]):
        arrive(sw, f"anon-{n}", caller=caller)
    assert len(sw.of(nt.CallScreened)) == 6 and all(s == ("blacklist", "reject", "global") for s in screened(sw))
    arrive(sw, "anon-sales", caller="anonymous", queue="sales")
    assert screened(sw)[-1] == ("blacklist", "reject", "global")
    arrive(sw, "real", caller="15551239999")
    assert len(sw.of(nt.CallScreened)) == 7 and sw.offers(), "a real number is not blocked by 'anonymous'"


def test_hostile_caller_id_is_not_an_error_and_matches_nothing() -> None:
    sw = two_queues()
    add(sw, "blacklist", "+1*")
    for n, caller in enumerate(["1001'; drop", "x" * 5000, "sip:evil@host", "\x1b[2J15551230001"]):
        effects = sw.send(
            ChannelParked(
                uuid=f"h{n}", caller_number=caller, destination_number="7000", variables={"ctilink_queue": "support"}
            )
        )
        assert effects.error is None
    assert sw.of(nt.CallScreened) == []
    assert len(sw.of(nt.CallQueued)) == 4


# ---------------------------------------------------------------- whitelist (VIP)


def test_vip_jumps_the_queue_with_configured_priority() -> None:
    sw = two_queues(lists=ListsConfig(vip_priority=70))
    add(sw, "whitelist", "+15551230002")
    sw.park("busy", caller="15551239000")  # occupies 1001
    sw.answer(sw.leg_of("1001"))
    arrive(sw, "normal", caller="15551239001")
    vip_id = arrive(sw, "vip", caller="15551230002")
    assert [(n.call_id, n.priority) for n in sw.of(nt.CallArrived)][-1] == (vip_id, 70)
    assert sw.engine.queue_position(vip_id)[0] == 1
    assert screened(sw) == [("whitelist", "vip", "global")]
    sw.hangup("busy", at=10.0)
    sw.advance(20.0)
    offered = sw.of(nt.CallOffered)[-1]
    assert offered.call_id == vip_id, "the VIP is served before the caller who arrived earlier"


def test_entry_priority_wins_over_config_and_is_capped_at_100() -> None:
    sw = two_queues()
    add(sw, "whitelist", "+15551230002", priority=40)
    add(sw, "whitelist", "+15551230003", priority=5000)
    arrive(sw, "a", caller="15551230002")
    arrive(sw, "b", caller="15551230003")
    assert [n.priority for n in sw.of(nt.CallArrived)] == [40, 100]


def test_vip_priority_only_raises_and_the_hook_sees_it() -> None:
    seen = []
    sw = two_queues(
        screen=lambda info: seen.append(info.priority) or ScreenDecision.accept(), lists=ListsConfig(vip_priority=30)
    )
    add(sw, "whitelist", CALLER)
    arrive(sw, "c1", ctilink_priority="80")
    assert seen == [80] and sw.of(nt.CallArrived)[0].priority == 80
    arrive(sw, "c2", ctilink_priority="10")
    assert seen == [80, 30]


def test_whitelist_beats_blacklist_unless_configured_otherwise() -> None:
    for beats, expected in ((True, ("whitelist", "vip", "global")), (False, ("blacklist", "reject", "queue:support"))):
        sw = two_queues(lists=ListsConfig(whitelist_beats_blacklist=beats))
        add(sw, "blacklist", "+1555*", scope="queue:support")
        add(sw, "whitelist", CALLER)
        arrive(sw, "c1")
        assert screened(sw) == [expected]


def test_hook_can_still_reject_a_vip() -> None:
    sw = two_queues(screen=lambda info: ScreenDecision.reject("CALL_REJECTED"))
    add(sw, "whitelist", CALLER, target="1002")
    effects = sw.park("c1")
    assert effects.commands[-1] == cmd.Hangup("c1", "CALL_REJECTED") and sw.of(nt.CallScreened) == []


def test_green_channel_to_agent_skips_the_queue() -> None:
    sw = two_queues()
    sw.login("1002")
    add(sw, "whitelist", CALLER, target="1002")
    sw.park("busy", caller="15551239000")  # 1001 busy; 1002 does not even serve 'support'
    effects = sw.park("c1")
    call_id = sw.call_id("c1")
    assert sw.of(nt.CallQueued, effects.notifications) == []
    assert sw.leg_of("1002", effects)
    assert screened(sw) == [("whitelist", "green-agent", "global")]
    sw.answer(sw.leg_of("1002"), at=2.0)
    sw.hangup("c1", at=30.0)
    sw.advance(60.0)
    record = sw.record(call_id).record
    assert record.disposition is Disposition.ANSWERED and record.screening == "whitelist:green-agent:global"


def test_green_channel_agent_unavailable_falls_back_to_queue_as_vip() -> None:
    sw = two_queues(lists=ListsConfig(vip_priority=90))
    add(sw, "whitelist", CALLER, target="1002")  # 1002 is logged out
    effects = sw.park("c1")
    assert screened(sw) == [("whitelist", "green-fallback", "global")]
    assert sw.of(nt.CallQueued, effects.notifications) and sw.leg_of("1001", effects)
    assert sw.of(nt.CallArrived)[0].priority == 90


def test_green_channel_agent_busy_falls_back_to_queue() -> None:
    sw = two_queues()
    sw.login("1002")
    add(sw, "whitelist", "+1555123*", target="1002")
    sw.park("first", caller="15551230001")
    assert sw.leg_of("1002")  # 1002 is now ringing: busy for the next VIP
    effects = sw.park("second", caller="15551230002")
    assert [a for _, a, _ in screened(sw)] == ["green-agent", "green-fallback"]
    assert sw.leg_of("1001", effects) and sw.of(nt.CallQueued, effects.notifications)


def test_green_channel_to_extension_transfers_out() -> None:
    sw = two_queues()
    add(sw, "whitelist", CALLER, target="5000")
    effects = sw.park("c1")
    call_id = sw.call_id("c1")
    assert effects.commands[-1] == cmd.Transfer("c1", "5000", context="default")
    assert screened(sw) == [("whitelist", "green-extension", "global")]
    record = sw.record(call_id).record
    assert record.disposition is Disposition.TRANSFERRED_OUT and record.end_reason == "green-channel"


def test_green_channel_unknown_queue_takes_default_route_as_fallback() -> None:
    sw = two_queues()
    sw.login("1002")
    add(sw, "whitelist", CALLER, target="1002")
    arrive(sw, "c1", queue="nope")
    assert screened(sw) == [("whitelist", "green-fallback", "global")]
    assert sw.of(nt.CallOverflowed)[0].reason == "default-route"


# ---------------------------------------------------------------- do-not-call


def test_dnc_check_by_campaign_and_global() -> None:
    sw = two_queues()
    add(sw, "dnc", "+1555123*", scope="campaign:spring", reason="opted out")
    add(sw, "dnc", "+15551239999")
    engine = sw.engine
    assert engine.check_dnc("(555) 123-0001", "spring", 0.0).reason == "opted out"  # type: ignore[union-attr]
    assert engine.check_dnc("5551230001", "autumn", 0.0) is None
    assert engine.check_dnc("+1 555 123 9999", None, 0.0).number == "+15551239999"  # type: ignore[union-attr]
    assert engine.ensure_dialable("5551230001", "autumn", 0.0) == E164
    with pytest.raises(DoNotCallError) as info:
        engine.ensure_dialable("5551239999", "autumn", 0.0)
    assert info.value.entry.number == "+15551239999" and info.value.code == "do-not-call"
    with pytest.raises(InvalidNumber):
        engine.check_dnc("call me", None, 0.0)
    with pytest.raises(InvalidNumber):
        engine.check_dnc("anonymous", None, 0.0)
    with pytest.raises(InvalidValue) as bad:
        engine.check_dnc(CALLER, "spring campaign; rm", 0.0)
    assert bad.value.field == "campaign"


def test_dnc_does_not_screen_inbound_calls() -> None:
    sw = two_queues()
    add(sw, "dnc", CALLER)
    sw.park("c1")
    assert sw.leg_of("1001") and sw.of(nt.CallScreened) == []


# ---------------------------------------------------------------- runtime management


def test_add_replace_remove_are_notifications() -> None:
    sw = two_queues()
    first = add(sw, "blacklist", "555-123-0001", reason="one", added_by="sup1")
    assert (first.op, first.entry.number, first.replaced, first.entry.added_at) == ("add", E164, None, 0.0)
    sw.advance(5.0)
    second = add(sw, "blacklist", "+15551230001", reason="two")
    assert second.replaced == first.entry and second.entry.added_at == 5.0
    assert [e.reason for e in sw.engine.query_list("blacklist")] == ["two"]
    effects = sw.request(rq.RemoveListEntry("blacklist", "(555) 123-0001"))
    [removed] = sw.of(nt.ListChanged, effects.notifications)
    assert (removed.op, removed.entry) == ("remove", second.entry)
    assert sw.engine.query_list("blacklist") == []
    sw.park("c1")
    assert sw.leg_of("1001")


def test_add_a_ready_entry_and_remove_prefix_and_anonymous_keys() -> None:
    sw = two_queues()
    entry = build_entry("blacklist", "+44909*", "US", added_at=0.0, scope="queue:sales")
    effects = sw.request(rq.AddListEntry(entry=entry))
    assert sw.of(nt.ListChanged, effects.notifications)[0].entry is entry
    add(sw, "blacklist", "withheld")
    assert sw.request(rq.RemoveListEntry("blacklist", "+44909*", scope="queue:sales", kind="prefix")).error is None
    assert sw.request(rq.RemoveListEntry("blacklist", "anonymous", kind="anonymous")).error is None
    assert sw.engine.query_list("blacklist") == []


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (rq.AddListEntry(list_name="greylist", number=CALLER), UnknownList, None),
        (rq.AddListEntry(list_name="blacklist", number="call me maybe"), InvalidNumber, "number"),
        (rq.AddListEntry(list_name="blacklist", number="+1" + "9" * 40), InvalidNumber, "number"),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, scope="queue:nope"), UnknownQueue, None),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, scope="planet:mars"), InvalidListEntry, "scope"),
        (
            rq.AddListEntry(list_name="blacklist", number=CALLER, action="route", target="vm@evil"),
            InvalidListEntry,
            "target",
        ),
        (
            rq.AddListEntry(list_name="blacklist", number=CALLER, action="announce", target="../../etc/passwd"),
            InvalidListEntry,
            "target",
        ),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, action="explode"), InvalidListEntry, "action"),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, cause="NOT_A_CAUSE"), InvalidListEntry, "cause"),
        (rq.AddListEntry(list_name="whitelist", number=CALLER, priority=-1), InvalidListEntry, "priority"),
        (rq.AddListEntry(list_name="whitelist", number=CALLER, target="a b"), InvalidListEntry, "target"),
        (rq.AddListEntry(list_name="dnc", number=CALLER, target="1001"), InvalidListEntry, "target"),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, reason="line\nbreak"), InvalidListEntry, "reason"),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, expires_at=-5.0), InvalidListEntry, "expires_at"),
        (rq.AddListEntry(list_name="blacklist", number=CALLER, expires_at=float("nan")), InvalidListEntry, "expires"),
        (rq.AddListEntry(list_name=None, number=CALLER), InvalidValue, "list_name"),
        (rq.AddListEntry(entry=build_entry("dnc", CALLER, "US", added_at=0.0), list_name="dnc"), InvalidValue, "entry"),
        (rq.RemoveListEntry("blacklist", CALLER), UnknownListEntry, None),
        (rq.RemoveListEntry("blacklist", CALLER, kind="fuzzy"), InvalidListEntry, "kind"),
        (rq.RemoveListEntry("redlist", CALLER), UnknownList, None),
        (rq.RemoveListEntry("blacklist", "nonsense"), InvalidNumber, "number"),
    ],
)
def test_bad_list_requests_are_refused_with_specific_errors(
    request_: rq.Request, error: type, field: str | None
) -> None:
    sw = two_queues()
    sw.advance(10.0)
    effects = sw.request(request_)
    assert isinstance(effects.error, error), effects.error
    if field is not None:
        assert effects.error.field == field  # type: ignore[union-attr]
    assert sw.of(nt.ListChanged) == [] and sw.engine.query_list("blacklist") == []
    assert len(str(effects.error)) < 400, "hostile values are quoted truncated"


def test_query_list_filters_and_match_list_explains() -> None:
    sw = two_queues()
    add(sw, "blacklist", CALLER, scope="queue:sales")
    add(sw, "blacklist", "+1555*")
    add(sw, "blacklist", "+15551230002", expires_at=50.0)
    add(sw, "whitelist", CALLER)
    engine = sw.engine
    # Sorted by key: (list, scope, kind, number).
    assert [e.number for e in engine.query_list("blacklist")] == ["+15551230002", "+1555", E164]
    assert [e.scope for e in engine.query_list("blacklist", scope="Queue:sales")] == ["queue:sales"]
    assert [e.number for e in engine.query_list("blacklist", number="(555) 123-0002")] == ["+15551230002"]
    assert [e.number for e in engine.query_list("blacklist", number="+1555*")] == ["+1555"]
    assert [e.number for e in engine.query_list("blacklist", now=60.0)] == ["+1555", E164]
    assert len(engine.query_list("blacklist", limit=1)) == 1
    assert engine.match_list(CALLER, "blacklist", queue="sales", now=0.0).scope == "queue:sales"  # type: ignore[union-attr]
    assert engine.match_list(CALLER, "blacklist", queue="support", now=0.0).number == "+1555"  # type: ignore[union-attr]
    with pytest.raises(UnknownList):
        engine.query_list("pinklist")


def test_load_lists_keeps_good_entries_and_returns_the_refused() -> None:
    sw = two_queues()
    good = build_entry("blacklist", CALLER, "US", added_at=0.0)
    route_at = Entry("blacklist", "+15551230002", action="route", target="vm@host")  # type: ignore[arg-type]
    refused = sw.engine.load_lists([good, route_at, "not an entry"])  # type: ignore[list-item]
    assert [(r[0], type(r[1]).__name__) for r in refused] == [
        (route_at, "InvalidListEntry"),
        ("not an entry", "InvalidListEntry"),
    ]
    assert sw.engine.query_list("blacklist") == [good]
    sw.park("c1")
    assert screened(sw) == [("blacklist", "reject", "global")]


def test_unknown_region_is_a_config_error() -> None:
    from pydantic import ValidationError

    from ctilink.core import EngineConfig

    with pytest.raises(ValidationError, match="default_region"):
        EngineConfig(default_region="XX")
    assert EngineConfig(default_region="gb").default_region == "GB"


def test_default_region_reads_national_numbers() -> None:
    sw = two_queues(default_region="GB")
    add(sw, "blacklist", "020 7946 0958")
    arrive(sw, "c1", caller="+44 20 7946 0958")
    assert screened(sw) == [("blacklist", "reject", "global")]
    assert sw.engine.query_list("blacklist")[0].number == "+442079460958"


_text = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.sampled_from(
        [
            "blacklist",
            "whitelist",
            "dnc",
            "+15551230001",
            "555 123 0001*",
            "anonymous",
            "queue:support",
            "global",
            "did:+12025550100",
            "route",
            "announce",
            "reject",
            "USER_BUSY",
            "1001",
            "ivr/x.wav",
        ]
    ),
)


def _mostly(default: object, other: st.SearchStrategy) -> st.SearchStrategy:
    """The default three times in four, so whole valid entries come up as well as refusals."""
    return st.one_of(st.just(default), st.just(default), st.just(default), other)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    list_name=_mostly("blacklist", st.one_of(st.sampled_from(["whitelist", "dnc", "WhiteList "]), _text)),
    number=_mostly("(555) 123-0001", _text),
    scope=_mostly("global", _text),
    reason=_mostly("", _text),
    target=_mostly(None, _text),
    action=_mostly(None, _text),
    cause=_mostly(None, _text),
    priority=_mostly(None, st.one_of(st.integers(-5, 2_000_000), st.text(max_size=5))),
    expires_at=_mostly(None, st.floats(allow_nan=True, allow_infinity=True)),
)
def test_any_raw_list_input_is_added_or_refused_with_a_typed_error(**fields: object) -> None:
    from ctilink.core.errors import InputError

    sw = two_queues()
    effects = sw.engine.handle(rq.AddListEntry(**fields), 1.0)  # type: ignore[arg-type]
    changed = [n for n in effects.notifications if isinstance(n, nt.ListChanged)]
    if effects.error is None:
        assert len(changed) == 1 and isinstance(changed[0].entry, Entry)
        assert len(sw.engine.query_list(changed[0].entry.list_name.value)) == 1
    else:
        assert isinstance(effects.error, InputError) and changed == []
        assert all(sw.engine.query_list(name) == [] for name in ("blacklist", "whitelist", "dnc"))
    assert check_invariants(sw.engine) == []
