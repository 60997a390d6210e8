"""The dialer's refusal type (its own module so every dialer module can raise it without a cycle)."""

from __future__ import annotations

from ctilink.core.errors import InputError


class DialerError(InputError, ValueError):
    """A dialer request that cannot be honoured (unknown campaign/contact/agent, wrong state).

    An :class:`~ctilink.core.errors.InputError`: an ordinary refusal (the API answers 404 when the
    message starts with "unknown", 409 otherwise), logged as such by the engine loop, not as a
    failure with a traceback."""

    code = "dialer-refused"


__all__ = ["DialerError"]
