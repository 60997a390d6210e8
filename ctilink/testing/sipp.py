"""Real SIP parties for tests and benchmarks against a real FreeSWITCH: SIPp user agents.

SIPp (Debian's ``sip-tester``) plays both sides on 127.0.0.1:
- callers: a UAC that dials ``destination`` on FreeSWITCH's ``external`` profile (port 5080, no
  authentication, context ``public``) with a caller id from a list, waits for the 200 OK, stays
  ``talk_s`` seconds and hangs up (BYE). A caller FreeSWITCH hangs up first is a failed SIPp call;
  what happened is read from the switch's events, not from SIPp;
- agents: a UAS per behaviour on its own port. ``answer`` rings (180) for ``answer_delay_s`` then
  answers and waits for the switch's BYE; ``busy`` refuses with 486; ``no-answer`` rings until the
  switch cancels. Any request-URI user reaches it, so agents ``aNN`` dial
  ``sofia/external/aNN@127.0.0.1:<port>``.

No media is sent (RTP is not what is under test); FreeSWITCH's stock profiles do not time out on
silence. Every process is started in its own folder and stopped (SIGTERM, then SIGKILL) on stop().
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["AGENT_PORTS", "SippParties", "available"]

#: UAS port per agent behaviour.
AGENT_PORTS = {"answer": 5090, "busy": 5091, "no-answer": 5092}

_CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ctilink caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""

_AGENT_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ctilink agent {kind}">
  <recv request="INVITE" crlf="true"/>
"""
_REPLY = """  <send>
    <![CDATA[
      SIP/2.0 {code}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      {extra}Content-Length: {length}
{body}
    ]]>
  </send>
"""
_SDP = """
      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000"""


def _agent_scenario(kind: str, answer_delay_ms: int) -> str:
    parts = [_AGENT_HEAD.format(kind=kind)]
    if kind == "busy":
        parts.append(_REPLY.format(code="486 Busy Here", extra="", length="0", body=""))
        parts.append('  <recv request="ACK"/>\n')
    elif kind == "no-answer":
        parts.append(_REPLY.format(code="180 Ringing", extra="", length="0", body=""))
        parts.append('  <recv request="CANCEL"/>\n')
        parts.append(_REPLY.format(code="200 OK", extra="", length="0", body=""))
    else:
        parts.append(_REPLY.format(code="180 Ringing", extra="", length="0", body=""))
        parts.append(f'  <pause milliseconds="{answer_delay_ms}"/>\n')
        parts.append(
            _REPLY.format(code="200 OK", extra="Content-Type: application/sdp\n      ", length="[len]", body=_SDP)
        )
        parts.append('  <recv request="ACK" rtd="true" crlf="true"/>\n')
        parts.append('  <recv request="BYE"/>\n')
        parts.append(_REPLY.format(code="200 OK", extra="", length="0", body=""))
    parts.append("</scenario>\n")
    return "".join(parts)


def available() -> bool:
    """Is SIPp installed (``apt-get install sip-tester``)?"""
    return shutil.which("sipp") is not None


class SippParties:
    """SIPp callers and agents around a FreeSWITCH on 127.0.0.1 (see the module docstring)."""

    def __init__(self, folder: str | Path, *, answer_delay_s: float = 0.5, switch_port: int = 5080) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.answer_delay_s = answer_delay_s
        self.switch_port = switch_port
        self.procs: list[subprocess.Popen[bytes]] = []
        self._callers = 0

    def _write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text)
        return path

    def _spawn(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["sipp", *args, "-nostdin", "-trace_err", "-nd"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def start_agents(self, kinds: Sequence[str] = ("answer",)) -> None:
        """A UAS per behaviour, each on its AGENT_PORTS port."""
        for kind in kinds:
            scenario = self._write(f"agent-{kind}.xml", _agent_scenario(kind, int(self.answer_delay_s * 1000)))
            self._spawn(["-sf", str(scenario), "-i", "127.0.0.1", "-p", str(AGENT_PORTS[kind]), "-m", "1000000"])

    def call(
        self,
        *,
        calls: int,
        cps: float,
        talk_s: float,
        numbers: Sequence[str] | None = None,
        destination: str = "7000",
    ) -> subprocess.Popen[bytes]:
        """Start ``calls`` callers at ``cps``; returns the SIPp process (it exits when all are done)."""
        self._callers += 1
        tag = self._callers
        ids = list(numbers) if numbers else [f"1555010{i:04d}" for i in range(calls)]
        inf = self._write(f"callers-{tag}.csv", "SEQUENTIAL\n" + "".join(f"{n};\n" for n in ids))
        scenario = self._write("caller.xml", _CALLER)
        rate_per_s = max(1, round(cps * 1000))
        return self._spawn(
            [
                f"127.0.0.1:{self.switch_port}",
                "-sf",
                str(scenario),
                "-inf",
                str(inf),
                "-s",
                destination,
                "-i",
                "127.0.0.1",
                "-p",
                str(5100 + tag),
                "-m",
                str(calls),
                "-r",
                str(rate_per_s),
                "-rp",
                "1000000",  # cps * 1000 calls per 1,000,000 ms: fractional rates too
                "-d",
                str(int(talk_s * 1000)),
                "-timeout",
                str(int(calls / cps + talk_s + 120)),
            ]
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.procs.clear()
