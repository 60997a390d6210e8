"""Checks of the daemon configuration that span fields, and the pre-flight `ctilink run` and
`ctilink check-config` share.

Rules:
- :func:`cross_field_problems` is pure and runs inside :func:`ctilink.config.parse_config`, so
  ``run``, ``check-config`` and every reload (SIGHUP, ``POST /v1/admin/reload``) refuse the same
  things: empty or unusable secrets, a token held twice, a malformed webhook allowlist entry, two
  nodes or webhook endpoints with one name, and an API listening on the network with no token
  unless ``api.allow_unauthenticated_network`` says that is meant.
- :func:`preflight_problems` is what would otherwise fail only once the daemon runs: it builds the
  engine and dialer with the daemon's own :func:`~ctilink.service.daemon.build_engine` (opening no
  store and no socket) and renders every configured value that reaches FreeSWITCH once, through
  the real renderer (:func:`ctilink.esl.render.render`), with representative values. Its rules
  are the renderer's and the engine's: nothing here re-states them. It also refuses a live
  configuration without nodes and an agent token whose ``agent_id`` is not in ``[[agents]]``.
  ``check-config``, ``run`` and a SIGHUP reload run it (``ctilink.cli``).
- Every problem is ``(path, message)`` with the path of the configuration field
  (``agents[1].endpoints[0]``), as :class:`~ctilink.config.ConfigError` reports them. Secrets are
  never quoted in a message.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from ctilink.commands import Command, Hangup, Originate, Playback, Transfer, UnsafeValueError
from ctilink.core.config import OverflowAction
from ctilink.esl.render import render
from ctilink.values import SAMPLE_NUMBER

if TYPE_CHECKING:  # ctilink.config imports this module: only the type, to avoid the cycle
    from ctilink.config import Config

__all__ = ["check_for_run", "cross_field_problems", "is_loopback", "preflight_problems"]

Problem = tuple[str, str]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
# Looks like an address rather than a name: only digits and dots, or an IPv6 colon.
_ADDRESS_LIKE = re.compile(r"[0-9.]+|.*:.*")

# Representative values the renders use: uuid-shaped ids like the engine's, the sample number the
# dial-template rule uses (click-to-dial sends digits; campaigns dial E.164, with the plus).
_UUID = "00000000-0000-4000-8000-000000000001"
_JOB = "00000000-0000-4000-8000-000000000002"
_ANNOUNCE_SAMPLE = {"position": 1, "wait_min": 1, "wait_s": 30}


# -- cross-field checks (parse_config) -----------------------------------------------------------


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; any other name may resolve to anything."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _blank_secret(path: str, value: str, what: str) -> list[Problem]:
    if not value.strip():
        return [(path, f"{what} is empty")]
    return []


def _allow_host_problem(entry: str) -> str | None:
    """Why ``entry`` is not a host name, address or CIDR network. The HTTP client reads anything
    that does not parse as a network as a host name, so a typo in a network (``10.0.0.0/33``)
    would silently allow nothing: refuse it here instead."""
    if "/" in entry or _ADDRESS_LIKE.fullmatch(entry):
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            # strict: "10.1.2.3/8" reads as all of 10.0.0.0/8 at run time, wider than it looks.
            port = "; a host name takes no port" if ":" in entry and "/" not in entry else ""
            return f"not a valid IP address or CIDR network ({exc}{port})"
        return None
    if _HOST_NAME.fullmatch(entry) is None or len(entry) > 253:
        return "expected a host name, an IP address or a CIDR network (no wildcards, ports or URLs)"
    return None


def cross_field_problems(config: Config) -> list[Problem]:
    """Problems between fields or sections of a structurally valid configuration."""
    out: list[Problem] = []
    seen_nodes: dict[str, int] = {}
    for i, node in enumerate(config.nodes):
        password = node.password.get_secret_value()
        out += _blank_secret(f"nodes[{i}].password", password, "the event socket password")
        if _CONTROL.search(password):
            # The password goes on the ESL `auth` line: a line break would end it and start a command.
            out.append((f"nodes[{i}].password", "control characters (line breaks, tabs) are not allowed"))
        if node.name in seen_nodes:
            # Commands are routed by node name: the second node's calls would be sent to the first.
            out.append((f"nodes[{i}].name", f"duplicate node name {node.name!r} (also nodes[{seen_nodes[node.name]}])"))
        seen_nodes.setdefault(node.name, i)

    seen_hooks: dict[str, int] = {}
    for i, hook in enumerate(config.webhooks.endpoints):
        out += _blank_secret(f"webhooks.endpoints[{i}].secret", hook.secret.get_secret_value(), "the signing secret")
        if hook.name in seen_hooks:
            # Endpoints are keyed by name: one of the two would silently receive nothing.
            first = seen_hooks[hook.name]
            out.append(
                (f"webhooks.endpoints[{i}].name", f"duplicate endpoint name {hook.name!r} (also endpoints[{first}])")
            )
        seen_hooks.setdefault(hook.name, i)
        for j, entry in enumerate(hook.allow_hosts):
            problem = _allow_host_problem(entry)
            if problem is not None:
                out.append((f"webhooks.endpoints[{i}].allow_hosts[{j}]", f"{problem}, got {entry!r}"))

    holders: dict[str, int] = {}
    for i, token in enumerate(config.api.tokens):
        secret = token.token.get_secret_value()
        out += _blank_secret(f"api.tokens[{i}].token", secret, "the token")
        if secret in holders:
            # Any repeat is refused, same role or not: the API acts as whichever entry comes first,
            # so the second entry's name and scope would never apply.
            first = holders[secret]
            out.append(
                (
                    f"api.tokens[{i}].token",
                    f"same token as api.tokens[{first}] ({config.api.tokens[first].name!r}): every token must be unique",
                )
            )
        holders.setdefault(secret, i)

    if config.http.enabled and not config.api.tokens and not config.api.allow_unauthenticated_network:
        from ctilink.config import Listen  # the one parser of listen addresses; cycle: see above

        host = Listen.parse(config.http.listen).host
        if not is_loopback(host):
            out.append(
                (
                    "http.listen",
                    f"{host!r} is not a loopback address and no [[api.tokens]] are configured: every queue, agent "
                    "and call view and the agent event streams would be open to anyone who can reach it. "
                    "Configure api.tokens, listen on 127.0.0.1, or set api.allow_unauthenticated_network = true",
                )
            )
    return out


# -- pre-flight (check-config and run) -------------------------------------------------------------


def _render_problem(
    path: str, command: Command, fields: dict[str, str], default: str | None = None, note: str = ""
) -> list[Problem]:
    """Render ``command``; a refusal is reported at the config field its command field came from
    (``fields``: command field -> config path; anything else is ``path``)."""
    try:
        render(command)
    except UnsafeValueError as exc:
        where = fields.get(exc.field, path)
        message = f"cannot be sent to FreeSWITCH: {exc}"
        if where == path and note:
            message += f"; {note}"
        if default is not None and where == path:
            # The operator never wrote this value: say where it came from.
            message += f"; {default!r} is the default of {path}: set it explicitly"
        return [(where, message)]
    return []


def _playback(path: str, media: str, default: object = None) -> list[Problem]:
    """A Playback of ``media``; ``default`` is the field's default, named if it is what fails."""
    return _render_problem(path, Playback(_UUID, media), {}, media if media == default else None)


def _overflow(prefix: str, action: OverflowAction) -> list[Problem]:
    """What an overflow or default route sends: a Transfer, or an announcement and a Hangup."""
    if action.kind == "extension":
        assert action.target is not None  # OverflowAction requires it for this kind
        fields = {"Transfer.destination": f"{prefix}.target", "Transfer.context": f"{prefix}.context"}
        return _render_problem(f"{prefix}.target", Transfer(_UUID, action.target, context=action.context), fields)
    if action.kind == "hangup":
        out = _playback(f"{prefix}.announcement", action.announcement) if action.announcement is not None else []
        return out + _render_problem(f"{prefix}.cause", Hangup(_UUID, action.cause), {})
    return []  # into another queue: nothing reaches the switch


def _render_problems(config: Config) -> list[Problem]:
    out: list[Problem] = []
    for i, agent in enumerate(config.agents):
        for j, endpoint in enumerate(agent.endpoints):
            # As the engine offers a call (and click-to-dial rings the agent first).
            offer = Originate(
                uuid=_UUID,
                dial_string=endpoint,
                job_uuid=_JOB,
                variables={"ctilink_call_id": _UUID, "ctilink_role": "agent", "ctilink_agent_id": agent.id},
                caller_id_number=SAMPLE_NUMBER,
                application="park",
            )
            fields = {"Originate.variables['ctilink_agent_id']": f"agents[{i}].id"}
            out += _render_problem(f"agents[{i}].endpoints[{j}]", offer, fields)

    calls = config.calls
    click = Originate(
        uuid=_UUID,
        dial_string=calls.dial_template.replace("{number}", SAMPLE_NUMBER),
        job_uuid=_JOB,
        variables={"ctilink_click_to_dial": _UUID},
        caller_id_number=calls.caller_id_number,
        caller_id_name=calls.caller_id_name,
        timeout_s=calls.ring_timeout_s,
    )
    fields = {
        "Originate.caller_id_number": "calls.caller_id_number",
        "Originate.caller_id_name": "calls.caller_id_name",
        "Originate.timeout_s": "calls.ring_timeout_s",
    }
    out += _render_problem("calls.dial_template", click, fields)

    for i, queue in enumerate(config.queues):
        prefix = f"queues[{i}]"
        default_music = type(queue).model_fields["hold_music"].default
        out += _playback(f"{prefix}.hold_music", queue.hold_music, default_music)
        if queue.announcement is not None:
            try:
                path = queue.announcement.path.format(**_ANNOUNCE_SAMPLE)  # as the engine formats it
            except (ValueError, IndexError, KeyError) as exc:
                out.append((f"{prefix}.announcement.path", f"cannot be formatted: {exc}"))
            else:
                out += _playback(f"{prefix}.announcement.path", path)
        if queue.overflow is not None:
            out += _overflow(f"{prefix}.overflow", queue.overflow)

    engine = config.engine_config()
    if engine.default_route is not None:
        out += _overflow("engine.default_route", engine.default_route)
    # Blind transfers, whitelist green channels and blacklist routes go to this context.
    out += _render_problem("engine.transfer_context", Transfer(_UUID, "1000", context=engine.transfer_context), {})

    for i, campaign in enumerate(config.campaigns):
        prefix = f"campaigns[{i}]"
        variables = {
            "ctilink_call_id": _UUID,
            "ctilink_role": "customer",
            "ctilink_campaign": campaign.name,
            "ctilink_contact_id": "contact-1",
        }
        if campaign.amd:
            variables["execute_on_answer"] = "avmd_start"
        dial = Originate(  # as the dialer dials a contact (numbers are E.164)
            uuid=_UUID,
            dial_string=campaign.dial_target("+" + SAMPLE_NUMBER),
            job_uuid=_JOB,
            variables=variables,
            caller_id_number=campaign.caller_id_number,
            caller_id_name=campaign.caller_id_name,
            timeout_s=campaign.ring_timeout_s,
            application="park",
        )
        fields = {
            "Originate.caller_id_number": f"{prefix}.caller_id_number",
            "Originate.caller_id_name": f"{prefix}.caller_id_name",
            "Originate.timeout_s": f"{prefix}.ring_timeout_s",
            "Originate.variables['ctilink_campaign']": f"{prefix}.name",
        }
        note = f"contacts are dialled in E.164 form, with the plus (+{SAMPLE_NUMBER})"
        out += _render_problem(f"{prefix}.dial_string", dial, fields, note=note)
        default_abandon = type(campaign).model_fields["abandon_announcement"].default
        out += _playback(f"{prefix}.abandon_announcement", campaign.abandon_announcement, default_abandon)
        if campaign.machine_message is not None:
            out += _playback(f"{prefix}.machine_message", campaign.machine_message)
    return out


_ENGINE_PATH = re.compile(r"^(queues|agents)\[([^\]]+)\]((?:\.[A-Za-z_]+|\[\d+\])*): (.*)$", re.DOTALL)


def _engine_problem(config: Config, message: str) -> Problem:
    """The engine names a queue or agent by name (``queues[sales].strategy: ...``): give the index."""
    match = _ENGINE_PATH.match(message)
    if match is not None:
        section, name, rest, text = match.groups()
        names = [q.name for q in config.queues] if section == "queues" else [a.id for a in config.agents]
        if name in names:
            return f"{section}[{names.index(name)}]{rest}", text
    if message.startswith("default_route:"):
        return "engine.default_route", message.partition(": ")[2]
    return "(engine)", message


def _engine_problems(config: Config) -> list[Problem]:
    # Imported here: the daemon pulls in the whole service (gevent, HTTP, store), and
    # ctilink.config, which imports this module, must stay importable without it.
    from ctilink.core.errors import CtilinkError
    from ctilink.dialer.dialer import DialerError
    from ctilink.service.daemon import build_engine

    try:
        build_engine(config)
    except (CtilinkError, DialerError, ValueError) as exc:
        return [_engine_problem(config, str(exc))]
    return []


def _agent_token_problems(config: Config) -> list[Problem]:
    """An agent token for an agent the daemon does not have would authenticate and then be refused
    every action. Here rather than in parse_config: library users and tests build a Config for its
    tokens alone, with the agents in an engine of their own."""
    agents = {a.id for a in config.agents}
    return [
        (f"api.tokens[{i}].agent_id", f"unknown agent {token.agent_id!r} (not in [[agents]])")
        for i, token in enumerate(config.api.tokens)
        if token.role == "agent" and token.agent_id not in agents
    ]


def preflight_problems(config: Config) -> list[Problem]:
    """What `ctilink run` would refuse at start or FreeSWITCH would refuse later, for a
    configuration :func:`ctilink.config.parse_config` accepted."""
    out: list[Problem] = []
    if not config.nodes:
        out.append(("nodes", "at least one FreeSWITCH node is needed to run live (or use `ctilink demo`)"))
    return out + _agent_token_problems(config) + _engine_problems(config) + _render_problems(config)


def check_for_run(config: Config, source: str) -> None:
    """Raise :class:`~ctilink.config.ConfigError` with every :func:`preflight_problems` problem."""
    from ctilink.config import ConfigError  # cycle: see the TYPE_CHECKING import

    problems = preflight_problems(config)
    if problems:
        raise ConfigError(source, problems)
