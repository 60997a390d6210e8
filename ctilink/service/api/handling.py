"""What the route handlers share: submitting an engine request, reading a query parameter, the role sets.

Rules:
- An action is one engine request, submitted to the engine greenlet and waited for at most
  ``ctx.submit_timeout_s``; its answer is what the engine said (the request's type, how many
  commands it produced, the notifications' types). A refusal becomes an :class:`ApiError` by the
  error's code: an unknown id 404, an invalid value 422, anything else (refused in the current
  state) 409, with the message cut to 500 characters.
- A query parameter is cut to 256 characters before any handler sees it.
- :data:`SUP` (supervisors and admins) and :data:`ADMIN` are the role sets of the route tables;
  a route that names none is open to every role (``Route.roles``).
"""

from __future__ import annotations

from typing import Any

import falcon

from ctilink.service.api.context import ApiContext
from ctilink.service.api.framework import ApiError

__all__ = ["ADMIN", "SUP", "query_param", "submit"]

SUP = ("supervisor", "admin")
ADMIN = ("admin",)

_NOT_FOUND_CODES = {"unknown-agent", "unknown-call", "unknown-queue", "unknown-list", "unknown-list-entry"}
_INVALID_CODES = {
    "invalid-input",
    "invalid-value",
    "invalid-number",
    "invalid-list-entry",
    "unknown-not-ready-reason",
    "unknown-disposition-code",
    "unknown-skill",
}


def submit(ctx: ApiContext, request: object) -> dict[str, Any]:
    """Submit one engine request and report its effects, or raise its refusal as an ApiError."""
    effects = ctx.submit(request).get(timeout=ctx.submit_timeout_s)
    error = effects.error
    if error is not None:
        code = getattr(error, "code", "error")
        status = 404 if code in _NOT_FOUND_CODES else 422 if code in _INVALID_CODES else 409
        raise ApiError(status, code, str(error)[:500])
    return {
        "ok": True,
        "request": type(request).__name__,
        "commands": len(effects.commands),
        "notifications": [type(n).__name__ for n in effects.notifications],
    }


def query_param(req: falcon.Request, name: str) -> str | None:
    """The query parameter ``name``, at most 256 characters (None when absent)."""
    value = req.get_param(name)
    return value[:256] if value is not None else None
