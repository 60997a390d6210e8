"""A rejected input is logged by type and ids, with numbers masked when the daemon masks them.

The log line used to carry ``repr(item)``, which printed whole phone numbers (a click-to-dial's
target, a list entry's number) past ``logging.mask_numbers``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from core_switch import Switch

from ctilink.core import requests as rq
from ctilink.core.call_control import ClickToDial
from ctilink.logs import configure_logging

SECRET_DIGITS = "5550199887"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The daemon's own logging set-up (JSON, numbers masked), written to a buffer."""
    configure_logging(fmt="json", level="debug", mask_numbers=True)
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    yield buffer
    structlog.reset_defaults()


def _rejections(err: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "input rejected"]


@pytest.mark.parametrize(
    "request_",
    [
        rq.AddListEntry(list_name="blacklist", number=f"+1{SECRET_DIGITS}", scope="queue:nope"),
        rq.AddListEntry(list_name="blacklist", number=f"call {SECRET_DIGITS} now"),
        ClickToDial(agent_id="1001", number=f"{SECRET_DIGITS}abc"),
    ],
    ids=["list-entry-unknown-scope", "list-entry-bad-number", "click-to-dial-bad-number"],
)
def test_rejected_input_logs_no_whole_number(switch: Switch, json_logs: io.StringIO, request_: object) -> None:
    effects = switch.request(request_)  # type: ignore[arg-type]
    assert effects.error is not None
    err = json_logs.getvalue()
    [line] = _rejections(err)
    assert SECRET_DIGITS not in err
    assert line["item_type"] == type(request_).__name__
    assert line["code"] == effects.error.code
    assert str(line["number"]).startswith("****")  # masked, yet there for whoever reads the log
