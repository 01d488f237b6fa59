"""`reconcile`: per UTC day and series, the audit trail against the metric sums and WorkMail's count.

Prints the table, then the verdict (stdout; `--json` for one JSON document). Exit 0 when the
metrics equal the trail (or `--fix` corrected them) and coverage is not below `--min-coverage`,
3 when a difference remains, 2 for a usage mistake, 1 when AWS cannot be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import date, timedelta

from collector.aws import open_client
from collector.cli.common import Parser, UserError, open_for_reading, print_table, store_options
from collector.clock import parse_day, utc_now
from collector.config import (
    Settings,
    check_dimension_name,
    check_endpoint_url,
    check_min_coverage,
    normalize_organization_id,
)
from collector.jsonutil import dumps
from collector.reconcile import (
    DEFAULT_MIN_MESSAGES,
    DEFAULT_WORKMAIL_DIMENSION,
    MAX_DAYS,
    Options,
    ReconcileError,
    Report,
    check_range,
    correction_client,
)
from collector.reconcile import (
    reconcile as run_reconcile,
)
from collector.store import AuditStore
from collector.store.sqlite import SqliteStore

DIFFERENT = 3
COLUMNS = ("day", "series", "audit", "metric", "metric-audit", "workmail")


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "reconcile",
        help="compare the metrics with the audit trail and WorkMail's count, per day; --fix corrects",
        description="Per UTC day and series: the audit trail's count, the collector's metric sum "
        "(CloudWatch), and WorkMail's own count. Default range: yesterday.",
    )
    p.add_argument("--since", help="first UTC day, YYYY-MM-DD (default: yesterday)")
    p.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: yesterday, or --since)")
    p.add_argument(
        "--days", type=int, help=f"the last N complete days (ending yesterday), at most {MAX_DAYS}"
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="write correcting data points (once per observed difference; days up to two weeks old)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    p.add_argument("--namespace", help="the collector's metric namespace (COLLECTOR_NAMESPACE)")
    p.add_argument(
        "--service", help="the Service dimension: the stack name when deployed (COLLECTOR_SERVICE)"
    )
    p.add_argument(
        "--organization-id",
        default=os.environ.get("COLLECTOR_WORKMAIL_ORGANIZATION_ID"),
        help="read WorkMail's own count for this organization (m-...)",
    )
    p.add_argument(
        "--workmail-dimension",
        default=DEFAULT_WORKMAIL_DIMENSION,
        help=f"the dimension of WorkMail's metrics (default {DEFAULT_WORKMAIL_DIMENSION})",
    )
    p.add_argument(
        "--min-coverage", type=float, help="percent of WorkMail's inbound count; lower is a difference"
    )
    p.add_argument(
        "--min-messages",
        type=int,
        default=DEFAULT_MIN_MESSAGES,
        help=f"judge coverage only on days WorkMail received this many (default {DEFAULT_MIN_MESSAGES})",
    )
    p.add_argument("--cloudwatch-endpoint-url", help="CloudWatch endpoint (AWS_ENDPOINT_URL_CLOUDWATCH)")
    store_options(p)


def _day(text: str, flag: str) -> date:
    try:
        return parse_day(text)
    except ValueError:
        raise UserError(f"{flag} must be a day, YYYY-MM-DD, got {text!r}") from None


def options_from(args: argparse.Namespace, settings: Settings, today: date) -> Options:
    yesterday = today - timedelta(days=1)
    if args.days is not None:
        if args.since or args.until:
            raise UserError("give --days or --since/--until, not both")
        if not 1 <= args.days <= MAX_DAYS:  # before the date arithmetic, which a huge number overflows
            raise UserError(f"--days must be at least 1 and at most {MAX_DAYS}, got {args.days}")
        since, until = yesterday - timedelta(days=args.days - 1), yesterday
    else:
        first = _day(args.since, "--since") if args.since else None
        last = _day(args.until, "--until") if args.until else None
        since = first or last or yesterday
        until = last or max(since, yesterday)
    if args.min_coverage is not None:
        check_min_coverage(args.min_coverage, "--min-coverage")
    if args.min_messages < 0:
        raise UserError("--min-messages must be at least 0")
    options = Options(
        namespace=args.namespace or settings.namespace,
        service=args.service or settings.service,
        since=since,
        until=until,
        organization_id=normalize_organization_id(args.organization_id),
        workmail_dimension=check_dimension_name(args.workmail_dimension, "--workmail-dimension"),
        min_coverage=args.min_coverage,
        min_messages=args.min_messages,
        fix=bool(args.fix),
        retention_days=settings.retention_days,
    )
    try:
        check_range(options, today)
    except ReconcileError as error:
        raise UserError(str(error)) from None
    return options


def print_report(report: Report) -> None:
    o = report.options
    print(f"reconcile {o.since} .. {o.until} (UTC days), namespace {o.namespace}, service {o.service}")
    rows = [
        [
            r.day.isoformat(),
            r.series.label,
            str(r.audit),
            str(r.metric),
            f"{r.difference:+d}" if r.difference else "0",
            "" if r.workmail is None else f"{r.workmail} {r.workmail_counts}",
        ]
        for r in report.rows
    ]
    if rows:
        print_table(COLUMNS, rows)
    else:
        print("(no records, no metric data and no WorkMail count in this range)")
    for c in report.coverage:
        percent = "-" if c.percent is None else f"{c.percent:.1f}%"
        print(f"{c.day}  inbound coverage {percent} ({c.audit} records / {c.workmail} received by WorkMail)")
    print()
    for line in report.verdict():
        print(line)


async def _open(settings: Settings, *, write: bool) -> AuditStore:
    """Like `audit`, a local database must exist already (reads never create one); only --fix
    opens it for writing, for its ledger items."""
    reader = await open_for_reading(settings)  # StoreNotFound when a local database is missing
    if not write or settings.store != "sqlite":
        return reader
    await reader.close()
    return SqliteStore(settings.sqlite_path)


async def reconcile(args: argparse.Namespace, settings: Settings) -> int:
    options = options_from(args, settings, utc_now().date())
    if args.cloudwatch_endpoint_url:
        url = check_endpoint_url(args.cloudwatch_endpoint_url, "--cloudwatch-endpoint-url")
        os.environ["AWS_ENDPOINT_URL_CLOUDWATCH"] = url
    store = await _open(settings, write=options.fix)
    try:
        async with contextlib.AsyncExitStack() as stack:
            cloudwatch = await open_client("cloudwatch", stack)
            writer = await correction_client(stack) if options.fix else None
            report = await run_reconcile(store, cloudwatch, options, writer=writer)
    finally:
        await store.close()
    if args.json:
        sys.stdout.write(dumps(report.to_json()).decode() + "\n")
    else:
        print_report(report)
    return 0 if report.ok else DIFFERENT
