"""The ``ctilink`` command line: run, demo, check-config, lists, campaign.

Every subcommand exits 0 on success, 2 on a usage or configuration error (printed with the field
path), 1 on a runtime failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ctilink.config import Config, ConfigError, load_config, masked_dump
from ctilink.config_checks import check_for_run
from ctilink.dialer.campaign import CampaignConfig
from ctilink.logs import configure_logging

if TYPE_CHECKING:
    from ctilink.store import SqliteStore


def _cooperative() -> None:
    """Make the stdlib cooperative for the long-running commands. ctilink's own sockets, HTTP and
    store writer are gevent-native already; this is for code users plug in (callbacks, CRM
    lookups) that may use blocking stdlib calls. Only the daemon commands patch, so importing
    this module (tests, embedding) never changes the host process."""
    from gevent import monkey

    monkey.patch_all(thread=False, subprocess=False)


def _load_for_run(path: str) -> Config:
    """The configuration as `ctilink run` accepts it: validated, then its engine built and every
    value that reaches FreeSWITCH rendered once (ctilink.config_checks). check-config, run and a
    SIGHUP reload all go through here, so what one refuses the others refuse."""
    config = load_config(path)
    check_for_run(config, path)
    return config


def _cmd_check_config(args: argparse.Namespace) -> int:
    try:
        config = _load_for_run(args.file)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(masked_dump(config), indent=2, sort_keys=True))
    print(
        f"{args.file}: OK ({len(config.nodes)} nodes, {len(config.queues)} queues, {len(config.agents)} agents)",
        file=sys.stderr,
    )
    context = config.engine_config().transfer_context
    print(
        f"{args.file}: transfers and overflows to an extension go to dialplan context {context!r}"
        " (engine.transfer_context); the extension must exist there",
        file=sys.stderr,
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    _cooperative()
    from ctilink.service.daemon import Daemon, run_until_signal

    try:
        config = _load_for_run(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    configure_logging(fmt=config.logging.format, level=config.logging.level, mask_numbers=config.logging.mask_numbers)
    try:
        daemon = Daemon.live(config)
    except ValueError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    daemon.config_path = args.config
    run_until_signal(daemon, reload=lambda: _load_for_run(args.config))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    _cooperative()
    from ctilink.service.demo import run_demo

    configure_logging(fmt="console" if sys.stderr.isatty() else "json", level="warning")
    try:
        summary = run_demo(
            speed=args.speed,
            duration_s=args.duration,
            seed=args.seed,
            agents=args.agents,
            http=args.http,
            metrics=args.metrics,
            progress_every_s=args.progress_every,
        )
    except ConfigError as exc:  # e.g. --http on a network address: the demo configures no tokens
        print(str(exc), file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "virtual_s",
                    "offered",
                    "answered",
                    "abandoned",
                    "service_level",
                    "asa_s",
                    "abandon_rate",
                    "occupancy",
                )
            }
        )
    )
    return 0


def _cmd_lists(args: argparse.Namespace) -> int:
    from ctilink.lists import InvalidNumberError
    from ctilink.lists.csvio import export_lists, import_lists
    from ctilink.store import SqliteStore

    store = SqliteStore(args.db)
    try:
        if args.lists_cmd == "import":
            try:
                report = import_lists(store, args.file, args.region, partial=args.partial, now=time.time())
            except (OSError, InvalidNumberError, ValueError) as exc:
                print(f"{args.file}: {exc}", file=sys.stderr)
                return 2
            for line_no, _raw, reason in report.rejected:
                print(f"{args.file}:{line_no}: rejected: {reason}", file=sys.stderr)
            applied = "applied" if report.applied else "NOT applied (fix the rows above or pass --partial)"
            print(f"{report.accepted} accepted, {len(report.rejected)} rejected; {applied}")
            return 0 if report.applied else 2
        count = export_lists(store, args.file)
        print(f"{count} entries written to {args.file}")
        return 0
    finally:
        store.close()


def _mapping(text: str) -> dict[str, str]:
    """``number=phone,contact_id=id`` -> {"number": "phone", "contact_id": "id"}."""
    out: dict[str, str] = {}
    for part in text.split(","):
        field, sep, column = part.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValueError(f"--map: expected field=column pairs separated by commas, got {part!r:.80}")
        out[field.strip()] = column.strip()
    return out


def _campaign_configs(path: str | None) -> dict[str, CampaignConfig]:
    if path is None:
        return {}
    return {c.name: c for c in load_config(path).campaigns}


def _cmd_campaign(args: argparse.Namespace) -> int:
    try:
        configured = _campaign_configs(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.campaign_cmd == "import":
        return _campaign_import(args, configured)
    return _campaign_report(args, configured)


def _campaign_import(args: argparse.Namespace, configured: dict[str, CampaignConfig]) -> int:
    from ctilink.dialer.contacts import ImportError_, import_campaign_contacts
    from ctilink.store import SqliteStore

    region = args.region or getattr(configured.get(args.campaign), "region", None) or "US"
    if configured and args.campaign not in configured:
        print(f"--campaign: {args.campaign!r} is not a campaign of {args.config}", file=sys.stderr)
        return 2
    try:
        mapping = _mapping(args.map)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    store = SqliteStore(args.db)
    try:
        report = import_campaign_contacts(store, args.campaign, args.file, mapping, region, partial=args.partial)
    except (ImportError_, ValueError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for line_no, reason in report.rejected:
        print(f"{args.file}:{line_no}: rejected: {reason}", file=sys.stderr)
    applied = "imported" if report.committed else "NOT imported (fix the rows above or pass --partial)"
    print(f"{report.rows} rows: {report.imported} contacts {applied}, {len(report.rejected)} rejected")
    return 0 if report.committed else 2


def _campaign_report(args: argparse.Namespace, configured: dict[str, CampaignConfig]) -> int:
    from ctilink.store import SqliteStore

    store = SqliteStore(args.db)
    try:
        names = sorted(set(configured) | set(args.campaign or ()))
        if not names:
            print("name the campaigns with --config FILE or --campaign NAME", file=sys.stderr)
            return 2
        rows = [_campaign_row(store, name, configured.get(name), args.campaign_cmd == "stats") for name in names]
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    finally:
        store.close()


def _campaign_row(store: SqliteStore, name: str, cfg: CampaignConfig | None, with_attempts: bool) -> dict[str, object]:
    """One campaign's contacts by status (and with ``with_attempts``, its attempts by outcome)."""
    contacts = store.get_contacts(name, limit=10_000_000)
    statuses: dict[str, int] = {}
    for contact in contacts:
        statuses[contact.status] = statuses.get(contact.status, 0) + 1
    row: dict[str, object] = {"campaign": name, "contacts": len(contacts), "by_status": statuses}
    if cfg is not None:
        row["mode"] = cfg.mode.value
        row["queue"] = cfg.queue
    if with_attempts:
        outcomes: dict[str, int] = {}
        for contact in contacts:
            for attempt in store.attempts_for(name, contact.contact_id):
                key = attempt.outcome or "in_flight"
                outcomes[key] = outcomes.get(key, 0) + 1
        live = outcomes.get("connected", 0) + outcomes.get("abandoned", 0)
        row["attempts"] = outcomes
        row["abandon_rate"] = round(outcomes.get("abandoned", 0) / live, 4) if live else 0.0
    return row


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctilink", description="CTI middleware for FreeSWITCH call centres")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon against FreeSWITCH")
    run.add_argument("-c", "--config", required=True, help="TOML configuration file")
    run.set_defaults(fn=_cmd_run)

    demo = sub.add_parser("demo", help="run the daemon on the built-in simulated switch")
    demo.add_argument("--speed", type=float, default=30.0, help="virtual seconds per real second (default 30)")
    demo.add_argument("--duration", type=float, default=0.0, help="stop after this many real seconds (0: never)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--agents", type=int, default=24)
    demo.add_argument("--http", default="127.0.0.1:8080", help="API and queue view listen address")
    demo.add_argument("--metrics", default="127.0.0.1:9464", help="Prometheus listen address")
    demo.add_argument("--progress-every", type=float, default=3.0, help="seconds between progress lines")
    demo.set_defaults(fn=_cmd_demo)

    check = sub.add_parser("check-config", help="validate a configuration file and print it resolved")
    check.add_argument("file")
    check.set_defaults(fn=_cmd_check_config)

    lists = sub.add_parser("lists", help="import or export blacklist / whitelist / do-not-call entries")
    lists_sub = lists.add_subparsers(dest="lists_cmd", required=True)
    for name in ("import", "export"):
        p = lists_sub.add_parser(name)
        p.add_argument("file")
        p.add_argument("--db", default="ctilink.db", help="SQLite store file (the daemon's store.path)")
        if name == "import":
            p.add_argument("--region", default="US", help="default region for national numbers")
            p.add_argument("--partial", action="store_true", help="apply the good rows even if some are bad")
        p.set_defaults(fn=_cmd_lists)

    campaign = sub.add_parser("campaign", help="outbound campaigns: import contacts, list, statistics")
    campaign_sub = campaign.add_subparsers(dest="campaign_cmd", required=True)
    imp = campaign_sub.add_parser("import", help="import a CSV of contacts (validated; exit 2 on rejected rows)")
    imp.add_argument("file")
    imp.add_argument("--campaign", required=True)
    imp.add_argument(
        "--map",
        required=True,
        help="field=column pairs: contact_id and number required, priority and timezone optional",
    )
    imp.add_argument("--region", default=None, help="region for national numbers (default: the campaign's, or US)")
    imp.add_argument("--partial", action="store_true", help="import the good rows even if some are bad")
    for p in (
        imp,
        campaign_sub.add_parser("list", help="campaigns and their contacts by status"),
        campaign_sub.add_parser("stats", help="contacts by status and attempts by outcome, from the store"),
    ):
        p.add_argument("--db", default="ctilink.db", help="SQLite store file (the daemon's store.path)")
        p.add_argument("-c", "--config", default=None, help="TOML configuration (its [[campaigns]])")
        if p is not imp:
            p.add_argument("--campaign", action="append", help="a campaign name (repeatable)")
        p.set_defaults(fn=_cmd_campaign)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
