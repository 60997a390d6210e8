"""greenswitch is pinned exactly because ctilink.esl.connection leans on its private members.

Each member the connection relies on is checked here, so a new greenswitch release that renames
or reshapes one fails these tests instead of failing a live connection.
"""

from __future__ import annotations

import inspect
from importlib import metadata

import gevent.event
from greenswitch import esl

from ctilink.esl.connection import _Session


def test_the_pinned_release_is_installed() -> None:
    assert metadata.version("greenswitch") == "0.0.19"


def test_protocol_state_the_session_uses_exists_with_its_type() -> None:
    protocol = esl.InboundESL("127.0.0.1", 1, "unused")
    # _commands_sent: the FIFO of AsyncResults replies are matched to, in order.
    assert protocol._commands_sent == []
    # _auth_request_event: connect() waits on it until auth/request arrives.
    assert isinstance(protocol._auth_request_event, gevent.event.Event)
    # _run: the reader loop's flag, cleared to stop it.
    assert protocol._run is True


def test_connect_drives_the_hooks_the_session_overrides() -> None:
    # connect() must create sock and sock_file, then call start_event_handlers() and wait for
    # auth/request: _Session replaces start_event_handlers/receive_events with its own reader.
    source = inspect.getsource(esl.InboundESL.connect)
    order = [
        source.index(s)
        for s in (
            "self.sock =",
            "self.sock_file =",
            "self.start_event_handlers()",
            "self._auth_request_event.wait()",
            "self.authenticate()",
        )
    ]
    assert order == sorted(order)
    assert "self.send(" in inspect.getsource(esl.InboundESL.authenticate)


def test_the_session_overrides_exactly_these_members() -> None:
    for name in ("start_event_handlers", "receive_events", "send"):
        assert hasattr(esl.ESLProtocol, name), name
        assert getattr(_Session, name) is not getattr(esl.ESLProtocol, name), name
        ours = inspect.signature(getattr(_Session, name)).parameters
        theirs = inspect.signature(getattr(esl.ESLProtocol, name)).parameters
        # Same positional parameters greenswitch calls them with (ours may add keyword ones).
        assert list(theirs)[: len(theirs)] == list(ours)[: len(theirs)], name
