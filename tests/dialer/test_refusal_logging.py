"""An ordinary dialer refusal is answered to its caller and logged as a refusal, not a failure.

The engine loop used to log every exception from ``handle`` with ``log.exception``, so an API call
for an unknown campaign (404) or a contact already being dialled (409) wrote an error traceback.
"""

from __future__ import annotations

import pytest
from helpers import Rig
from structlog.testing import capture_logs

from ctilink.dialer.campaign import CampaignConfig
from ctilink.dialer.dialer import DialerError, PreviewAccept
from ctilink.service.loop import EngineLoop


def test_unknown_campaign_is_a_refusal_without_traceback() -> None:
    rig = Rig(CampaignConfig(name="spring", queue="outbound", agents=["1001"]), ["1001"])
    loop = EngineLoop(rig.rt, dispatch=lambda commands: None, notify=lambda n, now: None, clock=lambda: rig.now)  # type: ignore[arg-type]
    loop.start()
    try:
        with capture_logs() as logs:
            result = loop.submit(PreviewAccept("no-such-campaign", "1001"))
            with pytest.raises(DialerError, match="unknown campaign"):
                result.get(timeout=10)
    finally:
        loop.stop()
    [entry] = [e for e in logs if e["event"] in ("input_refused", "engine_input_failed")]
    assert entry["event"] == "input_refused"
    assert entry["log_level"] == "info" and "exc_info" not in entry
    assert entry["code"] == "dialer-refused" and entry["input"] == "PreviewAccept"
