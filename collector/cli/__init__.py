"""The command line only: replay events through the Lambda's pipeline, generate events, read the trail.

One module per command group (replay, generate, audit, table); this one parses and dispatches.
User mistakes (a bad flag or setting, a missing file, database or table, no region) end in one line
on stderr and exit code 2; store and network failures in one line and exit code 1; never a
traceback. A reader that stops reading (`| head`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from collector import __version__
from collector.cli.audit import MAX_DAYS, MAX_LIMIT, add_filter_options, audit
from collector.cli.common import Parser, at_least, explain, quiet_closed_stdout, settings_from, store_options
from collector.cli.dashboard import add_parser as add_dashboard_parser
from collector.cli.dashboard import dashboard
from collector.cli.export import add_parser as add_export_parser
from collector.cli.export import export
from collector.cli.generate import add_ses_options, generate
from collector.cli.history import add_trail_options
from collector.cli.purge import add_parser as add_purge_parser
from collector.cli.purge import purge_invalid
from collector.cli.reconcile import add_parser as add_reconcile_parser
from collector.cli.reconcile import reconcile
from collector.cli.replay import replay
from collector.cli.sql import add_parser as add_sql_parser
from collector.cli.sql import sql
from collector.cli.table import add_backfill_parser, table
from collector.cli.trace import add_parser as add_trace_parser
from collector.cli.trace import trace
from collector.config import Settings

log = logging.getLogger("workmail_collector")


def parser() -> argparse.ArgumentParser:
    root = Parser(
        prog="workmail-collector",
        description="Replay Amazon WorkMail and Amazon SES events through the collector, read its audit"
        " trail, and reconcile its metrics.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("replay", help="run events through the same pipeline as the Lambda handler")
    p.add_argument("paths", nargs="+", help="JSON or JSON Lines files, folders, or - for stdin")
    p.add_argument("--emf-out", help="append EMF documents to this file instead of stdout")
    p.add_argument("--concurrency", type=at_least(1), default=1, help="events in flight at once (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true", help="say what would be recorded; write nothing")
    store_options(p)

    p = commands.add_parser(
        "generate-event",
        help="print valid WorkMail or SES events (JSON, or JSON Lines for -n>1)",
        description="Print valid Amazon WorkMail Run Lambda events, or with --source ses Amazon SES"
        " events (receipts, or sending events as SNS or EventBridge deliver them).",
    )
    p.add_argument(
        "--direction",
        choices=("INBOUND", "OUTBOUND"),
        help="WorkMail: flowDirection of the events (default INBOUND)",
    )
    p.add_argument("--recipients", type=at_least(0), default=2, help="recipients per event (default 2)")
    p.add_argument("--truncated", action="store_true", help="WorkMail: set truncated: true")
    p.add_argument(
        "-n",
        "--count",
        type=at_least(1),
        default=1,
        help="number of events, unique invocationIds (default 1)",
    )
    p.add_argument(
        "--layout",
        choices=("envelope", "flat"),
        help="WorkMail: envelope (default): addresses under `envelope` (WorkMail today); flat: the older"
        " top-level fields",
    )
    p.add_argument(
        "--id-length",
        type=int,
        choices=(32, 40),
        help="WorkMail: hex characters in each invocationId: 32 or 40, both seen from WorkMail (default 32)",
    )
    p.add_argument("--seed", type=int, help="make the output reproducible")
    p.add_argument("--jsonl", action="store_true", help="JSON Lines even for one event")
    add_ses_options(p)

    p = commands.add_parser("audit", help="read the audit trail")
    audit_commands = p.add_subparsers(dest="audit_command", required=True)
    for name, help_text in (
        ("list", "recent records, newest first"),
        ("query", "records by messageId, sender or time range"),
        ("get", "one record by invocationId"),
    ):
        a = audit_commands.add_parser(name, help=help_text)
        store_options(a)
        a.add_argument("--json", action="store_true", help="JSON Lines, every attribute")
        if name == "get":
            a.add_argument("invocation_id")
            continue
        a.add_argument("--since", help="ISO 8601 start (UTC if no offset)")
        a.add_argument("--until", help="ISO 8601 end")
        add_trail_options(a)
        a.add_argument(
            "--limit",
            type=at_least(1, most=MAX_LIMIT),
            default=50,
            help="show at most this many records, newest first (default 50)",
        )
        add_filter_options(a)
        if name == "list":
            a.add_argument(
                "--days",
                type=at_least(1, most=MAX_DAYS),
                default=7,
                help=f"look back this many days (default 7, at most {MAX_DAYS})",
            )
        else:
            a.add_argument("--message-id", help="WorkMail's messageId")
            a.add_argument("--sender", help="an address; hashed first when redaction is on")

    add_purge_parser(audit_commands)

    p = commands.add_parser("table", help="manage the DynamoDB audit table")
    table_commands = p.add_subparsers(dest="table_command", required=True)
    t = table_commands.add_parser("create", help="create it with the CDK stack's keys, indexes and TTL")
    store_options(t, sqlite=False)
    add_backfill_parser(table_commands)

    add_reconcile_parser(commands)
    add_dashboard_parser(commands)
    add_trace_parser(commands)
    add_export_parser(commands)
    add_sql_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    settings: Settings | None = None
    try:
        if args.command == "generate-event":
            return generate(args)
        if args.command == "dashboard":
            return dashboard(args)
        if args.command == "sql":
            return sql(args)
        settings = settings_from(args, force_dynamodb=args.command == "table")
        log.setLevel(settings.log_level)
        if args.command == "replay":
            return asyncio.run(replay(args, settings))
        if args.command == "audit" and args.audit_command == "purge-invalid":
            return asyncio.run(purge_invalid(args, settings))
        if args.command == "audit":
            return asyncio.run(audit(args, settings))
        if args.command == "reconcile":
            return asyncio.run(reconcile(args, settings))
        if args.command == "trace":
            return asyncio.run(trace(args, settings))
        if args.command == "export":
            return asyncio.run(export(args, settings))
        return asyncio.run(table(args, settings))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of stdout stopped (`| head`): nothing left to say
        quiet_closed_stdout()
        return 0
    except Exception as error:
        known = explain(error, settings)
        message, code = known or (f"{type(error).__name__}: {error}", 1)
        print(f"workmail-collector: {message}", file=sys.stderr)
        return code
