"""ListMatcher precedence, expiry, removal and entry validation; checked against a brute-force model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctilink.lists import (
    ANONYMOUS,
    BlockAction,
    Entry,
    EntryKind,
    InvalidEntryError,
    InvalidNumberError,
    ListMatcher,
    ListName,
    build_entry,
)

BL, WL, DNC = ListName.BLACKLIST, ListName.WHITELIST, ListName.DNC
NOW = 1_000_000.0


def e(
    number: str,
    kind: EntryKind = EntryKind.EXACT,
    *,
    lst: ListName = BL,
    scope: str = "global",
    expires_at: float | None = None,
    reason: str = "",
) -> Entry:
    return Entry(
        list_name=lst, number=number, kind=kind, scope=scope, expires_at=expires_at, reason=reason, added_at=1.0
    )


def test_exact_beats_prefix_and_longest_prefix_wins() -> None:
    m = ListMatcher(
        [
            e("+44", EntryKind.PREFIX, reason="uk"),
            e("+44909", EntryKind.PREFIX, reason="premium"),
            e("+449091234567", reason="exact"),
        ]
    )
    assert m.match("+449091234567", list=BL, now=NOW).reason == "exact"
    assert m.match("+449090000000", list=BL, now=NOW).reason == "premium"
    assert m.match("+442079460958", list=BL, now=NOW).reason == "uk"
    assert m.match("+12125550142", list=BL, now=NOW) is None


def test_narrower_scope_beats_global_and_only_listed_scopes_count() -> None:
    m = ListMatcher(
        [
            e("+442079460958", reason="global exact"),
            e("+44", EntryKind.PREFIX, scope="queue:support", reason="queue prefix"),
            e("+4420", EntryKind.PREFIX, scope="did:+442071234567", reason="did prefix"),
        ]
    )
    n = "+442079460958"
    assert m.match(n, list=BL, now=NOW).reason == "global exact"
    assert m.match(n, list=BL, scopes=["queue:support", "global"], now=NOW).reason == "queue prefix"
    # Caller order among narrow scopes decides; global is always last even if listed first.
    assert m.match(n, list=BL, scopes=["global", "did:+442071234567", "queue:support"], now=NOW).reason == "did prefix"
    assert m.match(n, list=BL, scopes=["queue:sales"], now=NOW) is None


def test_expired_entries_never_match_and_fall_through() -> None:
    m = ListMatcher(
        [
            e("+44", EntryKind.PREFIX, reason="uk"),
            e("+44909", EntryKind.PREFIX, expires_at=NOW, reason="old"),
            e("+449091234567", expires_at=NOW + 10, reason="exact"),
        ]
    )
    assert m.match("+449091234567", list=BL, now=NOW).reason == "exact"
    assert m.match("+449091234567", list=BL, now=NOW + 10).reason == "uk"  # expiry instant is exclusive
    assert m.match("+449090000000", list=BL, now=NOW - 1).reason == "old"
    assert m.match("+449090000000", list=BL, now=NOW).reason == "uk"
    dropped = m.purge_expired(NOW + 10)
    assert {x.reason for x in dropped} == {"old", "exact"} and len(m) == 1


def test_lists_are_separate_and_anonymous_is_its_own_case() -> None:
    m = ListMatcher(
        [e(ANONYMOUS, EntryKind.ANONYMOUS, reason="no cli"), e("+1", EntryKind.PREFIX, lst=DNC, reason="us")]
    )
    assert m.match(ANONYMOUS, list=BL, now=NOW).reason == "no cli"
    assert m.match(ANONYMOUS, list=DNC, now=NOW) is None
    assert m.match("+12125550142", list="dnc", now=NOW).reason == "us"
    assert m.match("+12125550142", list=BL, now=NOW) is None


def test_add_replaces_same_key_and_remove_returns_it() -> None:
    m = ListMatcher()
    assert m.add(e("+44909", EntryKind.PREFIX, reason="a")) is None
    assert m.add(e("+44909", EntryKind.PREFIX, reason="b")).reason == "a"
    assert len(m) == 1
    assert m.remove(BL, "+44909", kind=EntryKind.EXACT) is None  # different key
    assert m.remove(BL, "+44909", kind="prefix").reason == "b"
    assert len(m) == 0 and m.match("+449090000000", list=BL, now=NOW) is None
    assert m.remove(BL, "+44909", kind="prefix") is None


def test_match_rejects_unnormalized_input() -> None:
    with pytest.raises(InvalidNumberError):
        ListMatcher().match("02079460958", list=BL, now=NOW)
    with pytest.raises(ValueError):
        ListMatcher().match("+44", list="greylist", now=NOW)


def test_blacklist_actions_and_whitelist_fields_are_validated() -> None:
    assert e("+442079460958").action is BlockAction.REJECT and e("+442079460958").cause == "USER_BUSY"
    ann = build_entry(
        "blacklist", "+442079460958", "GB", action="announce", target="ivr/ivr-call_rejected.wav", added_at=0
    )
    assert ann.cause == "NORMAL_CLEARING"
    route = build_entry("blacklist", "+44909*", "GB", action="route", target="9999", added_at=0)
    assert route.kind is EntryKind.PREFIX and route.cause is None
    vip = build_entry(
        "whitelist", "020 7946 0958", "GB", priority=10, target="agent-1001", scope="queue:support", added_at=0
    )
    assert vip.number == "+442079460958" and vip.priority == 10
    bad = [
        dict(list_name="blacklist", number="+442079460958", cause="NOT_A_CAUSE"),
        dict(list_name="blacklist", number="+442079460958", action="announce", target="${system(rm -rf /)}"),
        dict(list_name="blacklist", number="+442079460958", action="announce", target="../../etc/passwd"),
        dict(list_name="blacklist", number="+442079460958", action="route", target="9999 XML evil"),
        dict(list_name="blacklist", number="+442079460958", priority=3),
        dict(list_name="whitelist", number="+442079460958", target="1001\nX"),
        dict(list_name="whitelist", number="+442079460958", priority=-1),
        dict(list_name="dnc", number="+442079460958", target="1001"),
        dict(list_name="dnc", number="+442079460958", reason="a\x07b"),
        dict(list_name="dnc", number="+442079460958", scope="queue:has space"),
        dict(list_name="dnc", number="442079460958"),
        dict(list_name="dnc", number="+44", kind="exact"),
        dict(list_name="dnc", number="+442079460958", expires_at=float("nan")),
    ]
    for fields in bad:
        with pytest.raises(InvalidEntryError):
            Entry(added_at=0.0, **fields)  # type: ignore[arg-type]
            pytest.fail(f"accepted {fields}")


# -- model-based check: the index agrees with a brute-force scan ---------------------------------

SCOPES = ["global", "queue:a", "did:+442071234567"]
digits = st.text("0123456789", min_size=0, max_size=6)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    kind = draw(st.sampled_from([EntryKind.EXACT, EntryKind.PREFIX, EntryKind.ANONYMOUS]))
    if kind is EntryKind.ANONYMOUS:
        number = ANONYMOUS
    elif kind is EntryKind.PREFIX:
        number = "+44" + draw(digits)
    else:
        number = "+44" + draw(st.text("0123456789", min_size=4, max_size=6))
    return Entry(
        list_name=draw(st.sampled_from([BL, WL])),
        number=number,
        kind=kind,
        scope=draw(st.sampled_from(SCOPES)),
        expires_at=draw(st.none() | st.floats(0, 20)),
        reason=draw(st.text("xyz", max_size=3)),
        added_at=0.0,
    )


def brute_force(
    all_entries: dict[tuple[str, str, str, str], Entry], number: str, lst: ListName, scopes: list[str], now: float
) -> Entry | None:
    order = [s for s in scopes if s != "global"] + (["global"] if "global" in scopes else [])
    for scope in order:
        live = [x for x in all_entries.values() if x.list_name is lst and x.scope == scope and not x.expired(now)]
        exact = [x for x in live if x.kind is not EntryKind.PREFIX and x.number == number]
        if exact:
            return exact[0]
        prefixes = [
            x for x in live if x.kind is EntryKind.PREFIX and number != ANONYMOUS and number.startswith(x.number)
        ]
        if prefixes:
            return max(prefixes, key=lambda x: len(x.number))
    return None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(entries(), max_size=25),
    st.lists(
        st.tuples(st.sampled_from(["+44"]).map(lambda p: p), st.text("0123456789", min_size=4, max_size=6)), max_size=8
    ),
    st.lists(st.integers(0, 24), max_size=5),
    st.floats(0, 25),
    st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3, unique=True),
)
def test_matcher_agrees_with_brute_force(
    batch: list[Entry], probes: list[tuple[str, str]], removals: list[int], now: float, scopes: list[str]
) -> None:
    m = ListMatcher()
    model: dict[tuple[str, str, str, str], Entry] = {}
    for entry in batch:
        m.add(entry)
        model[entry.key] = entry
    for i in removals:
        if i < len(batch):
            victim = batch[i]
            removed = m.discard(victim)
            assert (removed is not None) == (victim.key in model)
            model.pop(victim.key, None)
    assert len(m) == len(model)
    numbers = [p + d for p, d in probes] + [ANONYMOUS] + [x.number for x in batch if x.kind is EntryKind.EXACT]
    for number in numbers:
        for lst in (BL, WL):
            assert m.match(number, list=lst, scopes=scopes, now=now) == brute_force(model, number, lst, scopes, now)
