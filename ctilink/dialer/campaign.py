"""Campaign configuration: pydantic models, validated once, immutable afterwards.

Rules:
- Everything a campaign needs to decide is here: mode, who works it, what to dial and when, how
  often to retry each outcome, the abandon target and cap, AMD handling, the announcements.
- Names, dial templates and file paths are checked against narrow patterns, because they end up
  on ESL command lines (``ctilink.commands`` escapes again; this is the first gate).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ctilink.dialer.windows import CallingWindow
from ctilink.values import dial_template_problem, renderable_text

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PATH = r"^[A-Za-z0-9_./${}:-]{1,255}$"


class Mode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class AttemptOutcome(StrEnum):
    """How one attempt ended (stored as ``CampaignAttempt.outcome``)."""

    CONNECTED = "connected"  # live answer talked to an agent
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # originate failed / network / SIP error
    MACHINE = "machine"
    ABANDONED = "abandoned"  # live answer we could not connect in time (by us)
    SKIPPED = "skipped"  # preview: the agent skipped it
    REFUSED = "refused"  # never dialed: DNC, window, attempts (reason in data)
    INTERRUPTED = "interrupted"  # in flight when ctilink restarted: outcome unknown


class RetryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: bool = True
    delay_s: float = Field(default=3600.0, ge=0)


class RetryRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    busy: RetryRule = RetryRule(delay_s=600.0)
    no_answer: RetryRule = RetryRule(delay_s=3600.0)
    failed: RetryRule = RetryRule(delay_s=1800.0)
    machine: RetryRule = RetryRule(delay_s=7200.0)
    abandoned: RetryRule = RetryRule(delay_s=72 * 3600.0)  # UK rules: no redial within 72 h
    interrupted: RetryRule = RetryRule(delay_s=600.0)

    def for_outcome(self, outcome: AttemptOutcome) -> RetryRule | None:
        return getattr(self, outcome.value, None)


#: Lines per working agent when ``max_lines`` is not set (the predictive pacer's own ceiling is
#: ``PredictivePacer.max_ratio`` dials per agent).
LINES_PER_AGENT = 4


class CampaignConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    mode: Mode = Mode.PROGRESSIVE
    queue: str = Field(pattern=NAME)  # connected live answers are routed through this queue
    agents: tuple[str, ...] = ()  # who works it; empty: every agent the engine knows
    caller_id_number: str | None = Field(default=None, pattern=r"^\+?[0-9]{1,20}$")
    caller_id_name: str | None = Field(default=None, max_length=64)
    dial_string: str = Field(
        default="sofia/gateway/default/{number}", pattern=r"^[A-Za-z0-9_./@:+-]*\{number\}[A-Za-z0-9_./@:+-]*$"
    )
    region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    default_timezone: str = "UTC"
    windows: tuple[CallingWindow, ...] = (CallingWindow(),)
    max_attempts: int = Field(default=3, ge=1, le=100)
    retry: RetryRules = RetryRules()
    ring_timeout_s: int = Field(default=20, ge=5, le=120)
    # Lines for dials on their way to an agent (connected conversations hold none); None: a
    # multiple of the agents working the campaign (LINES_PER_AGENT), so a campaign never has fewer
    # lines than agents.
    max_lines: int | None = Field(default=None, ge=1, le=10000)
    abandon_target: float = Field(default=0.03, ge=0.0, le=1.0)
    abandon_cap: float = Field(default=0.03, ge=0.0, le=1.0)
    # The rolling period the cap holds over besides the campaign's lifetime (Ofcom: 24 hours).
    abandon_window_s: float = Field(default=86400.0, ge=60.0, le=31 * 86400.0)
    connect_deadline_s: float = Field(default=2.0, gt=0, le=60)
    abandon_announcement: str = Field(default="ivr/ivr-call_being_transferred.wav", pattern=PATH)
    amd: bool = False
    machine_action: Literal["hangup", "message"] = "hangup"
    machine_message: str | None = Field(default=None, pattern=PATH)
    machine_abandon_weight: float = Field(default=0.0, ge=0.0, le=1.0)  # share of AMD hang-ups counted abandoned
    # Disposition codes an agent gives a connected call that reached a machine (no AMD, or AMD
    # missed it): the answer leaves the live answers, as the legal abandon rate counts them.
    machine_dispositions: tuple[Annotated[str, Field(pattern=NAME)], ...] = ("machine",)
    preview_timeout_s: float = Field(default=30.0, gt=0)
    preview_timeout_action: Literal["dial", "return"] = "return"
    pacing_tick_s: float = Field(default=1.0, gt=0)
    autostart: bool = True  # the daemon starts it when it starts, unless the store recorded a pause/stop

    @field_validator("caller_id_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return renderable_text(value)

    @field_validator("dial_string")
    @classmethod
    def _dial(cls, value: str) -> str:
        return dial_template_problem(value)

    def lines(self, working_agents: int) -> int:
        """The campaign's line limit with ``working_agents`` agents working it."""
        return self.max_lines if self.max_lines is not None else LINES_PER_AGENT * max(1, working_agents)

    def dial_target(self, number: str) -> str:
        return self.dial_string.replace("{number}", number)


__all__ = ["LINES_PER_AGENT", "AttemptOutcome", "CampaignConfig", "Mode", "RetryRule", "RetryRules"]
