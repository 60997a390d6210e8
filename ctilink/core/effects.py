"""Effects: the engine's whole output for one input, as data (switch commands + notifications).

Rule: the caller executes ``commands`` in order (they are ordered on purpose: e.g. Break before
Bridge, SetVariables before Answer) and fans ``notifications`` out; the engine never does either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctilink.commands import Command
from ctilink.core.errors import CtilinkError
from ctilink.core.notifications import InputRejected, Notification


@dataclass(slots=True)
class Effects:
    commands: list[Command] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def errors(self) -> list[CtilinkError]:
        """Typed errors of every input the engine refused while producing these effects."""
        return [n.error for n in self.notifications if isinstance(n, InputRejected)]

    @property
    def error(self) -> CtilinkError | None:
        """The first refusal, if any (a rejected request yields exactly one)."""
        errors = self.errors
        return errors[0] if errors else None

    def extend(self, other: Effects) -> None:
        self.commands.extend(other.commands)
        self.notifications.extend(other.notifications)


__all__ = ["Effects"]
