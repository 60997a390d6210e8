"""The errors an ESL connection raises to its callers.

Rules:
- Every one is an :class:`EslError`, so a caller can catch the whole family at once.
- :class:`EslDisconnected` means the answer can no longer arrive (no session, or it ended while
  waiting): pending calls get it at once, never after their timeout.
- :class:`UnsafeCommandError` is also a ``ValueError``: the caller passed text that cannot be
  one command line, and nothing was written.

Theory of operation: plain exception classes, raised by the session, the command path and the
supervisor; they carry no state beyond their message (and a job's uuid).
"""

from __future__ import annotations

__all__ = [
    "EslAuthError",
    "EslCommandError",
    "EslDisconnected",
    "EslError",
    "EslRejected",
    "EslTimeout",
    "JobTimeout",
    "UnsafeCommandError",
]


class EslError(Exception):
    """Base of the ESL connection's errors."""


class EslDisconnected(EslError):
    """No session to the node (not yet connected, or it ended while waiting for an answer)."""


class EslTimeout(EslError):
    """The node did not answer in time."""


class JobTimeout(EslTimeout):
    """A bgapi job's BACKGROUND_JOB did not arrive in time (the job may still complete)."""

    def __init__(self, job_uuid: str, timeout: float) -> None:
        super().__init__(f"job {job_uuid} did not complete within {timeout}s")
        self.job_uuid = job_uuid


class EslAuthError(EslError):
    """FreeSWITCH refused the password."""


class EslRejected(EslError):
    """FreeSWITCH refused the connection before authentication (``text/rude-rejection``: ACL)."""


class EslCommandError(EslError):
    """FreeSWITCH refused a command (a ``-ERR`` command/reply)."""


class UnsafeCommandError(EslError, ValueError):
    """A raw command string cannot be sent as one command line."""
