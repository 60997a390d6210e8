"""Presence and foreign channels: can the agent's phone ring, and is it busy with another call.

Rules:
- Only registrations of users that are some agent's endpoint are kept (user -> realm -> contacts).
  A presence-tracked endpoint may be dialled only while registered; an untracked one always may.
- A channel the engine did not create, on the sofia profile of an agent's phone, makes that agent
  busy (a direct or outbound call) until its hang-up. Legs any ctilink created carry
  ``ctilink_role`` and are never taken for one.

Theory: these are facts about endpoints; the agent is marked dirty and the drain loop decides.
"""

from __future__ import annotations

from ctilink.core.agent import channel_user
from ctilink.core.notifications import AgentPresenceChanged
from ctilink.core.state import EngineState
from ctilink.events import ChannelEvent, EndpointEvent, EndpointExpired, EndpointRegistered, EndpointUnregistered


def match_foreign(s: EngineState, ev: ChannelEvent) -> None:
    """A channel we did not create, on an agent's phone: a direct or outbound call."""
    if "ctilink_role" in ev.variables:
        return  # a leg some ctilink created (customer or agent): not a private call
    found = channel_user(ev.channel_name)
    if found is None or found[0] not in s.agent_profiles:
        return
    entries = s.user_index.get(found[1])
    if not entries:
        return
    ids = list(dict.fromkeys(agent_id for agent_id, _, _ in entries))
    s.foreign[ev.uuid] = ids
    for agent_id in ids:
        s.agents[agent_id].foreign[ev.uuid] = ev.node
        s.dirty_agents[agent_id] = None


def on_presence(s: EngineState, ev: EndpointEvent) -> None:
    entries = s.user_index.get(ev.user)
    if not entries:
        return  # not an agent's registration: keep nothing about it
    contact = ev.call_id or ev.contact or ""
    realms = s.contacts.setdefault(ev.user, {})
    if isinstance(ev, EndpointRegistered):
        realms.setdefault(ev.realm, set()).add(contact)
    elif isinstance(ev, (EndpointUnregistered, EndpointExpired)):
        contacts = realms.get(ev.realm)
        if contacts:
            if contact and contact in contacts:
                contacts.discard(contact)
            else:
                contacts.clear()
    for agent_id, index, realm in entries:
        agent = s.agents[agent_id]
        if index not in agent.tracked:
            continue
        registered = is_registered(s, ev.user, realm)
        if agent.registered.get(index, False) != registered:
            agent.registered[index] = registered
            s.note(AgentPresenceChanged(agent_id, agent.profile.endpoints[index], registered, s.now))
            s.dirty_agents[agent_id] = None


def is_registered(s: EngineState, user: str, realm: str | None) -> bool:
    realms = s.contacts.get(user)
    if not realms:
        return False
    if realm is None:
        return any(realms.values())
    return bool(realms.get(realm))
