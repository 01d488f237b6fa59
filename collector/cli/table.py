"""`table create`: the DynamoDB audit table with exactly the CDK stack's keys, indexes and TTL.
`table backfill-shards`: the migration's data step, each older record's time-index shard; with
--since/--until, the repair of a failed index-consumer batch (only that window's records)."""

from __future__ import annotations

import argparse
from datetime import datetime

from collector.cli.common import Parser, UserError, at_least, store_options
from collector.config import Settings


def add_backfill_parser(table_commands: argparse._SubParsersAction[Parser]) -> None:
    b = table_commands.add_parser(
        "backfill-shards",
        help="give records written before the sharded time index their shard (resumable, idempotent)",
        description="Give every record written by an older version its time-index shard, so the "
        "sharded index lists it (docs/deploy.md, 'Migrating to the sharded time index'). Resumes an "
        "unfinished pass; after a finished one, starts anew (and then updates nothing). With "
        "--since and --until, only records received in that window (the repair after "
        "a failed index-consumer batch, docs/deploy.md 'Index consumer failures'; replay prints the "
        "window): the scan still reads the whole table, the updates "
        "write only the window's records. An unfinished pass of another window (or of none) is "
        "refused until it is finished.",
    )
    store_options(b, sqlite=False)
    b.add_argument(
        "--max-pages",
        type=at_least(1),
        help="stop after this many Scan pages of 1,000 items (the next run resumes there)",
    )
    b.add_argument(
        "--since",
        help="only records received at or after this ISO 8601 time (UTC if no offset; a day alone"
        " is its 00:00); needs --until",
    )
    b.add_argument("--until", help="only records received at or before this ISO 8601 time; needs --since")


async def table(args: argparse.Namespace, settings: Settings) -> int:
    if args.table_command == "backfill-shards":
        return await backfill(args, settings)
    from collector.store.dynamodb import create_table

    description = await create_table(settings.table_name)
    indexes = ", ".join(i["IndexName"] for i in description.get("GlobalSecondaryIndexes", []))
    print(f"created {description['TableName']} ({description['TableStatus']}); indexes: {indexes}")
    return 0


def _window(args: argparse.Namespace) -> tuple[datetime, datetime] | None:
    """The flags' receivedAt window; None without them (the migration's unbounded pass)."""
    from collector.cli.audit import _when

    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    if since is None and until is None:
        return None
    if since is None or until is None:
        raise UserError("give both --since and --until (the failed batch's first and last arrival, widened)")
    if since > until:
        raise UserError(f"--since {args.since} is after --until {args.until}")
    return since, until


async def backfill(args: argparse.Namespace, settings: Settings) -> int:
    from collector.store.backfill import OtherPassUnfinished, Window, backfill_shards

    bounds = _window(args)  # mistakes first, before any I/O
    window = Window.of(*bounds) if bounds else None
    try:
        result = await backfill_shards(settings.table_name, max_pages=args.max_pages, window=window)
    except OtherPassUnfinished as error:
        raise UserError(f"{settings.table_name}: {error}") from None
    how = "resumed the pass started" if result.resumed else "pass started"
    state = "complete" if result.complete else "stopped early: run it again to resume"
    over = f" received {window.since} .. {window.until}" if window else ""
    print(
        f"{settings.table_name}: {result.updated:,} records{over} given their shard, {result.gone:,} gone or "
        f"done meanwhile, {result.scanned:,} items scanned ({how} {result.started_at}); {state}"
    )
    return 0
