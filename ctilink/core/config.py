"""Engine configuration: pydantic v2 models for agents, queues, escalation and overflow.

Rules:
- Everything here is validated data with defaults; the engine never re-checks shapes, only
  cross-references (a strategy name that exists, an overflow queue that exists, a skill in the
  catalogue), which :class:`EngineConfig` checks as a whole.
- Names (agent ids, queue names, skills, reasons, codes) match ``NAME_PATTERN``: they are echoed
  into channel variables, logs and metrics labels, so they stay short and plain.
- Endpoints are dial strings without spaces, commas, braces or brackets: ctilink adds the
  per-leg variables itself and an endpoint must never smuggle its own.
- Escalation steps are cumulative and may only widen who qualifies (a relaxed level is never
  above the level it relaxes); the routing indexes rely on "step k+1 serves a superset of step k".

Theory: a queue's base requirement is ``required_skills`` (every skill at its minimum level).
Escalation step *k* applies on top of steps ``1..k-1``: ``relax_skills`` lowers minimums (0 drops
the skill), ``also_qualify`` adds alternative skills any one of which qualifies an agent on its own,
``widen_to_queues`` adds every agent that meets another queue's base requirement.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ctilink.lists.numbers import UnknownRegionError, check_region

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
ENDPOINT_PATTERN = r"^[A-Za-z0-9_.@:/+=*#-]{1,200}$"
# Dialplan destinations for overflow/transfer targets: extension names or numbers.
DESTINATION_PATTERN = r"^[A-Za-z0-9_.+*#-]{1,64}$"
#: A hang-up cause name as FreeSWITCH spells them (USER_BUSY, NORMAL_CLEARING ...).
CAUSE_PATTERN = r"^[A-Z_]{1,40}$"
# The same rules compiled once, for the engine's own checks of what arrives at run time.
NAME_RE = re.compile(NAME_PATTERN)
DESTINATION_RE = re.compile(DESTINATION_PATTERN)
CAUSE_RE = re.compile(CAUSE_PATTERN)
# Media paths and stream URLs for hold music and announcements.
MEDIA_PATTERN = r"^[A-Za-z0-9_./:%(),=+#@{}-]{1,256}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Level = Annotated[int, Field(ge=1, le=10)]
RelaxLevel = Annotated[int, Field(ge=0, le=10)]
Priority = Annotated[int, Field(ge=0, le=100)]
Seconds = Annotated[float, Field(ge=0)]

_FORMAT_FIELD = re.compile(r"\{([^{}]*)\}")
_ANNOUNCE_FIELDS = {"position", "wait_min", "wait_s"}


class Strategy(StrEnum):
    """Built-in agent selection strategies (custom ones are registered by name on the Engine)."""

    LONGEST_IDLE = "longest-idle-agent"
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    ROUND_ROBIN = "round-robin"
    LINEAR = "linear"
    RANDOM = "random"
    HIGHEST_SKILL = "highest-skill-level"
    RING_ALL = "ring-all"


class EmptyPolicy(StrEnum):
    """When a queue counts as empty for join-when-empty / leave-when-empty.

    ``ignore``: never (calls join and stay). ``no-agents``: no eligible agent is logged in (at the
    widest escalation step). ``no-ready``: no eligible agent is logged in, ready or busy (not in
    not-ready) and reachable (endpoint registered when presence is tracked).
    """

    IGNORE = "ignore"
    NO_AGENTS = "no-agents"
    NO_READY = "no-ready"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentProfile(_Model):
    """One agent: who they are, how to reach them, what they can do."""

    id: Name
    name: str = Field(default="", max_length=128)
    endpoints: list[Annotated[str, Field(pattern=ENDPOINT_PATTERN)]] = Field(min_length=1)
    skills: dict[Name, Level] = Field(default_factory=dict)
    max_calls: int = Field(default=1, ge=1, le=16)
    wrap_up_s: Seconds | None = None
    track_presence: bool | None = None  # None: EngineConfig.presence_tracking decides


class EscalationStep(_Model):
    """After ``after_s`` seconds of waiting in the queue, widen who may take the call."""

    after_s: float = Field(gt=0)
    relax_skills: dict[Name, RelaxLevel] = Field(default_factory=dict)
    also_qualify: dict[Name, Level] = Field(default_factory=dict)
    widen_to_queues: list[Name] = Field(default_factory=list)


class OverflowAction(_Model):
    """Where a call goes when it cannot (or may no longer) wait.

    ``queue``: into queue ``target`` (keeping its original queued time). ``extension``: Transfer to
    ``target`` in ``context`` (e.g. voicemail); the call leaves ctilink's control. ``hangup``: play
    ``announcement`` (if any, for at most ``announcement_max_s``) then hang up with ``cause``.
    """

    kind: Literal["queue", "extension", "hangup"]
    target: str | None = Field(default=None, pattern=DESTINATION_PATTERN)
    context: str = Field(default="default", pattern=NAME_PATTERN)
    announcement: str | None = Field(default=None, pattern=MEDIA_PATTERN)
    announcement_max_s: float = Field(default=30.0, gt=0)
    cause: str = Field(default="NORMAL_CLEARING", pattern=CAUSE_PATTERN)

    @model_validator(mode="after")
    def _target_matches_kind(self) -> OverflowAction:
        if self.kind in ("queue", "extension") and not self.target:
            raise ValueError(f"overflow kind {self.kind!r} needs a target")
        return self


class Announcement(_Model):
    """Periodic announcement to waiting callers. ``path`` may use ``{position}``, ``{wait_min}``
    and ``{wait_s}`` (integers), e.g. ``ivr/position-{position}.wav``."""

    path: str = Field(pattern=MEDIA_PATTERN)
    every_s: float = Field(gt=0)
    first_after_s: float | None = Field(default=None, gt=0)

    @field_validator("path")
    @classmethod
    def _fields_known(cls, value: str) -> str:
        for name in _FORMAT_FIELD.findall(value):
            if name not in _ANNOUNCE_FIELDS:
                raise ValueError(f"unknown placeholder {{{name}}}; allowed: {sorted(_ANNOUNCE_FIELDS)}")
        return value


class QueueConfig(_Model):
    """An inbound queue."""

    name: Name
    required_skills: dict[Name, Level] = Field(default_factory=dict)
    priority_classes: dict[Name, Priority] = Field(default_factory=dict)
    default_priority: Priority = 0
    strategy: str = Strategy.LONGEST_IDLE.value
    agent_order: list[Name] = Field(default_factory=list)  # linear / round-robin order
    service_level_s: Seconds = 20.0
    ring_timeout_s: int = Field(default=15, ge=1, le=600)
    # Ask the agent's phone to answer an offer at once (FreeSWITCH's sip_auto_answer: a Call-Info
    # answer-after=0 header and intercom=true on the INVITE). For campaign queues: a live answer
    # must reach its agent within the connect deadline, and a phone that rings is too slow.
    auto_answer: bool = False
    wrap_up_s: Seconds = 10.0
    max_wait_s: float | None = Field(default=None, gt=0)
    max_length: int | None = Field(default=None, ge=0)
    join_when_empty: EmptyPolicy = EmptyPolicy.IGNORE
    leave_when_empty: EmptyPolicy = EmptyPolicy.IGNORE
    hold_music: str = Field(default="local_stream://moh", pattern=MEDIA_PATTERN)
    answer: Literal["answer", "pre-answer"] = "answer"
    announcement: Announcement | None = None
    escalation: list[EscalationStep] = Field(default_factory=list)
    overflow: OverflowAction | None = None  # None: the engine's default route

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_name(cls, value: object) -> object:
        if isinstance(value, Strategy):
            return value.value
        if isinstance(value, str) and not re.match(NAME_PATTERN, value):
            raise ValueError("strategy must be a built-in strategy or a registered custom strategy name")
        return value

    @model_validator(mode="after")
    def _escalation_widens(self) -> QueueConfig:
        levels = dict(self.required_skills)
        last_after = 0.0
        for index, step in enumerate(self.escalation):
            if step.after_s <= last_after:
                raise ValueError(f"escalation[{index}].after_s must be greater than the previous step's")
            last_after = step.after_s
            for skill, level in step.relax_skills.items():
                if skill not in levels:
                    raise ValueError(f"escalation[{index}].relax_skills: {skill!r} is not a required skill")
                if level > levels[skill]:
                    raise ValueError(
                        f"escalation[{index}].relax_skills: {skill!r} level {level} is above {levels[skill]}"
                    )
                levels[skill] = level
        return self


class ListsConfig(_Model):
    """How the engine applies the number lists to inbound calls (see docs/engine.md).

    ``vip_priority``: the priority a whitelist entry without its own ``priority`` gives (entry
    priorities above 100 count as 100). ``whitelist_beats_blacklist``: a caller on both lists (say a
    VIP inside a blocked prefix) is treated as a VIP. ``announce_max_s``: a blacklist ``announce``
    hangs up after this long if the switch never reports the playback finished.
    """

    vip_priority: Priority = 100
    whitelist_beats_blacklist: bool = True
    announce_max_s: float = Field(default=60.0, gt=0)


class StickyConfig(_Model):
    """Sticky-agent routing: a repeat caller is offered to the agent who last talked to them.

    ``scope``: remember per queue (``queue``) or across queues (``global``). ``ttl_s``: how long the
    memory lasts (30 days). ``wait_s``: how long a call waits for its busy sticky agent while nobody
    else is offered it (0: never wait). ``forget_after_expiry_s``: an expired memory is kept this
    long, only so a returning caller can be counted as ``expired`` rather than as a first call.
    """

    enabled: bool = False
    scope: Literal["queue", "global"] = "queue"
    ttl_s: float = Field(default=30 * 86400.0, gt=0)
    wait_s: Seconds = 30.0
    forget_after_expiry_s: Seconds = 7 * 86400.0


class EngineConfig(_Model):
    """Everything the engine needs to start. Reloaded in parts by requests (UpsertAgent, ReplaceQueues)."""

    queues: list[QueueConfig] = Field(default_factory=list)
    agents: list[AgentProfile] = Field(default_factory=list)
    not_ready_reasons: list[Name] = Field(default_factory=lambda: ["break", "lunch", "training", "no-answer"])
    disposition_codes: list[Name] = Field(default_factory=list)
    skills: list[Name] | None = None  # the skill catalogue; None accepts any skill name
    default_route: OverflowAction | None = None  # None: the first configured queue
    max_no_answer: int = Field(default=3, ge=0)  # 0 disables the no-answer pause
    no_answer_delay_s: Seconds = 0.0
    busy_delay_s: Seconds = 10.0
    reject_delay_s: Seconds = 10.0
    ring_grace_s: Seconds = 2.0  # after ring_timeout_s the engine gives up on its own
    cancel_grace_s: Seconds = 10.0  # an agent is released if a cancelled leg never reports back
    # FreeSWITCH ends the partner of a uuid_bridge itself when one leg hangs up; ctilink hangs the
    # partner up only if it is still there after this long (so a gone leg is never killed again).
    partner_hangup_grace_s: Seconds = 2.0
    presence_tracking: bool = False
    default_realm: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    agent_sip_profiles: list[Name] = Field(default_factory=lambda: ["internal"])
    transfer_context: str = Field(default="default", pattern=NAME_PATTERN)
    aht_default_s: float = Field(default=180.0, gt=0)
    max_overflow_hops: int = Field(default=5, ge=1)
    default_region: str = "US"  # numbers without a country code (caller ids, list input) are read as here
    lists: ListsConfig = ListsConfig()
    sticky: StickyConfig = StickyConfig()

    @field_validator("default_region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        try:
            return check_region(value)
        except UnknownRegionError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _cross_references(self) -> EngineConfig:
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ValueError("queues: duplicate queue name")
        ids = [a.id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise ValueError("agents: duplicate agent id")
        known = set(names)
        for queue in self.queues:
            check_queue_references(queue, known)
        if self.default_route is not None and self.default_route.kind == "queue":
            if self.default_route.target not in known:
                raise ValueError(f"default_route: unknown queue {self.default_route.target!r}")
        if self.skills is not None:
            catalogue = set(self.skills)
            for queue in self.queues:
                for skill in queue_skill_names(queue):
                    if skill not in catalogue:
                        raise ValueError(f"queues[{queue.name}]: unknown skill {skill!r}")
            for agent in self.agents:
                for skill in agent.skills:
                    if skill not in catalogue:
                        raise ValueError(f"agents[{agent.id}]: unknown skill {skill!r}")
        return self


def queue_skill_names(queue: QueueConfig) -> set[str]:
    """Every skill name a queue mentions (requirements and escalation)."""
    names = set(queue.required_skills)
    for step in queue.escalation:
        names |= set(step.relax_skills) | set(step.also_qualify)
    return names


def check_queue_references(queue: QueueConfig, known: set[str]) -> None:
    """Raise ValueError if a queue names a queue that does not exist."""
    for index, step in enumerate(queue.escalation):
        for other in step.widen_to_queues:
            if other not in known:
                raise ValueError(f"queues[{queue.name}].escalation[{index}]: unknown queue {other!r}")
    if queue.overflow is not None and queue.overflow.kind == "queue" and queue.overflow.target not in known:
        raise ValueError(f"queues[{queue.name}].overflow: unknown queue {queue.overflow.target!r}")


__all__ = [
    "AgentProfile",
    "Announcement",
    "EmptyPolicy",
    "EngineConfig",
    "EscalationStep",
    "ListsConfig",
    "OverflowAction",
    "QueueConfig",
    "StickyConfig",
    "Strategy",
]
