"""Bearer-token authentication and role scopes for the HTTP API.

Rules:
- Tokens come only from configuration (``[[api.tokens]]``). A request without a token, or with a
  token no entry holds, is 401; a known token acting outside its scope is 403. The two are never
  confused: 401 means "who are you?", 403 means "not you".
- Every configured token is compared in constant time, and all of them are compared, so the time
  taken says nothing about which token (or how much of one) was right.
- With no token configured at all, GET views are open (a fresh install on loopback, ``ctilink
  demo``) and every action is 401; configuring one token closes everything.
- Roles: ``agent`` (only its own ``agent_id``), ``supervisor`` (its ``queues`` and its team
  ``agents``; None means all), ``admin`` (everything). A supervisor with neither limit is
  *unscoped*: only it (and admins) may touch what belongs to no queue (``global`` list entries).
- Where a resource has both a queue and agents (a call), both must be in scope: a supervisor of
  queue ``support`` limited to team ``1001`` may not act on agent 1002's support call.
- Which rule each route applies is :mod:`ctilink.service.api.scopes`.

Theory: this module turns a header into a :class:`Principal` and answers scope questions about
it. It knows nothing about HTTP frameworks or the engine: the API layer asks, this module answers.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from ctilink.config import ApiToken

ROLES = ("agent", "supervisor", "admin")


class AuthError(Exception):
    """Base of authentication/authorization failures; ``status`` is the HTTP status it maps to."""

    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(AuthError):
    status = 401


class Forbidden(AuthError):
    status = 403


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a configured token's name, role and scope."""

    name: str
    role: str
    agent_id: str | None = None
    queues: frozenset[str] | None = None  # None: all queues
    agents: frozenset[str] | None = None  # None: all agents

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def unscoped(self) -> bool:
        """An admin, or a supervisor limited to no queue and no team."""
        return self.role == "admin" or (self.role == "supervisor" and self.queues is None and self.agents is None)

    def may_see_agent(self, agent_id: str) -> bool:
        if self.role == "admin":
            return True
        if self.role == "agent":
            return self.agent_id == agent_id
        return self.agents is None or agent_id in self.agents

    def may_see_queue(self, queue: str | None) -> bool:
        if self.role == "admin":
            return True
        if self.role == "agent":
            return False
        return self.queues is None or (queue is not None and queue in self.queues)

    def may_see_call(self, queue: str | None, agents: Iterable[str]) -> bool:
        """A call in ``queue`` with ``agents`` on it (connected and ringing): an agent must be one of
        them; a supervisor needs the queue and every one of them in scope."""
        on_call = set(agents)
        if self.role == "admin":
            return True
        if self.role == "agent":
            return self.agent_id in on_call
        return self.may_see_queue(queue) and all(self.may_see_agent(a) for a in on_call)

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this (needs one of {', '.join(roles)})")

    def require_agent(self, agent_id: str) -> None:
        if not self.may_see_agent(agent_id):
            raise Forbidden(f"token {self.name!r} is not allowed to act on agent {agent_id!r}")

    def require_queue(self, queue: str | None) -> None:
        if not self.may_see_queue(queue):
            raise Forbidden(f"token {self.name!r} is not allowed to act on queue {queue!r}")

    def require_call(self, call_id: str, queue: str | None, agents: Iterable[str]) -> None:
        if not self.may_see_call(queue, agents):
            raise Forbidden(f"token {self.name!r} is not allowed to act on call {call_id[:64]!r}")


#: Who reads the views when no token is configured (GET only; see the module rules).
ANONYMOUS_READER = Principal(name="anonymous", role="admin")


class TokenAuth:
    """Resolves ``Authorization: Bearer <token>`` headers against the configured tokens."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for t in tokens:
            principal = Principal(
                name=t.name,
                role=t.role,
                agent_id=t.agent_id,
                queues=frozenset(t.queues) if t.queues is not None else None,
                agents=frozenset(t.agents) if t.agents is not None else None,
            )
            self._entries.append((t.token.get_secret_value().encode(), principal))

    @property
    def open(self) -> bool:
        """No token is configured: GET views are served to anyone, actions to no one."""
        return not self._entries

    def authenticate(self, header: str | None) -> Principal:
        """The principal for an Authorization header value; raises :class:`Unauthenticated`."""
        if not header:
            raise Unauthenticated("missing Authorization header (expected: Bearer <token>)")
        scheme, _, presented = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthenticated("expected an Authorization header of the form: Bearer <token>")
        candidate = presented.strip().encode("utf-8", "replace")
        found: Principal | None = None
        for secret, principal in self._entries:
            # No early exit: every entry is compared whatever matched.
            if hmac.compare_digest(secret, candidate) and found is None:
                found = principal
        if found is None:
            raise Unauthenticated("unknown token")
        return found


__all__ = ["ANONYMOUS_READER", "ROLES", "AuthError", "Forbidden", "Principal", "TokenAuth", "Unauthenticated"]
