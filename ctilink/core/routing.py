"""Eligibility: which agents may take a queue's calls at each escalation step.

Rules:
- A queue compiles to a list of :class:`Requirement`, one per step (index 0 = no escalation yet).
  Steps are cumulative and only ever widen, so an agent eligible at step k is eligible at every
  later step: an agent's membership in a queue is a single number, the first step that admits it.
- Pure functions over skills dicts; no agents, calls or engine state here.

Theory: step k admits an agent who (a) has every skill in ``levels`` at its minimum, or (b) has
any one of ``alternatives`` at its level, or (c) meets the base (step 0) requirement of one of
the ``widened`` queues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ctilink.core.config import QueueConfig


@dataclass(frozen=True, slots=True)
class Requirement:
    levels: tuple[tuple[str, int], ...]
    alternatives: tuple[tuple[str, int], ...] = ()
    widened: tuple[str, ...] = ()


def compile_steps(queue: QueueConfig) -> list[Requirement]:
    """One requirement per step: index 0 is the base, index i is after escalation step i."""
    levels = {skill: level for skill, level in queue.required_skills.items()}
    alternatives: dict[str, int] = {}
    widened: list[str] = []
    steps = [Requirement(tuple(sorted(levels.items())))]
    for step in queue.escalation:
        for skill, level in step.relax_skills.items():
            if level == 0:
                levels.pop(skill, None)
            else:
                levels[skill] = level
        for skill, level in step.also_qualify.items():
            alternatives[skill] = min(level, alternatives.get(skill, level))
        for other in step.widen_to_queues:
            if other != queue.name and other not in widened:
                widened.append(other)
        steps.append(Requirement(tuple(sorted(levels.items())), tuple(sorted(alternatives.items())), tuple(widened)))
    return steps


def meets_levels(skills: Mapping[str, int], levels: tuple[tuple[str, int], ...]) -> bool:
    return all(skills.get(skill, 0) >= level for skill, level in levels)


def qualifies(skills: Mapping[str, int], req: Requirement, base_of: Mapping[str, Requirement]) -> bool:
    if meets_levels(skills, req.levels):
        return True
    if any(skills.get(skill, 0) >= level for skill, level in req.alternatives):
        return True
    for other in req.widened:
        base = base_of.get(other)
        if base is not None and meets_levels(skills, base.levels):
            return True
    return False


def first_step(skills: Mapping[str, int], steps: list[Requirement], base_of: Mapping[str, Requirement]) -> int | None:
    """The first step whose requirement admits these skills, or None if none does."""
    for index, req in enumerate(steps):
        if qualifies(skills, req, base_of):
            return index
    return None


def skill_score(skills: Mapping[str, int], queue: QueueConfig) -> int:
    """Highest-skill-level strategy score: the agent's levels summed over the queue's required skills
    (or over all their skills when the queue requires none)."""
    if not queue.required_skills:
        return sum(skills.values())
    return sum(skills.get(skill, 0) for skill in queue.required_skills)


__all__ = ["Requirement", "compile_steps", "first_step", "meets_levels", "qualifies", "skill_score"]
