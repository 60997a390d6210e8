"""The seam between the engine and the dialer: one pure object the service drives like an engine.

Rules:
- The engine stays the one owner of agent and call state; the dialer owns campaigns, contacts and
  dials. ``CampaignEngine.handle(item, now)`` / ``tick(now)`` / ``next_deadline()`` have the
  engine's signatures and return one :class:`~ctilink.core.effects.Effects` (engine commands, then
  the dialer's) plus the dialer's notifications (persist ``ContactUpdated`` / ``AttemptRecorded``
  before executing the commands of the same Effects).
- Nothing here decides: it routes. Dialer requests go to the dialer; everything else to the
  engine and then to the dialer; the engine's ``AgentStateChanged`` / ``CallArrived`` /
  ``CallAnswered`` / ``CallEnded`` feed the dialer; legs the dialer adopts enter the engine as the ``ChannelParked``
  FreeSWITCH would have sent had the leg been parked with ``ctilink_queue`` (so the engine needs no
  dialer-specific code path); dialer engine-requests (``HangupCall``, ``ReserveAgent``,
  ``ReleaseAgent``) go back to the engine. The engine holds an agent the dialer works for in person
  (preview, kept callback), so routing skips them; a ``ReserveAgent`` the engine refuses (the agent
  was taken in the same input, before the dialer heard of it) is reported back to the dialer
  (``reservation_refused``), and its ``PreviewOffered`` is dropped so the agent never sees it.
- It must never know about sockets, the store or the wire format.
"""

from __future__ import annotations

from ctilink.core import notifications as nt
from ctilink.core import requests as rq
from ctilink.core.effects import Effects
from ctilink.core.engine import Engine
from ctilink.core.snapshot import EngineSnapshot
from ctilink.dialer.dialer import Dialer, DialerOutput, DialerRequest, PreviewOffered
from ctilink.events import Event

_MAX_ROUNDS = 64  # adopt -> engine -> notifications -> dialer converges in a few rounds


class CampaignEngine:
    def __init__(self, engine: Engine, dialer: Dialer, now: float = 0.0) -> None:
        self.engine = engine
        self.dialer = dialer
        for view in engine.snapshot(now).agents:
            dialer.agent_changed(view.agent_id, view.state, view.state_since)

    def handle(self, item: object, now: float) -> Effects:
        if isinstance(item, DialerRequest):
            total = Effects()
            self._merge(total, self.dialer.request(item, now), now)
            return total
        total = self.engine.handle(item, now)
        out = self.dialer.on_event(item, now) if isinstance(item, Event) else DialerOutput()
        self._feed(total, total.notifications, now)
        self._merge(total, out, now)
        return total

    def tick(self, now: float) -> Effects:
        total = Effects()
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline <= now:
            eff = self.engine.tick(now)
            total.extend(eff)
            self._feed(total, eff.notifications, now)
        self._merge(total, self.dialer.tick(now), now)
        return total

    def snapshot(self, now: float) -> EngineSnapshot:
        """The engine's snapshot (agents and calls stay the engine's; campaigns: ``dialer.stats``)."""
        return self.engine.snapshot(now)

    def next_deadline(self) -> float | None:
        times = [t for t in (self.engine.next_deadline(), self.dialer.next_deadline()) if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ routing
    def _feed(self, total: Effects, notes: list[nt.Notification], now: float, depth: int = 0) -> None:
        for note in list(notes):
            if isinstance(note, nt.AgentStateChanged):
                self._merge(total, self.dialer.agent_changed(note.agent_id, note.new, note.at), now, depth)
            elif isinstance(note, nt.CallArrived):
                self.dialer.call_arrived(note.call_id, note.uuid)
            elif isinstance(note, nt.CallAnswered):
                self._merge(total, self.dialer.call_answered(note.call_id, note.agent_id, now), now, depth)
            elif isinstance(note, nt.CallEnded):
                self.dialer.call_ended(note.record)

    def _merge(self, total: Effects, out: DialerOutput, now: float, depth: int = 0) -> None:
        total.commands.extend(out.commands)
        total.notifications.extend(out.notifications)  # type: ignore[arg-type]
        if depth >= _MAX_ROUNDS:
            return
        for item in [*out.adopt, *out.requests]:
            eff = self.engine.handle(item, now)
            total.extend(eff)
            if isinstance(item, rq.ReserveAgent) and eff.error is not None:
                self._withdraw(total, out, item, now, depth)
            self._feed(total, eff.notifications, now, depth + 1)

    def _withdraw(self, total: Effects, out: DialerOutput, refused: rq.ReserveAgent, now: float, depth: int) -> None:
        """The engine would not hold the agent: the preview never reaches them and its contact goes back."""
        shown: list[object] = [
            n
            for n in out.notifications
            if isinstance(n, PreviewOffered)
            and n.agent_id == refused.agent_id
            and n.campaign == refused.campaign
            and n.contact_id == refused.contact_id
        ]
        total.notifications[:] = [n for n in total.notifications if not any(n is s for s in shown)]
        self._merge(
            total,
            self.dialer.reservation_refused(refused.campaign, refused.agent_id, refused.contact_id, now),
            now,
            depth + 1,
        )


__all__ = ["CampaignEngine"]
