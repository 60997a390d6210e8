"""The pre-flight `ctilink run`, `ctilink check-config` and a reload share: what a configuration
:func:`ctilink.config.parse_config` accepted would still fail once the daemon runs.

Rules:
- The checks between fields of one configuration (secrets, duplicate names, the API's exposure)
  are :func:`ctilink.config.cross_field_problems`, inside ``parse_config``; this module adds only
  what needs the engine or the renderer.
- :func:`preflight_problems` builds the engine and dialer with the daemon's own
  :func:`~ctilink.service.build.build_engine` (opening no store and no socket) and renders every
  configured value that reaches FreeSWITCH once, through the real renderer
  (:func:`ctilink.esl.render.render`), with representative values. Its rules are the renderer's
  and the engine's: nothing here re-states them. It also refuses a live configuration without
  nodes and an agent token whose ``agent_id`` is not in ``[[agents]]``. ``check-config``, ``run``
  and a SIGHUP reload run it (``ctilink.cli``).
- Every problem is ``(path, message)`` with the path of the configuration field
  (``agents[1].endpoints[0]``), as :class:`~ctilink.config.ConfigError` reports them. Secrets are
  never quoted in a message.
"""

from __future__ import annotations

import re

from ctilink.commands import Command, Hangup, Originate, Playback, Transfer, UnsafeValueError
from ctilink.config import Config, ConfigError
from ctilink.core.config import OverflowAction, QueueConfig
from ctilink.core.errors import CtilinkError
from ctilink.dialer.campaign import CampaignConfig
from ctilink.dialer.errors import DialerError
from ctilink.dialer.legs import customer_originate
from ctilink.esl.render import render
from ctilink.service.build import build_engine
from ctilink.values import SAMPLE_NUMBER

__all__ = ["check_for_run", "preflight_problems"]

Problem = tuple[str, str]

# Representative values the renders use: uuid-shaped ids like the engine's, the sample number the
# dial-template rule uses (click-to-dial sends digits; campaigns dial E.164, with the plus).
_UUID = "00000000-0000-4000-8000-000000000001"
_JOB = "00000000-0000-4000-8000-000000000002"
_ANNOUNCE_SAMPLE = {"position": 1, "wait_min": 1, "wait_s": 30}


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


def _agent_offers(config: Config) -> list[Problem]:
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
    return out


def _click_to_dial(config: Config) -> list[Problem]:
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
    return _render_problem("calls.dial_template", click, fields)


def _queue_media(prefix: str, queue: QueueConfig) -> list[Problem]:
    default_music = type(queue).model_fields["hold_music"].default
    out = _playback(f"{prefix}.hold_music", queue.hold_music, default_music)
    if queue.announcement is not None:
        try:
            path = queue.announcement.path.format(**_ANNOUNCE_SAMPLE)  # as the engine formats it
        except (ValueError, IndexError, KeyError) as exc:
            out.append((f"{prefix}.announcement.path", f"cannot be formatted: {exc}"))
        else:
            out += _playback(f"{prefix}.announcement.path", path)
    if queue.overflow is not None:
        out += _overflow(f"{prefix}.overflow", queue.overflow)
    return out


def _engine_routes(config: Config) -> list[Problem]:
    engine = config.engine_config()
    out = _overflow("engine.default_route", engine.default_route) if engine.default_route is not None else []
    # Blind transfers, whitelist green channels and blacklist routes go to this context.
    return out + _render_problem(
        "engine.transfer_context", Transfer(_UUID, "1000", context=engine.transfer_context), {}
    )


def _campaign_dials(prefix: str, campaign: CampaignConfig) -> list[Problem]:
    # The dialer's own originate for a contact (numbers are dialled in E.164 form).
    dial = customer_originate(campaign, _UUID, "contact-1", "+" + SAMPLE_NUMBER, _UUID, _JOB)
    fields = {
        "Originate.caller_id_number": f"{prefix}.caller_id_number",
        "Originate.caller_id_name": f"{prefix}.caller_id_name",
        "Originate.timeout_s": f"{prefix}.ring_timeout_s",
        "Originate.variables['ctilink_campaign']": f"{prefix}.name",
    }
    note = f"contacts are dialled in E.164 form, with the plus (+{SAMPLE_NUMBER})"
    out = _render_problem(f"{prefix}.dial_string", dial, fields, note=note)
    default_abandon = type(campaign).model_fields["abandon_announcement"].default
    out += _playback(f"{prefix}.abandon_announcement", campaign.abandon_announcement, default_abandon)
    if campaign.machine_message is not None:
        out += _playback(f"{prefix}.machine_message", campaign.machine_message)
    return out


def _render_problems(config: Config) -> list[Problem]:
    """Every configured value that reaches FreeSWITCH, rendered as the engine and dialer send it."""
    out = _agent_offers(config) + _click_to_dial(config)
    for i, queue in enumerate(config.queues):
        out += _queue_media(f"queues[{i}]", queue)
    out += _engine_routes(config)
    for i, campaign in enumerate(config.campaigns):
        out += _campaign_dials(f"campaigns[{i}]", campaign)
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
    problems = preflight_problems(config)
    if problems:
        raise ConfigError(source, problems)
