"""The request bodies of the HTTP API: pydantic models, unknown fields forbidden, every string bounded.

Rule: a body's fields are checked here for shape and size only; what a value means (a reason, a
queue, a dial string) is the engine's to judge, and whose it is the route's scope rule's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    endpoint: str | None = Field(default=None, max_length=256, description="dial string to ring for this session")
    not_ready_reason: str | None = Field(default=None, max_length=64)


class NotReadyBody(_Body):
    reason: str = Field(min_length=1, max_length=64)


class DialBody(_Body):
    number: str = Field(min_length=1, max_length=64)


class TransferBody(_Body):
    queue: str | None = Field(default=None, max_length=64)
    agent_id: str | None = Field(default=None, max_length=64)
    number: str | None = Field(default=None, max_length=64)
    context: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _exactly_one(self) -> TransferBody:
        if sum(v is not None for v in (self.queue, self.agent_id, self.number)) != 1:
            raise ValueError("exactly one of queue, agent_id, number")
        return self


class HangupBody(_Body):
    cause: str = Field(default="NORMAL_CLEARING", pattern=r"^[A-Z_]{1,64}$")


class DtmfBody(_Body):
    digits: str = Field(pattern=r"^[0-9*#A-Da-dwW]{1,64}$")


class RecordBody(_Body):
    path: str | None = Field(default=None, max_length=512)


class MonitorBody(_Body):
    dial_string: str = Field(max_length=256, description="the supervisor's phone, e.g. user/2001")
    mode: Literal["listen", "whisper", "barge"] = "listen"


class ForceStateBody(_Body):
    state: Literal["ready", "not-ready", "logged-out"]
    reason: str | None = Field(default=None, max_length=64)


class ListEntryBody(_Body):
    number: str = Field(min_length=1, max_length=64)
    scope: str = Field(default="global", max_length=128)
    reason: str = Field(default="", max_length=256)
    expires_at: float | None = None
    priority: int | None = Field(default=None, ge=0, le=100)
    target: str | None = Field(default=None, max_length=128)
    action: str | None = Field(default=None, max_length=32)
    cause: str | None = Field(default=None, max_length=64)


class ListImportBody(_Body):
    entries: list[ListEntryBody] = Field(min_length=1, max_length=10_000)


class PreviewSkipBody(_Body):
    reason: str = Field(default="skipped", min_length=1, max_length=64)


class CallbackBody(_Body):
    at: float = Field(description="when to call back (Unix time, seconds)", ge=0, le=1e11)
    agent_id: str | None = Field(default=None, max_length=64, description="keep the callback for this agent")


BODIES: list[type[BaseModel]] = [
    LoginBody,
    NotReadyBody,
    DialBody,
    TransferBody,
    HangupBody,
    DtmfBody,
    RecordBody,
    MonitorBody,
    ForceStateBody,
    ListEntryBody,
    ListImportBody,
    PreviewSkipBody,
    CallbackBody,
]


__all__ = [
    "BODIES",
    "CallbackBody",
    "DialBody",
    "DtmfBody",
    "ForceStateBody",
    "HangupBody",
    "ListEntryBody",
    "ListImportBody",
    "LoginBody",
    "MonitorBody",
    "NotReadyBody",
    "PreviewSkipBody",
    "RecordBody",
    "TransferBody",
]
