"""Typed errors of the core engine.

Rules:
- Every rejection of bad input is one of these types, never a bare ``ValueError``: callers (the
  HTTP API, the simulated switch, tests) branch on the type, people read the message.
- Messages quote caller-controlled values with :func:`quoted`, which truncates and ``repr``-escapes
  them, so a hostile string can never forge log lines or run on for megabytes.
- Raising one of these inside the engine happens *before* any state is mutated: a rejected input
  changes nothing.

This module knows nothing about the engine; it is data plus messages.
"""

from __future__ import annotations

_MAX_QUOTED = 64


def quoted(value: object) -> str:
    """``repr`` of a (possibly hostile) value, truncated to a readable length."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_QUOTED:
        return repr(text[:_MAX_QUOTED]) + f"...(+{len(text) - _MAX_QUOTED} chars)"
    return repr(text)


class CtilinkError(Exception):
    """Base of every typed error the core reports. ``code`` is a stable machine-readable name."""

    code = "error"


class InputError(CtilinkError):
    """An input (request or event field) was rejected; nothing changed."""

    code = "invalid-input"


class UnknownQueue(InputError):
    code = "unknown-queue"

    def __init__(self, name: str, *, where: str = "") -> None:
        self.name = name
        self.where = where
        suffix = f" (from {where})" if where else ""
        super().__init__(f"unknown queue {quoted(name)}{suffix}")


class UnknownAgent(InputError):
    code = "unknown-agent"

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(f"unknown agent {quoted(agent_id)}")


class UnknownSkill(InputError):
    code = "unknown-skill"

    def __init__(self, skill: str, *, owner: str) -> None:
        self.skill = skill
        self.owner = owner
        super().__init__(f"unknown skill {quoted(skill)} in {owner} (not in the configured skill catalogue)")


class UnknownCall(InputError):
    code = "unknown-call"

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        super().__init__(f"unknown or finished call {quoted(call_id)}")


class UnknownReason(InputError):
    code = "unknown-not-ready-reason"

    def __init__(self, reason: str, allowed: list[str]) -> None:
        self.reason = reason
        super().__init__(f"unknown not-ready reason {quoted(reason)}; expected one of {sorted(allowed)}")


class UnknownDisposition(InputError):
    code = "unknown-disposition-code"

    def __init__(self, code_: str, allowed: list[str]) -> None:
        self.disposition = code_
        super().__init__(f"unknown disposition code {quoted(code_)}; expected one of {sorted(allowed)}")


class InvalidValue(InputError):
    code = "invalid-value"

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: got {quoted(value)}, expected {expected}")


class InvalidNumber(InvalidValue):
    """A phone number that cannot be normalized to E.164 (or is withheld where a number is needed)."""

    code = "invalid-number"

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.reason = reason
        super().__init__(field, value, f"a phone number ({reason})")


class InvalidListEntry(InvalidValue):
    """A list entry field is invalid; ``field`` names it (``number``, ``scope``, ``target``, ...)."""

    code = "invalid-list-entry"

    def __init__(self, field: str, value: object, problem: str) -> None:
        # ``problem`` already quotes the (escaped) value, so the message is not built by InvalidValue.
        self.field = field
        self.value = value
        self.expected = problem
        self.problem = problem
        InputError.__init__(self, f"{field}: {problem}")


class UnknownList(InputError):
    code = "unknown-list"

    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(f"unknown list {quoted(name)}; expected one of ['blacklist', 'dnc', 'whitelist']")


class UnknownListEntry(InputError):
    code = "unknown-list-entry"

    def __init__(self, list_name: str, scope: str, kind: str, number: str) -> None:
        self.key = (list_name, scope, kind, number)
        super().__init__(f"no {list_name} entry {quoted(number)} ({kind}) in scope {quoted(scope)}")


class DoNotCallError(InputError):
    """A dial was refused: the number is on the do-not-call list (``entry`` says which rule)."""

    code = "do-not-call"

    def __init__(self, number: str, entry: object) -> None:
        self.number = number
        self.entry = entry
        scope = getattr(entry, "scope", "?")
        reason = getattr(entry, "reason", "")
        detail = f": {quoted(reason)}" if reason else ""
        super().__init__(f"{quoted(number)} is on the do-not-call list (scope {quoted(scope)}){detail}")


class AgentUnavailable(InputError):
    code = "agent-unavailable"

    def __init__(self, agent_id: str, why: str) -> None:
        self.agent_id = agent_id
        self.why = why
        super().__init__(f"agent {quoted(agent_id)} cannot take a call now: {why}")


class AgentBusy(InputError):
    code = "agent-busy"

    def __init__(self, agent_id: str, why: str) -> None:
        self.agent_id = agent_id
        super().__init__(f"agent {quoted(agent_id)} is busy: {why}")


class NoCallForAgent(InputError):
    code = "no-call-for-agent"

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(f"agent {quoted(agent_id)} has no current or wrap-up call to set a disposition on")


class CallNotConnected(InputError):
    code = "call-not-connected"

    def __init__(self, call_id: str, state: str) -> None:
        self.call_id = call_id
        self.state = state
        super().__init__(f"call {quoted(call_id)} is {state}, not connected to an agent")


class IllegalTransition(CtilinkError):
    """A state machine was asked to do something its transition table does not allow."""

    code = "illegal-transition"

    def __init__(self, machine: str, subject: str, state: str, event: str) -> None:
        self.machine = machine
        self.subject = subject
        self.state = state
        self.event = event
        super().__init__(f"{machine} {quoted(subject)}: event {event} is not allowed in state {state}")


class ScreenFailed(CtilinkError):
    """The screening hook raised; the call was accepted with default settings."""

    code = "screen-failed"

    def __init__(self, call_id: str, detail: str) -> None:
        self.call_id = call_id
        super().__init__(f"screen hook failed for call {quoted(call_id)}: {quoted(detail)}")


class ConfigError(CtilinkError):
    """An engine configuration is inconsistent (e.g. a strategy or queue name that does not exist)."""

    code = "config-error"


__all__ = [
    "AgentBusy",
    "AgentUnavailable",
    "CallNotConnected",
    "ConfigError",
    "CtilinkError",
    "DoNotCallError",
    "IllegalTransition",
    "InputError",
    "InvalidListEntry",
    "InvalidNumber",
    "InvalidValue",
    "NoCallForAgent",
    "ScreenFailed",
    "UnknownAgent",
    "UnknownCall",
    "UnknownDisposition",
    "UnknownList",
    "UnknownListEntry",
    "UnknownQueue",
    "UnknownReason",
    "UnknownSkill",
    "quoted",
]


#: Attributes of a rejected item that identify it without revealing a caller: logged as they are.
_ID_ATTRS = ("call_id", "agent_id", "uuid", "queue", "campaign_id", "contact_id", "list_name", "scope", "job_uuid")
#: Attributes of a rejected item that hold phone numbers: logged under ``number`` keys, which the
#: daemon's log processor masks when ``logging.mask_numbers`` is on.
_NUMBER_ATTRS = ("number", "caller_number", "customer_number", "destination_number")


def _hidden_number(error: CtilinkError) -> str | None:
    if isinstance(error, DoNotCallError):
        return error.number
    if isinstance(error, UnknownListEntry):
        return error.key[3]
    if isinstance(error, InvalidValue) and isinstance(error.value, str) and "number" in error.field:
        return error.value
    return None


def log_fields(error: CtilinkError, item: object = None) -> dict[str, object]:
    """What a log line says about a rejected input: the error, the item's type and ids, numbers
    only under number keys (so masking applies) and never the item's ``repr``, which would print
    whole phone numbers past the mask."""
    fields: dict[str, object] = {"code": error.code, "error_type": type(error).__name__}
    message = str(error)
    number = _hidden_number(error)
    if number is not None:
        message = message.replace(quoted(number), "<number>")
        fields["number"] = number[:_MAX_QUOTED]
    fields["error"] = message
    if isinstance(error, InvalidValue):
        fields["field"] = error.field
    if item is None:
        return fields
    fields["item_type"] = type(item).__name__
    for attr in _ID_ATTRS:
        value = getattr(item, attr, None)
        if isinstance(value, str) and attr not in fields:
            fields[attr] = value[:_MAX_QUOTED]
    for attr in _NUMBER_ATTRS:
        value = getattr(item, attr, None)
        key = "number" if attr == "number" else attr
        if isinstance(value, str) and key not in fields:
            fields[key] = value[:_MAX_QUOTED]
    return fields
