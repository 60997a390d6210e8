"""A protocol-faithful fake FreeSWITCH Event Socket for tests: real sockets, real wire format.

Rules:
- Speaks inbound ESL exactly as FreeSWITCH 1.10.12 does in the project's recordings:
  ``auth/request`` on connect; ``auth <pw>`` -> ``+OK accepted`` or ``-ERR invalid`` and close;
  ``event plain|json <names>|ALL`` -> ``+OK event listener enabled <fmt>``; ``filter``,
  ``noevents``; ``api`` -> ``api/response`` with a byte Content-Length; ``bgapi`` ->
  ``+OK Job-UUID: <id>`` then a BACKGROUND_JOB event; ``exit`` -> ``+OK bye`` then
  ``text/disconnect-notice`` and close. Events go to each subscribed client in its format
  (a client's subscription, filters and reads: :mod:`ctilink.testing.fake_listener`).
- Event header sets, names and order follow the recorded fixtures (common header block, channel
  data, Caller-* profile, Other-Leg-* when bridged, ``variable_*``). Event-Sequence increases,
  Event-Date-Timestamp is microseconds, Core-UUID is fixed per instance.
- Tests never sleep on it: set ``time_scale=0`` (every ring/answer/timeout delay becomes 0) and
  wait with :meth:`FakeSwitch.wait_for_command` or by reading the events the client receives.
- It owns a toy channel model only; it makes no routing decisions and knows nothing of ctilink's
  engine. Command text is read with :mod:`ctilink.esl.command_parse` (FreeSWITCH's splitting rules).

API::

    srv = FakeSwitch(password="ClueCon", core_uuid=None, heartbeat_interval=20.0, time_scale=1.0)
    srv.start(); srv.host, srv.port; srv.stop()
    srv.commands                       # every command text received, in order ("api status", ...)
    srv.emit(headers, body=None)       # push one event (common headers filled in) to subscribers
    srv.replay(json_esl_bytes)         # a recorded listener's event frames, in order, to subscribers
    srv.disconnect(notice=True); srv.rude_rejection(); srv.go_silent(); srv.resume()
    srv.set_api_handler("sofia status", fn)   # fn(args: str) -> str body; overrides built-ins
    srv.set_endpoint("sofia/external/agent1002@", Endpoint("busy", delay_s=0.5))
    srv.wait_for_command(lambda text: text.startswith("api uuid_bridge"), timeout=5) -> str
    srv.wait_for_jobs(3, timeout=5) -> [body, ...]  # the first BACKGROUND_JOB bodies, once sent
    srv.send_raw(b"...")               # raw bytes to every connected client (malformed-frame tests)
    uuid = srv.inbound_call("15551230001", "Alice Example", "7000", {"ctilink_queue": "support"})
    srv.channels                       # uuid -> FakeChannel (live channels)

Originate ownership, as in FreeSWITCH: an answered leg stays its originate's for
``originate_settle_s`` (real seconds); a ``uuid_bridge`` or ``uuid_transfer`` of it in that window
makes the originate's result ``-ERR ORIGINATOR_CANCEL`` while the leg lives on (recorded in
``tests/fixtures/esl-ctilink/answer_bridge_race``).

Endpoint behaviours (matched by longest dial-string prefix, default answer): ``answer`` after
``delay_s``; ``busy`` (486, USER_BUSY); ``no_answer`` (NO_ANSWER after ``originate_timeout``);
``fail`` (NORMAL_TEMPORARY_FAILURE at once). Delays are multiplied by ``time_scale``.
Run standalone for benches: ``python -m ctilink.testing.fake_switch_cli --port 8021``.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid as uuidlib
from collections.abc import Callable
from email.utils import formatdate
from typing import TypeVar

import gevent
import gevent.event
import gevent.server
import gevent.socket

from ctilink.esl.command_parse import CommandParseError, fs_separate, parse_originate_args
from ctilink.testing import esl_wire
from ctilink.testing.fake_channels import (
    HOSTNAME,
    SIP_STATUS,
    Endpoint,
    FakeChannel,
    channel_headers,
    show_channels_json,
    uptime,
)
from ctilink.testing.fake_listener import Listener, read_commands

VERSION = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"


_T = TypeVar("_T")


def _wait_until(
    check: Callable[[], _T | None], changed: gevent.event.Event, timeout: float, what: Callable[[], str]
) -> _T:
    """Cooperatively wait until ``check()`` gives a value, woken by ``changed``; TimeoutError after
    ``timeout`` seconds, saying ``what()``."""
    deadline = time.monotonic() + timeout
    while True:
        changed.clear()  # before the check: a change that lands after it still wakes the wait
        value = check()
        if value is not None:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(what())
        changed.wait(left)


class FakeSwitch:
    """See the module docstring."""

    def __init__(
        self,
        password: str = "ClueCon",
        core_uuid: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval: float | None = 20.0,
        time_scale: float = 1.0,
        originate_settle_s: float = 0.05,
    ) -> None:
        self.password = password
        self.core_uuid = core_uuid or str(uuidlib.uuid4())
        self.host = host
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.time_scale = time_scale
        # Real seconds between an originated leg's CHANNEL_ANSWER and its originate returning (not
        # scaled: it is the window in which a real switch cancels an originate whose leg is taken).
        self.originate_settle_s = originate_settle_s
        self.commands: list[str] = []
        self.channels: dict[str, FakeChannel] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.default_endpoint = Endpoint()
        self._api_handlers: dict[str, Callable[[str], str]] = {}
        self._clients: list[Listener] = []
        self._seq = itertools.count(1000)
        self._session_count = itertools.count(1)
        self._sessions_since_start = 0
        self._started_at = time.time()
        self._server: gevent.server.StreamServer | None = None
        self._greenlets: list[gevent.Greenlet] = []
        self._command_arrived = gevent.event.Event()
        self.job_results: dict[str, str] = {}  # Job-UUID -> the BACKGROUND_JOB body sent
        self._job_done = gevent.event.Event()
        self.on_command: list[Callable[[str], None]] = []  # called with each command line as it arrives
        self._silent = False
        self._reject = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._server = gevent.server.StreamServer((self.host, self.port), self._handle)
        self._server.start()
        self.port = self._server.server_port
        if self.heartbeat_interval:
            self._greenlets.append(gevent.spawn(self._heartbeats))

    def stop(self) -> None:
        for g in self._greenlets:
            g.kill(block=False)
        if self._server is not None:
            self._server.stop(timeout=1)
        for c in list(self._clients):
            c.close()
        self._clients.clear()

    def __enter__(self) -> FakeSwitch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- failure injection --------------------------------------------------------------------
    def disconnect(self, notice: bool = True) -> None:
        """Drop every client, after a disconnect notice (as on shutdown) or abruptly."""
        for c in list(self._clients):
            if notice:
                c.send(esl_wire.disconnect_notice("The system is being shut down.\n"))
            c.close()
        self._clients.clear()

    def rude_rejection(self, enabled: bool = True) -> None:
        """From now on, answer new connections like an ACL denial: ``text/rude-rejection`` + close."""
        self._reject = enabled

    def go_silent(self) -> None:
        """Keep sockets open but send nothing: no events, heartbeats or replies (a hung node)."""
        self._silent = True

    def resume(self) -> None:
        self._silent = False

    def send_raw(self, data: bytes) -> None:
        for c in list(self._clients):
            c.send(data)

    def set_api_handler(self, prefix: str, fn: Callable[[str], str]) -> None:
        """``api``/``bgapi`` commands starting with ``prefix`` get ``fn(args)`` as their body."""
        self._api_handlers[prefix] = fn

    def set_endpoint(self, dial_prefix: str, behaviour: Endpoint) -> None:
        self.endpoints[dial_prefix] = behaviour

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[str]:
        """The bodies of the first ``count`` BACKGROUND_JOBs sent, in order, once they all are."""

        def done() -> list[str] | None:
            return list(self.job_results.values())[:count] if len(self.job_results) >= count else None

        return _wait_until(done, self._job_done, timeout, lambda: f"{len(self.job_results)} of {count} jobs completed")

    def wait_for_command(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
        """Block (cooperatively) until a received command matches; returns its text."""

        seen = 0

        def found() -> str | None:
            nonlocal seen  # each command is looked at once, however many arrive
            commands = self.commands
            match = next((text for text in commands[seen:] if predicate(text)), None)
            seen = len(commands)
            return match

        return _wait_until(
            found, self._command_arrived, timeout, lambda: f"no matching command; received {self.commands!r}"
        )

    # -- events ---------------------------------------------------------------------------------
    def _common(self, name: str, calling: tuple[str, str, str] = ("switch_core.c", "fake", "1")) -> dict[str, str]:
        now = time.time()
        return {
            "Event-Name": name,
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": HOSTNAME,
            "FreeSWITCH-Switchname": HOSTNAME,
            "FreeSWITCH-IPv4": "127.0.0.1",
            "FreeSWITCH-IPv6": "::1",
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
            "Event-Date-GMT": formatdate(now, usegmt=True),
            "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Calling-File": calling[0],
            "Event-Calling-Function": calling[1],
            "Event-Calling-Line-Number": calling[2],
            "Event-Sequence": str(next(self._seq)),
        }

    def emit(self, headers: dict[str, str], body: str | None = None) -> None:
        """Push one event to every subscribed client; missing common headers are filled in."""
        full = self._common(headers.get("Event-Name", "CUSTOM"))
        full.update(headers)
        self._deliver(full, body)

    def _deliver(self, headers: dict[str, str], body: str | None) -> None:
        if self._silent:
            return
        for c in list(self._clients):
            if c.wants(headers):
                c.send(esl_wire.event_frame(c.fmt or "plain", headers, body))

    def replay(self, data: bytes) -> int:
        """Send the event frames of a recorded ``event json`` stream (a ``.json.esl``), in order,
        to subscribers (in their format). Returns how many events were replayed."""
        n = 0
        for outer, body in esl_wire.split_frames(data):
            if outer.get("Content-Type") != "text/event-json":
                continue
            event = json.loads(body)
            ev_body = event.pop("_body", None)
            event.pop("Content-Length", None)
            flat = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in event.items()}
            if self._silent:
                continue
            for c in list(self._clients):
                if c.wants(flat):
                    if c.fmt == "json":
                        c.send(
                            esl_wire.frame(
                                [("Content-Length", str(len(body))), ("Content-Type", "text/event-json")], body
                            )
                        )
                    else:
                        c.send(esl_wire.event_frame("plain", flat, ev_body))
            n += 1
        return n

    def _heartbeats(self) -> None:
        assert self.heartbeat_interval
        while True:
            gevent.sleep(self.heartbeat_interval)
            up_ms = int((time.time() - self._started_at) * 1000)
            self.emit(
                {
                    "Event-Name": "HEARTBEAT",
                    "Event-Calling-File": "switch_core.c",
                    "Event-Calling-Function": "send_heartbeat",
                    "Event-Calling-Line-Number": "95",
                    "Event-Info": "System Ready",
                    "Up-Time": uptime(up_ms),
                    "FreeSWITCH-Version": VERSION,
                    "Uptime-msec": str(up_ms),
                    "Session-Count": str(len(self.channels)),
                    "Max-Sessions": "1000",
                    "Session-Per-Sec": "30",
                    "Session-Per-Sec-Last": "0",
                    "Session-Per-Sec-Max": "1",
                    "Session-Per-Sec-FiveMin": "1",
                    "Session-Since-Startup": str(self._sessions_since_start),
                    "Session-Peak-Max": str(len(self.channels)),
                    "Session-Peak-FiveMin": str(len(self.channels)),
                    "Idle-CPU": "98.000000",
                }
            )

    # -- channel events ---------------------------------------------------------------------------
    def _channel_event(
        self,
        name: str,
        ch: FakeChannel,
        pre: dict[str, str] | None = None,
        post: dict[str, str] | None = None,
        calling: tuple[str, str, str] | None = None,
    ) -> None:
        h = self._common(name, calling or ("switch_channel.c", "switch_channel_perform_event", "1"))
        h.update(pre or {})
        h.update(channel_headers(ch, self.channels.get(ch.other_uuid or "")))
        h.update(post or {})
        self._deliver(h, None)

    @staticmethod
    def _now_us() -> int:
        return int(time.time() * 1_000_000)

    def _new_channel(self, **kw: object) -> FakeChannel:
        ch = FakeChannel(**kw)  # type: ignore[arg-type]
        ch.created_us = self._now_us()
        ch.variables.setdefault("session_id", str(next(self._session_count)))
        self.channels[ch.uuid] = ch
        self._sessions_since_start += 1
        self._channel_event(
            "CHANNEL_CREATE", ch, calling=("switch_core_state_machine.c", "switch_core_session_run", "626")
        )
        return ch

    def inbound_call(
        self,
        caller_number: str,
        caller_name: str,
        destination: str,
        variables: dict[str, str] | None = None,
        answered: bool = False,
    ) -> str:
        """A caller reaches the dialplan, which sets ``variables`` and parks (CHANNEL_PARK)."""
        uid = str(uuidlib.uuid4())
        ch = self._new_channel(
            uuid=uid,
            direction="inbound",
            name=f"sofia/external/{caller_number}@127.0.0.1:5070",
            caller_number=caller_number,
            caller_name=caller_name,
            destination=destination,
            context="public",
            variables={},
        )
        ch.state, ch.callstate = "CS_EXECUTE", "RINGING"
        ch.variables.update(variables or {})
        if answered:
            self._answer(ch)
        self._park(ch)
        return uid

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        """The far end of ``uuid`` hangs up (BYE or CANCEL); its bridged partner follows. False if unknown."""
        ch = self.channels.get(uuid)
        if ch is None:
            return False
        self._hangup(ch, cause, by="recv")
        return True

    def _park(self, ch: FakeChannel) -> None:
        ch.parked, ch.application, ch.current_app = True, "park", "park"
        self._channel_event("CHANNEL_PARK", ch, calling=("switch_ivr.c", "switch_ivr_park", "1002"))

    def _unpark(self, ch: FakeChannel) -> None:
        if ch.parked:
            ch.parked = False
            self._channel_event("CHANNEL_UNPARK", ch, calling=("switch_ivr.c", "switch_ivr_park", "1131"))

    def _answer(self, ch: FakeChannel) -> None:
        if ch.answered_us:
            return
        ch.answered_us = self._now_us()
        ch.callstate, ch.answer_state = "ACTIVE", "answered"
        self._channel_event(
            "CHANNEL_ANSWER", ch, calling=("switch_channel.c", "switch_channel_perform_mark_answered", "3994")
        )

    def _hangup(self, ch: FakeChannel, cause: str, sip_status: str | None = None, by: str = "send") -> None:
        """End ``ch``. ``by``: "recv" when the far end hung up (BYE/CANCEL/refusal reached the
        switch), "send" when the switch ended it (uuid_kill, a bridged partner leaving): as in
        mod_sofia's variable_sip_hangup_disposition, which tells a caller who left from a dropped one."""
        if ch.uuid not in self.channels:
            return
        other = self.channels.get(ch.other_uuid or "")
        ch.hangup_cause = cause
        ch.hangup_us = self._now_us()
        ch.state, ch.callstate, ch.answer_state = "CS_HANGUP", "HANGUP", "hangup"
        self._channel_event("CHANNEL_HANGUP", ch, pre={"Hangup-Cause": cause})
        if other is not None:
            self._channel_event(
                "CHANNEL_UNBRIDGE",
                ch,
                pre={"Bridge-A-Unique-ID": ch.uuid, "Bridge-B-Unique-ID": other.uuid},
                post={"Hangup-Cause": cause},
            )
        ch.state = "CS_REPORTING"
        end = ch.hangup_us
        duration = (end - ch.created_us) // 1_000_000
        billsec = (end - ch.answered_us) // 1_000_000 if ch.answered_us else 0
        post = {
            "variable_hangup_cause": cause,
            "variable_sip_term_status": sip_status or SIP_STATUS.get(cause, "200"),
            "variable_start_uepoch": str(ch.created_us),
            "variable_answer_uepoch": str(ch.answered_us),
            "variable_end_uepoch": str(end),
            "variable_duration": str(duration),
            "variable_billsec": str(billsec),
            "variable_sip_hangup_disposition": f"{by}_{'bye' if ch.answered_us else ('refuse' if by == 'recv' else 'cancel')}",
        }
        self._channel_event(
            "CHANNEL_HANGUP_COMPLETE",
            ch,
            pre={"Hangup-Cause": cause},
            post=post,
            calling=("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
        )
        del self.channels[ch.uuid]
        if other is not None:
            other.other_uuid = None
            ch.other_uuid = None
            self._hangup(other, "NORMAL_CLEARING")

    # -- originate ----------------------------------------------------------------------------------
    def _endpoint_for(self, dial: str) -> Endpoint:
        best = ""
        for prefix in self.endpoints:
            if dial.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.endpoints[best] if best else self.default_endpoint

    def _originate(self, args: str) -> str:
        """Run an originate to its outcome; returns the api/BACKGROUND_JOB body."""
        try:
            req = parse_originate_args(args)
        except CommandParseError as err:
            return f"-USAGE: {err}\n"
        v = dict(req.variables)
        uid = v.get("origination_uuid") or str(uuidlib.uuid4())
        if uid in self.channels:
            return "-ERR DESTINATION_OUT_OF_ORDER\n"
        timeout = float(v.get("originate_timeout", "60") or 60)
        dial = req.dial_string
        user = dial.rsplit("/", 1)[-1].split("@", 1)[0]
        behaviour = self._endpoint_for(dial)
        ch = self._new_channel(
            uuid=uid,
            direction="outbound",
            name=dial,
            caller_number=v.get("origination_caller_id_number", "0000000000"),
            caller_name=v.get("origination_caller_id_name", "FreeSWITCH"),
            destination=user,
            context="default",
            variables=v,
        )
        if behaviour.kind == "fail":
            self._hangup(ch, "NORMAL_TEMPORARY_FAILURE")
            return "-ERR NORMAL_TEMPORARY_FAILURE\n"
        ch.progress_us = self._now_us()
        self._channel_event(
            "CHANNEL_PROGRESS", ch, calling=("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "1418")
        )
        if behaviour.kind == "no_answer":
            gevent.sleep((behaviour.delay_s or timeout) * self.time_scale)
            self._hangup(ch, "NO_ANSWER", "487")  # the switch gives up ringing: it sends the CANCEL
            return "-ERR NO_ANSWER\n"
        gevent.sleep(behaviour.delay_s * self.time_scale)
        if uid not in self.channels:
            return f"-ERR {ch.hangup_cause or 'ORIGINATOR_CANCEL'}\n"
        if behaviour.kind == "busy":
            self._hangup(ch, "USER_BUSY", "486", by="recv")
            return "-ERR USER_BUSY\n"
        self._answer(ch)
        ch.owned_by_originate = True
        gevent.sleep(self.originate_settle_s)
        ch.owned_by_originate = False
        if ch.taken_from_originate:
            # switch_ivr_originate.c: the leg was bridged or transferred away before the originate
            # returned; it reports ORIGINATOR_CANCEL (487) although the leg lives on.
            return "-ERR ORIGINATOR_CANCEL\n"
        if uid not in self.channels:
            return f"-ERR {ch.hangup_cause or 'ORIGINATOR_CANCEL'}\n"
        if req.application == "park":
            gevent.spawn(self._park, ch)
        elif req.application:
            ch.application, ch.application_data = req.application, req.application_arg
        return f"+OK {uid}\n"

    def _bgapi(self, client: Listener, text: str, job_uuid: str) -> None:
        cmd, _, args = text.partition(" ")
        body = self._run_api(text, background=True)
        self.job_results[job_uuid] = body
        self._job_done.set()
        self.emit(
            {
                "Event-Name": "BACKGROUND_JOB",
                "Event-Calling-File": "mod_event_socket.c",
                "Event-Calling-Function": "api_exec",
                "Event-Calling-Line-Number": "1572",
                "Job-UUID": job_uuid,
                "Job-Command": cmd,
                "Job-Command-Arg": args,
            },
            body,
        )

    # -- api ----------------------------------------------------------------------------------------
    def _run_api(self, text: str, background: bool = False) -> str:
        for prefix, fn in sorted(self._api_handlers.items(), key=lambda kv: -len(kv[0])):
            if text.startswith(prefix):
                return fn(text[len(prefix) :].strip(" "))
        cmd, _, args = text.strip(" ").partition(" ")
        args = args.strip(" ")
        if cmd == "originate":
            return self._originate(args)
        if cmd == "status":
            return self._status()
        if cmd == "show" and args == "channels as json":
            return show_channels_json(self.channels.values())
        if cmd == "uuid_exists":
            return "true" if args in self.channels else "false"
        handler = getattr(self, f"_api_{cmd}", None)
        if handler is None:
            return f"-ERR {cmd} Command not found!\n"
        argv = fs_separate(args, " ", 16) if args else []
        if cmd == "uuid_setvar":
            argv = fs_separate(args, " ", 3)
        if cmd == "uuid_setvar_multi":
            argv = args.split(" ", 1)
        uid = (
            argv[1] if cmd == "uuid_hold" and argv and argv[0] == "off" and len(argv) > 1 else (argv[0] if argv else "")
        )
        ch = self.channels.get(uid)
        if ch is None:
            return "-ERR No such channel!\n"
        return str(handler(ch, argv))

    def _api_uuid_kill(self, ch: FakeChannel, argv: list[str]) -> str:
        cause = argv[1] if len(argv) > 1 else "NORMAL_CLEARING"
        gevent.spawn(self._hangup, ch, cause)
        return "+OK\n"

    def _api_uuid_answer(self, ch: FakeChannel, argv: list[str]) -> str:
        self._answer(ch)
        return "+OK\n"

    def _api_uuid_pre_answer(self, ch: FakeChannel, argv: list[str]) -> str:
        if not ch.progress_media_us:
            ch.progress_media_us = self._now_us()
            ch.callstate, ch.answer_state = "EARLY", "early"
            self._channel_event("CHANNEL_PROGRESS_MEDIA", ch)
        return "+OK\n"

    def _api_uuid_bridge(self, ch: FakeChannel, argv: list[str]) -> str:
        other = self.channels.get(argv[1]) if len(argv) > 1 else None
        if other is None:
            return "-ERR Invalid uuid\n"
        for leg in (ch, other):
            if leg.owned_by_originate:
                leg.taken_from_originate = True

        def run() -> None:
            self._unpark(ch)
            self._unpark(other)
            ch.other_uuid, other.other_uuid = other.uuid, ch.uuid
            ch.bridged_us = other.bridged_us = self._now_us()
            ch.application, ch.application_data = "uuid_bridge", other.uuid
            other.application, other.application_data = "uuid_bridge", ch.uuid
            for a, b in ((ch, other), (other, ch)):
                for name in ("bridge_uuid", "bridge_to", "signal_bond", "last_bridge_to"):
                    a.variables[name] = b.uuid
            self._channel_event(
                "CHANNEL_BRIDGE",
                ch,
                pre={"Bridge-A-Unique-ID": ch.uuid, "Bridge-B-Unique-ID": other.uuid},
                calling=("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "0"),
            )

        gevent.spawn(run)
        return f"+OK {other.uuid}\n"

    def _api_uuid_broadcast(self, ch: FakeChannel, argv: list[str]) -> str:
        if len(argv) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        ch.application, ch.application_data, ch.current_app = "playback", argv[1], "playback"
        self._channel_event("PLAYBACK_START", ch, post={"Playback-File-Path": argv[1]})
        return "+OK Message sent\n"

    def _api_uuid_break(self, ch: FakeChannel, argv: list[str]) -> str:
        if ch.application == "playback":
            self._channel_event("PLAYBACK_STOP", ch, post={"Playback-File-Path": ch.application_data})
            ch.application = "park" if ch.parked else ""
        return "+OK\n"

    def _api_uuid_hold(self, ch: FakeChannel, argv: list[str]) -> str:
        off = argv[0] == "off"
        ch.held = not off
        ch.callstate = "ACTIVE" if off else "HELD"
        self._channel_event("CHANNEL_UNHOLD" if off else "CHANNEL_HOLD", ch)
        return "+OK Success\n"

    def _api_uuid_transfer(self, ch: FakeChannel, argv: list[str]) -> str:
        rest = argv[1:]
        if rest and rest[0] in ("-bleg", "-both"):
            rest = rest[1:]
        if not rest:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        if ch.owned_by_originate:
            ch.taken_from_originate = True

        def run() -> None:
            other = self.channels.get(ch.other_uuid or "")
            if other is not None:
                self._channel_event(
                    "CHANNEL_UNBRIDGE", ch, pre={"Bridge-A-Unique-ID": ch.uuid, "Bridge-B-Unique-ID": other.uuid}
                )
                ch.other_uuid = other.other_uuid = None
                self._hangup(other, "NORMAL_CLEARING")
            ch.destination = rest[0]
            if len(rest) > 2:
                ch.context = rest[2]
            self._park(ch)

        gevent.spawn(run)
        return "+OK\n"

    def _api_uuid_setvar(self, ch: FakeChannel, argv: list[str]) -> str:
        if len(argv) == 3:
            ch.variables[argv[1]] = argv[2]
        elif len(argv) == 2:
            ch.variables.pop(argv[1], None)
        return "+OK\n"

    def _api_uuid_setvar_multi(self, ch: FakeChannel, argv: list[str]) -> str:
        for item in fs_separate(argv[1] if len(argv) > 1 else "", ";", 64):
            name, _, value = item.partition("=")
            if name:
                ch.variables[name] = value
        return "+OK\n"

    def _api_uuid_getvar(self, ch: FakeChannel, argv: list[str]) -> str:
        return ch.variables.get(argv[1], "_undef_") if len(argv) > 1 else "-USAGE: <uuid> <var>\n"

    def _api_uuid_recv_dtmf(self, ch: FakeChannel, argv: list[str]) -> str:
        digits = argv[1] if len(argv) > 1 else ""
        for d in digits:
            if d not in "wW":
                self._channel_event(
                    "DTMF",
                    ch,
                    post={"DTMF-Digit": d, "DTMF-Duration": "2000", "DTMF-Source": "APP"},
                    calling=("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
                )
        return f"+OK {ch.uuid} received DTMF {digits}.\n"

    def _api_uuid_send_dtmf(self, ch: FakeChannel, argv: list[str]) -> str:
        return f"+OK {ch.uuid} sent DTMF {argv[1] if len(argv) > 1 else ''}.\n"

    def _api_uuid_record(self, ch: FakeChannel, argv: list[str]) -> str:
        return "+OK Success\n"

    def _api_uuid_dump(self, ch: FakeChannel, argv: list[str]) -> str:
        h = self._common("CHANNEL_DATA", ("mod_commands.c", "uuid_dump_function", "6468"))
        h.update(channel_headers(ch, self.channels.get(ch.other_uuid or "")))
        if len(argv) > 1 and argv[1] == "json":
            return json.dumps(h, ensure_ascii=False, separators=(",", ":"))
        return "".join(f"{k}: {esl_wire.url_encode(v)}\n" for k, v in h.items())

    def _status(self) -> str:
        up_ms = int((time.time() - self._started_at) * 1000)
        n = len(self.channels)
        return (
            f"UP {uptime(up_ms)}\n"
            f"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"
            f"{self._sessions_since_start} session(s) since startup\n"
            f"{n} session(s) - peak {n}, last 5min {n} \n"
            f"0 session(s) per Sec out of max 30, peak 1, last 5min 1 \n"
            "1000 session(s) max\nmin idle cpu 0.00/98.00\nCurrent Stack Size/Max 240K/8192K\n"
        )

    # -- connection handling ----------------------------------------------------------------------------
    def _reply(self, c: Listener, data: bytes) -> None:
        if not self._silent:
            c.send(data)

    def _handle(self, sock: gevent.socket.socket, addr: object) -> None:
        # mod_event_socket sets TCP_NODELAY on accepted sockets; without it each small reply
        # waits behind the client's delayed ACK (~40 ms).
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        c = Listener(sock)
        if self._reject:
            body = b"Access Denied, go away.\n"
            c.send(esl_wire.frame([("Content-Type", "text/rude-rejection"), ("Content-Length", str(len(body)))], body))
            c.close()
            return
        self._clients.append(c)
        c.send(esl_wire.frame([("Content-Type", "auth/request")]))
        try:
            for line, header_lines in read_commands(sock, c):
                self._command(c, line, header_lines)
        except OSError:
            pass
        finally:
            c.close()
            if c in self._clients:
                self._clients.remove(c)

    def _command(self, c: Listener, line: str, header_lines: list[str]) -> None:
        self.commands.append(line)
        self._command_arrived.set()
        for hook in self.on_command:
            hook(line)
        headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in header_lines)}
        verb, _, rest = line.partition(" ")
        if not c.authed:
            if verb == "auth" and rest == self.password:
                c.authed = True
                self._reply(c, esl_wire.command_reply("+OK accepted"))
            else:
                self._reply(c, esl_wire.command_reply("-ERR invalid"))
                c.close()
            return
        if verb == "event":
            self._reply(c, c.subscribe(rest))
        elif verb == "filter":
            self._reply(c, c.add_filter(rest))
        elif verb == "noevents":
            self._reply(c, c.stop_events())
        elif verb == "api":
            self._reply(c, esl_wire.api_response(self._run_api(rest)))
        elif verb == "bgapi":
            job = headers.get("job-uuid") or str(uuidlib.uuid4())
            self._reply(c, esl_wire.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
            gevent.spawn(self._bgapi, c, rest, job)
        elif verb == "exit":
            self._reply(c, esl_wire.command_reply("+OK bye"))
            c.send(esl_wire.disconnect_notice())
            c.close()
        else:
            self._reply(c, esl_wire.command_reply("-ERR command not found"))
