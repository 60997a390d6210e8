"""Mermaid state diagrams drawn from the transition tables (docs/engine.md embeds the output).

Rule: the docs never describe a transition the table does not have; a test regenerates the
diagrams and compares them with the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from ctilink.core.agent import TRANSITIONS as AGENT_TRANSITIONS
from ctilink.core.call import CALL_TRANSITIONS, LEG_TRANSITIONS


def _node(state: Enum) -> str:
    return state.name.lower()


def mermaid(table: Mapping[Any, Mapping[Any, Enum]]) -> str:
    """A ``stateDiagram-v2`` block with one arrow per (state, event) entry of ``table``."""
    lines = ["```mermaid", "stateDiagram-v2"]
    for state, edges in table.items():
        for event, target in edges.items():
            lines.append(f"    {_node(state)} --> {_node(target)}: {event.value}")
    lines.append("```")
    return "\n".join(lines)


def all_diagrams() -> dict[str, str]:
    return {
        "agent": mermaid(AGENT_TRANSITIONS),
        "call": mermaid(CALL_TRANSITIONS),
        "leg": mermaid(LEG_TRANSITIONS),
    }


if __name__ == "__main__":  # pragma: no cover - developer aid: print the diagrams
    for name, diagram in all_diagrams().items():
        print(f"<!-- {name} -->\n{diagram}\n")
