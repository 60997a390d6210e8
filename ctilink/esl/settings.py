"""An ESL connection's settings, checked once when the connection is built.

Rules:
- Every argument is checked before anything else exists (no socket, no greenlet, no metric), and
  a bad one raises ``ValueError`` naming it; the checks run in a fixed order, so the same bad
  arguments always give the same message.
- The password must not contain CR or LF: it goes on the ``auth`` command line as is.
- The subscription and filters become command lines here (:mod:`ctilink.esl.subscription`), so
  every session sends exactly the same ones.

Theory of operation: :meth:`EslSettings.build` turns the keyword arguments of
:class:`~ctilink.esl.connection.EslConnection` into one frozen value shared by the session, the
supervisor and the buffer; nothing in it changes for the life of the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ctilink.esl.backoff import Backoff
from ctilink.esl.subscription import filter_commands, subscription_list

__all__ = ["EslSettings"]


@dataclass(frozen=True, slots=True)
class EslSettings:
    """What one connection was configured with, in the form the session needs it."""

    node: str
    host: str
    port: int
    password: str = field(repr=False)  # kept out of logs and tracebacks that print the settings
    subscription: str  # the whole ``event <format> <names>`` line
    filters: tuple[str, ...]  # ``filter <header> <value>`` lines
    heartbeat_timeout: float
    buffer_size: int
    backoff: Backoff
    connect_timeout: float
    resync_timeout: float
    stable_session: float

    @classmethod
    def build(
        cls,
        node: str,
        host: str,
        port: int,
        password: str,
        *,
        event_format: str,
        events: Sequence[str] | None,
        filters: Sequence[tuple[str, str]],
        heartbeat_timeout_s: float,
        buffer_size: int,
        backoff: Backoff | None,
        connect_timeout_s: float,
        resync_timeout_s: float,
        stable_session_s: float,
    ) -> EslSettings:
        """Check the arguments (``ValueError`` naming the first bad one) and build the settings."""
        _check_endpoint(node, port, password)
        if event_format not in ("json", "plain"):
            raise ValueError(f"event_format must be 'json' or 'plain', got {event_format!r}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size!r}")
        for name, value in (
            ("heartbeat_timeout_s", heartbeat_timeout_s),
            ("connect_timeout_s", connect_timeout_s),
            ("resync_timeout_s", resync_timeout_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        return cls(
            node=node,
            host=host,
            port=port,
            password=password,
            subscription=f"event {event_format} {subscription_list(events)}",
            filters=tuple(filter_commands(filters)),
            heartbeat_timeout=float(heartbeat_timeout_s),
            buffer_size=buffer_size,
            backoff=backoff if backoff is not None else Backoff(initial=0.5, cap=30.0, jitter=0.2),
            connect_timeout=float(connect_timeout_s),
            resync_timeout=float(resync_timeout_s),
            stable_session=float(stable_session_s),
        )


def _check_endpoint(node: str, port: int, password: str) -> None:
    if not node:
        raise ValueError("node must be a non-empty name")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, got {port!r}")
    if any(c in password for c in "\r\n") or not password:
        raise ValueError("password must be non-empty and contain no CR/LF")
