"""The API's error type, in a module of its own so body parsing, scope rules and routes share it."""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error with a JSON body: ``{"error": code, "message": ..., "errors": [{"path", "message"}]}``."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"unknown-{kind}", f"no {kind} {ident[:200]!r}")


__all__ = ["ApiError", "not_found"]
