"""Adoption: turn what a resync found on the switch back into the calls ctilink was running.

Rules:
- After a (re)connect the switch describes its channels (``resync=True`` events, then one
  :class:`~ctilink.events.Resynced` marker). Channels the engine does not know and that carry
  ``ctilink_call_id`` were put there by a ctilink that is gone (this daemon before a restart, or
  a peer): they are adopted, never treated as new arrivals and never forgotten.
- The channel variables are the truth of what a channel is. A customer carries
  ``ctilink_call_id`` and ``ctilink_queue`` (and no ``ctilink_role`` or ``customer``); an agent
  leg carries ``ctilink_role=agent``, ``ctilink_agent_id`` and the same ``ctilink_call_id``.
- What each found call becomes, by what the switch says of its legs:

  ==============================================  ===========================================
  customer bridged to one of its agent legs       connected to that agent (the switch ends it)
  customer plus an answered, unbridged agent leg  connected; the engine bridges the two
  customer waiting (parked, hold music, answered  queued again, at the head of its priority
  inbound not running anything else)              (it has waited already), hold music on
  customer running another application           released: it left ctilink before (overflow,
  (voicemail, a transfer)                          transfer); left alone
  outbound customer not answered yet             not adopted: its answer parks it, a live arrival
  ringing agent leg                               hung up: its originate belonged to the old
                                                  connection, and the agent is offered afresh
  agent leg whose customer is not there           hung up (an orphan)
  click-to-dial agent leg (``c2d-agent``)          a click-to-dial session, bridged (the switch
  bridged to its ``c2d-customer``                  ends the pair); the agent on-call
  click-to-dial leg not bridged to its partner    hung up: its originates (and the bridge that
                                                  waited for them) belonged to the old connection
  ==============================================  ===========================================

- Click-to-dial legs carry their own roles (``c2d-agent``, ``c2d-customer``), never ``agent`` or
  ``customer``: they are neither an ACD agent leg without its customer nor an inbound caller.

- Everything else the resync described (new arrivals, channels on agents' phones) is handed back
  to the engine, in the order it came, after the adoption, so an agent found on a call is never
  offered a second one first.

Theory: this module is pure planning: :class:`Found` collects what the resync events said about
each channel, :func:`plan` sorts them into an :class:`AdoptionPlan`. It changes nothing; the
engine applies the plan with its own state machines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ctilink.core.click_to_dial import ROLE_AGENT, ROLE_CUSTOMER, ROLES
from ctilink.events import ChannelAnswered, ChannelBridged, ChannelEvent, ChannelHeld, ChannelParked

__all__ = [
    "WAITING_APPLICATIONS",
    "AdoptedCall",
    "AdoptedClickToDial",
    "AdoptionPlan",
    "Found",
    "is_adoptable",
    "plan",
]

#: Applications a waiting customer runs: parked, or parked with hold music broadcast over it.
WAITING_APPLICATIONS = frozenset({"park", "playback", "endless_playback", "uuid_broadcast"})


@dataclass
class Found:
    """One channel as the resync described it (its events merged)."""

    uuid: str
    node: str
    direction: str | None
    channel_name: str | None
    caller_number: str | None
    caller_name: str | None
    destination_number: str | None
    variables: dict[str, str]
    answered: bool = False
    parked: bool = False
    held: bool = False
    partner: str | None = None

    @property
    def call_id(self) -> str:
        return self.variables.get("ctilink_call_id", "")

    @property
    def is_agent_leg(self) -> bool:
        return self.variables.get("ctilink_role") == "agent" and bool(self.variables.get("ctilink_agent_id"))

    @property
    def is_click_to_dial(self) -> bool:
        return self.variables.get("ctilink_role") in ROLES

    @property
    def is_customer(self) -> bool:
        return self.variables.get("ctilink_role", "customer") == "customer" and "ctilink_queue" in self.variables

    def merge(self, ev: ChannelEvent) -> None:
        self.variables.update(ev.variables)
        if isinstance(ev, ChannelAnswered):
            self.answered = True
        elif isinstance(ev, ChannelParked):
            self.parked = True
        elif isinstance(ev, ChannelHeld):
            self.held = True
        elif isinstance(ev, ChannelBridged) and ev.other_uuid:
            self.partner = ev.other_uuid


def is_adoptable(ev: ChannelEvent) -> bool:
    """A resync event about a channel some ctilink put under its control."""
    return ev.resync and bool(ev.variables.get("ctilink_call_id"))


def found_from(ev: ChannelEvent) -> Found:
    found = Found(
        uuid=ev.uuid,
        node=ev.node,
        direction=ev.direction,
        channel_name=ev.channel_name,
        caller_number=ev.caller_number,
        caller_name=ev.caller_name,
        destination_number=ev.destination_number,
        variables={},
    )
    found.merge(ev)
    return found


@dataclass(frozen=True)
class AdoptedCall:
    """A customer to take back, with the agent leg it is (or is to be) connected to."""

    customer: Found
    agent_leg: Found | None = None
    bridged: bool = False


@dataclass(frozen=True)
class AdoptedClickToDial:
    """A bridged click-to-dial pair to take back."""

    agent_leg: Found
    customer: Found


@dataclass
class AdoptionPlan:
    calls: list[AdoptedCall] = field(default_factory=list)
    hang_up: list[Found] = field(default_factory=list)  # ringing or orphaned agent / click-to-dial legs
    click_to_dial: list[AdoptedClickToDial] = field(default_factory=list)
    released: list[Found] = field(default_factory=list)  # customers that had already left ctilink
    not_yet: list[Found] = field(default_factory=list)  # unanswered outbound customers


def _pair(found: Mapping[str, Found], a: Found) -> Found | None:
    """a's bridged partner, whichever leg the switch reported the bridge on."""
    if a.partner and a.partner in found:
        return found[a.partner]
    for other in found.values():
        if other.partner == a.uuid:
            return other
    return None


def plan(found: Mapping[str, Found], applications: Mapping[str, str], alive: Iterable[str]) -> AdoptionPlan:
    """Sort the found channels (those still ``alive`` in the marker) into what becomes of each."""
    live = set(alive)
    channels = {uuid: f for uuid, f in found.items() if uuid in live}
    out = AdoptionPlan()
    claimed: set[str] = set()
    customers = [f for f in channels.values() if f.is_customer]
    legs_of: dict[str, list[Found]] = {}
    for f in channels.values():
        if f.is_agent_leg:
            legs_of.setdefault(f.call_id, []).append(f)
    for customer in customers:
        legs = legs_of.get(customer.call_id, [])
        partner = _pair(channels, customer)
        bridged_leg = partner if partner is not None and partner in legs else None
        if bridged_leg is not None:
            out.calls.append(AdoptedCall(customer, bridged_leg, bridged=True))
            claimed.add(bridged_leg.uuid)
            continue
        if partner is not None:
            out.released.append(customer)  # bridged to something that is not its agent leg
            continue
        app = applications.get(customer.uuid)
        waiting = customer.parked or app in WAITING_APPLICATIONS or (app is None and customer.answered)
        if not waiting:
            if customer.direction == "outbound" and not customer.answered:
                out.not_yet.append(customer)
            else:
                out.released.append(customer)
            continue
        answered_leg = next((leg for leg in legs if leg.answered and _pair(channels, leg) is None), None)
        out.calls.append(AdoptedCall(customer, answered_leg, bridged=False))
        if answered_leg is not None:
            claimed.add(answered_leg.uuid)
    out.hang_up = [
        f for f in channels.values() if f.is_agent_leg and f.uuid not in claimed and _pair(channels, f) is None
    ]
    paired: set[str] = set()
    for f in channels.values():
        if f.variables.get("ctilink_role") != ROLE_AGENT or not f.variables.get("ctilink_agent_id"):
            continue
        partner = _pair(channels, f)
        if (
            partner is not None
            and partner.variables.get("ctilink_role") == ROLE_CUSTOMER
            and partner.call_id == f.call_id
        ):
            out.click_to_dial.append(AdoptedClickToDial(f, partner))
            paired.update((f.uuid, partner.uuid))
    # Unbridged click-to-dial legs (still ringing, or answered and waiting for the other) go:
    # nothing would ever bridge them. A leg bridged to something else is left alone.
    out.hang_up.extend(
        f for f in channels.values() if f.is_click_to_dial and f.uuid not in paired and _pair(channels, f) is None
    )
    return out
