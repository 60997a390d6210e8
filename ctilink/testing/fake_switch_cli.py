"""Run a fake FreeSWITCH in its own process (for benches): ``python -m ctilink.testing.fake_switch_cli``."""

from __future__ import annotations

import gevent

from ctilink.testing.fake_switch import FakeSwitch


def main(argv: list[str] | None = None) -> None:
    """Run a fake switch in its own process (for benches): ``--port``, ``--heartbeat``."""
    import argparse

    parser = argparse.ArgumentParser(description="fake FreeSWITCH ESL server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--heartbeat", type=float, default=20.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    ns = parser.parse_args(argv)
    srv = FakeSwitch(
        password=ns.password,
        host=ns.host,
        port=ns.port,
        heartbeat_interval=ns.heartbeat or None,
        time_scale=ns.time_scale,
    )
    srv.start()
    print(f"fake switch listening on {srv.host}:{srv.port}", flush=True)
    gevent.wait()


if __name__ == "__main__":
    main()
