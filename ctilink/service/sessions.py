"""Agent sessions that outlive the daemon: who is logged in, ready or not ready with which reason,
on which endpoint.

Rules:
- Every agent state change the engine announces rewrites that agent's session in the store
  (an ``agent_session`` entry, through the batching writer), with the endpoints the agent is
  dialled on at that moment (a login on a given phone puts it first); logging out deletes it.
- At start, before any switch event is handled, each stored session becomes the requests that
  recreate it: the endpoints it was on (when they differ from the configuration's), then the
  login, not ready with its reason or ready. An agent who was ringing, talking or in wrap-up
  logs back in ready; if a call of theirs is still up on the switch, the resync that follows
  adopts it and puts them on that call (``ctilink.core.adoption``).
- A session naming an agent the configuration no longer has is dropped; a stored endpoint or
  reason the configuration refuses is refused by the engine like any request and logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ctilink.core import requests as rq
from ctilink.core.agent import AgentState
from ctilink.core.config import AgentProfile
from ctilink.core.notifications import AgentStateChanged
from ctilink.store.base import ConfigKind, Store

__all__ = ["KIND", "load_sessions", "save_session"]

KIND: ConfigKind = "agent_session"


def save_session(store: Store, note: AgentStateChanged, endpoints: Sequence[str] | None = None) -> None:
    """Record the session the agent is in after ``note`` (run inside the writer's transaction)."""
    if note.new is AgentState.LOGGED_OUT:
        store.delete_config(KIND, note.agent_id)
        return
    blob: dict[str, Any] = {"state": note.new.value, "since": note.at}
    if note.new is AgentState.NOT_READY and note.reason is not None:
        blob["not_ready_reason"] = note.reason
    if endpoints:
        blob["endpoints"] = list(endpoints)
    store.put_config(KIND, note.agent_id, blob, note.at)


def load_sessions(store: Store, profiles: Mapping[str, AgentProfile]) -> list[rq.Request]:
    """The requests that recreate every stored session of a configured agent (oldest change first)."""

    def since(item: tuple[str, dict[str, Any]]) -> tuple[float, str]:
        at = item[1].get("since")
        return (float(at) if isinstance(at, int | float) else 0.0, item[0])

    requests: list[rq.Request] = []
    for agent_id, blob in sorted(store.list_configs(KIND).items(), key=since):
        profile = profiles.get(agent_id)
        if profile is None:
            continue
        endpoints = blob.get("endpoints")
        if isinstance(endpoints, list) and endpoints and endpoints != list(profile.endpoints):
            try:
                moved = profile.model_validate({**profile.model_dump(), "endpoints": endpoints})
            except ValueError:
                moved = None  # not a dial string this version accepts: keep the configured ones
            if moved is not None:
                requests.append(rq.UpsertAgent(moved))
        reason = blob.get("not_ready_reason")
        not_ready = str(reason) if blob.get("state") == AgentState.NOT_READY.value and reason else None
        requests.append(rq.AgentLogin(agent_id, not_ready_reason=not_ready))
    return requests
