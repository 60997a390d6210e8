"""Screen pops: everything an agent's desktop needs to show when a call rings or is answered.

Rules:
- A pop is raised when a call is offered to an agent (``phase="offered"``), again when that agent
  answers (``"answered"``), and for outbound preview when a contact is presented before dialling
  (``"preview"``, via :meth:`ScreenPopper.preview`, the dialer's entry point).
- Every offer gets its pop. A CRM that fails or hangs yields a pop whose ``crm_status`` says so
  (``failed``/``timeout``), never a missing pop; an unknown number pops as a new customer with
  the fields to fill.
- Pops of one call leave in order (offered before answered) even when the first waits on the CRM.
- The engine greenlet is never blocked: context is gathered synchronously from notifications
  (cheap dictionary updates), the CRM lookup runs in its own greenlet unless cached.
- IVR results are copied only from the configured allowlist of channel variables; values are
  cut to 256 printable characters (they are caller-controlled).

Theory: the engine's notifications already say what happened (arrived, queued at position n,
screened by a list, routed sticky, offered, answered); this module remembers them per call and
folds them, with the parked channel's variables (seen at the edge) and the CRM record, into one
frozen :class:`ScreenPop`. It decides nothing about routing and never reads engine state.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import gevent
import gevent.event
import structlog

from ctilink.config import ScreenPopConfig
from ctilink.core import notifications as nt
from ctilink.events import ChannelParked
from ctilink.lists.numbers import normalize_number
from ctilink.service.crm import DISABLED, CrmLookup, CrmResult

log = structlog.get_logger("ctilink.screenpop")

_MAX_VALUE = 256
_MAX_PARKED = 20_000


@dataclass(frozen=True, slots=True)
class ScreenPop(nt.Notification):
    """One screen pop for one agent. ``ctilink.on(ScreenPop, fn)`` receives these."""

    pop_id: str
    phase: str  # "offered", "answered", "preview"
    call_id: str
    uuid: str  # the customer's channel
    agent_uuid: str  # the agent's leg (empty for a preview)
    direction: str  # "inbound", "outbound"
    agent_id: str
    customer_number: str | None  # E.164 (or "anonymous"); None when the caller id is not a number
    customer_number_raw: str | None
    customer_name: str | None
    dialed_number: str | None
    queue: str | None
    campaign: str | None
    priority: int
    wait_s: float
    positions: tuple[tuple[float, int], ...]  # (at, position) each time the queue said where it was
    ivr: Mapping[str, str]
    screening: tuple[Mapping[str, str], ...]  # number-list decisions
    sticky: Mapping[str, str] | None
    vip: bool
    crm_status: str  # found, new, failed, timeout, disabled
    customer: Mapping[str, Any] | None
    crm_error: str | None
    new_customer: bool
    fields_to_fill: tuple[str, ...]
    at: float


@dataclass(slots=True)
class _CallContext:
    call_id: str
    uuid: str
    queue: str | None
    caller_number: str | None
    priority: int
    arrived_at: float
    caller_name: str | None = None
    dialed_number: str | None = None
    ivr: dict[str, str] = field(default_factory=dict)
    positions: list[tuple[float, int]] = field(default_factory=list)
    screening: list[dict[str, str]] = field(default_factory=list)
    sticky: dict[str, str] | None = None
    vip: bool = False
    crm: gevent.event.AsyncResult | None = None
    last_pop: gevent.Greenlet | None = None


@dataclass(frozen=True, slots=True)
class _Parked:
    caller_name: str | None
    dialed_number: str | None
    ivr: dict[str, str]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = "".join(ch for ch in value if ch.isprintable())[:_MAX_VALUE]
    return text or None


class ScreenPopper:
    """Folds notifications into :class:`ScreenPop` s and hands each to ``emit``."""

    def __init__(
        self,
        emit: Callable[[ScreenPop], None],
        *,
        config: ScreenPopConfig | None = None,
        crm: CrmLookup | None = None,
        default_region: str = "US",
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self.config = config if config is not None else ScreenPopConfig()
        self.crm = crm if crm is not None else CrmLookup()
        self._emit = emit
        self._region = default_region
        counter = itertools.count(1)
        self._new_id = id_factory if id_factory is not None else (lambda: f"pop-{time.time_ns():x}-{next(counter)}")
        self._calls: dict[str, _CallContext] = {}
        self._parked: OrderedDict[str, _Parked] = OrderedDict()
        exact = [v for v in self.config.variables if not v.endswith("*")]
        self._exact = frozenset(exact)
        self._prefixes = tuple(v[:-1] for v in self.config.variables if v.endswith("*"))
        self.pops = 0

    # -- inputs -------------------------------------------------------------------------------

    def observe_event(self, event: object) -> None:
        """Remember a parked channel's caller name, dialed number and IVR variables (edge side)."""
        if not isinstance(event, ChannelParked) or not self.config.enabled:
            return
        ivr = {
            name[:_MAX_VALUE]: _clean(value) or ""
            for name, value in event.variables.items()
            if name in self._exact or name.startswith(self._prefixes)
        }
        self._parked[event.uuid] = _Parked(_clean(event.caller_name), _clean(event.destination_number), ivr)
        self._parked.move_to_end(event.uuid)
        while len(self._parked) > _MAX_PARKED:
            self._parked.popitem(last=False)

    def observe(self, note: object, now: float) -> None:
        """Feed every engine notification, in order, from the engine greenlet."""
        if not self.config.enabled:
            return
        if isinstance(note, nt.CallArrived):
            self._arrived(note)
            return
        if isinstance(note, nt.CallEnded):
            self._calls.pop(note.record.call_id, None)
            return
        call_id = getattr(note, "call_id", None)
        ctx = self._calls.get(call_id) if call_id is not None else None
        if ctx is None:
            return
        if isinstance(note, nt.CallQueued):
            ctx.queue = note.queue
            ctx.positions.append((note.at, note.position))
        elif isinstance(note, nt.CallAnnounced):
            ctx.positions.append((note.at, note.position))
        elif isinstance(note, nt.CallScreened):
            ctx.screening.append({"list": note.list, "action": note.action, "scope": note.scope, "reason": note.reason})
            ctx.vip = ctx.vip or note.list == "whitelist"
        elif isinstance(note, nt.StickyRouted):
            ctx.sticky = {"agent_id": note.agent_id, "outcome": note.outcome, "source": note.source}
        elif isinstance(note, nt.CallOffered):
            ctx.queue = note.queue
            self._pop(ctx, "offered", note.agent_id, note.uuid, max(0.0, note.at - ctx.arrived_at), note.at)
        elif isinstance(note, nt.CallAnswered):
            self._pop(ctx, "answered", note.agent_id, note.uuid, note.wait_s, note.at)

    def preview(
        self,
        *,
        agent_id: str,
        number: str,
        now: float,
        campaign: str | None = None,
        call_id: str | None = None,
        name: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        """An outbound preview pop: the contact is presented to ``agent_id`` before dialling."""
        call_id = call_id or self._new_id()
        ctx = _CallContext(
            call_id=call_id,
            uuid="",
            queue=None,
            caller_number=number,
            priority=0,
            arrived_at=now,
            caller_name=_clean(name),
            dialed_number=_clean(number),
            ivr={k: _clean(v) or "" for k, v in (fields or {}).items()},
        )
        self._pop(ctx, "preview", agent_id, "", 0.0, now, direction="outbound", campaign=campaign)

    # -- building -----------------------------------------------------------------------------

    def _arrived(self, note: nt.CallArrived) -> None:
        ctx = _CallContext(note.call_id, note.uuid, note.queue, note.caller_number, note.priority, note.at)
        parked = self._parked.pop(note.uuid, None)
        if parked is not None:
            ctx.caller_name, ctx.dialed_number, ctx.ivr = parked.caller_name, parked.dialed_number, parked.ivr
        self._calls[note.call_id] = ctx

    def _number(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        try:
            return normalize_number(raw, self._region)
        except Exception:
            return None

    def _pop(
        self,
        ctx: _CallContext,
        phase: str,
        agent_id: str,
        uuid: str,
        wait_s: float,
        at: float,
        *,
        direction: str = "inbound",
        campaign: str | None = None,
    ) -> None:
        number = self._number(ctx.caller_number)
        base = ScreenPop(
            pop_id=self._new_id(),
            phase=phase,
            call_id=ctx.call_id,
            uuid=ctx.uuid,
            agent_uuid=uuid,
            direction=direction,
            agent_id=agent_id,
            customer_number=number,
            customer_number_raw=_clean(ctx.caller_number),
            customer_name=ctx.caller_name,
            dialed_number=ctx.dialed_number,
            queue=ctx.queue,
            campaign=campaign,
            priority=ctx.priority,
            wait_s=round(wait_s, 3),
            positions=tuple(ctx.positions),
            ivr=dict(ctx.ivr),
            screening=tuple(dict(s) for s in ctx.screening),
            sticky=dict(ctx.sticky) if ctx.sticky is not None else None,
            vip=ctx.vip,
            crm_status=DISABLED,
            customer=None,
            crm_error=None,
            new_customer=False,
            fields_to_fill=(),
            at=at,
        )
        if ctx.crm is None:
            ctx.crm = gevent.event.AsyncResult()
            hit = self.crm.cached(number) if number and self.crm.enabled else None
            if hit is not None or not self.crm.enabled or not number:
                ctx.crm.set(hit if hit is not None else self.crm.lookup(number))
            else:
                crm_result = ctx.crm
                gevent.spawn(lambda: crm_result.set(self.crm.lookup(number)))
        previous = ctx.last_pop
        if ctx.crm.ready() and (previous is None or previous.dead):
            self._finish(base, ctx.crm.get())  # the common, cached path: no greenlet, no wait
            ctx.last_pop = None
        else:
            ctx.last_pop = gevent.spawn(self._finish_later, base, ctx.crm, previous)

    def _finish_later(self, base: ScreenPop, crm: gevent.event.AsyncResult, previous: gevent.Greenlet | None) -> None:
        if previous is not None:
            previous.join()
        self._finish(base, crm.get())

    def _finish(self, base: ScreenPop, result: CrmResult) -> None:
        new = result.status == "new"
        pop = replace(
            base,
            crm_status=result.status,
            customer=dict(result.record) if result.record is not None else None,
            crm_error=result.error,
            new_customer=new,
            fields_to_fill=tuple(self.config.new_customer_fields) if new else (),
        )
        self.pops += 1
        try:
            self._emit(pop)
        except Exception:
            log.exception("screen_pop_emit_failed", call_id=pop.call_id)


__all__ = ["ScreenPop", "ScreenPopper"]
