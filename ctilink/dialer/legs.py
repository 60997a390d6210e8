"""The customer leg as FreeSWITCH and the engine see it: its originate and its hand-over.

Rules (docs/dialer.md, "The seam with the engine"; DESIGN.md, "FreeSWITCH conventions"):
- Every dial is a ``bgapi originate`` parked on answer, with an ``origination_uuid`` and a
  Job-UUID chosen here and the ``ctilink_*`` variables (``ctilink_call_id`` = the attempt id,
  ``ctilink_role=customer``, ``ctilink_campaign``, ``ctilink_contact_id``), so every event and job
  result maps back to its attempt without guessing. With AMD, ``avmd_start`` runs on answer.
- The uuids are real uuids on the wire, derived (uuid5) from the attempt id: the dialer's id
  factory decides everything, so a test with a counting factory replays exactly.
- A live answer enters the engine as the ``ChannelParked`` FreeSWITCH would have sent for a leg
  parked with ``ctilink_queue=<campaign queue>`` and ``ctilink_priority=100`` (plus
  ``ctilink_preferred_agent`` when dialed for an agent): the engine needs no dialer code path.
- Pure functions of their arguments.
"""

from __future__ import annotations

import uuid as uuid_module

from ctilink.commands import Originate
from ctilink.dialer.campaign import CampaignConfig
from ctilink.events import ChannelParked


def leg_ids(attempt_id: str) -> tuple[str, str]:
    """``(leg uuid, job uuid)`` of the attempt's originate."""
    leg = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"ctilink-leg:{attempt_id}"))
    job = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"ctilink-job:{attempt_id}"))
    return leg, job


def customer_originate(
    config: CampaignConfig, attempt_id: str, contact_id: str, number: str, leg: str, job: str
) -> Originate:
    """The originate that dials ``number`` for the attempt."""
    variables = {
        "ctilink_call_id": attempt_id,
        "ctilink_role": "customer",
        "ctilink_campaign": config.name,
        "ctilink_contact_id": contact_id,
    }
    if config.amd:
        variables["execute_on_answer"] = "avmd_start"
    return Originate(
        uuid=leg,
        dial_string=config.dial_target(number),
        job_uuid=job,
        variables=variables,
        caller_id_number=config.caller_id_number,
        caller_id_name=config.caller_id_name,
        timeout_s=config.ring_timeout_s,
        application="park",
    )


def hand_over(config: CampaignConfig, leg: str, contact_id: str, number: str, agent_id: str | None) -> ChannelParked:
    """The answered live leg as the engine takes it: parked in the campaign's queue at top priority."""
    variables = {
        "ctilink_queue": config.queue,
        "ctilink_priority": "100",
        "ctilink_role": "customer",
        "ctilink_campaign": config.name,
        "ctilink_contact_id": contact_id,
    }
    if agent_id is not None:
        variables["ctilink_preferred_agent"] = agent_id
    return ChannelParked(uuid=leg, caller_number=number, variables=variables)


__all__ = ["customer_originate", "hand_over", "leg_ids"]
