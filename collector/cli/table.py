"""`table create`: the DynamoDB audit table with exactly the CDK stack's keys, indexes and TTL.
`table backfill-shards`: the migration's data step, each older record's time-index shard."""

from __future__ import annotations

import argparse

from collector.cli.common import Parser, at_least, store_options
from collector.config import Settings


def add_backfill_parser(table_commands: argparse._SubParsersAction[Parser]) -> None:
    b = table_commands.add_parser(
        "backfill-shards",
        help="give records written before the sharded time index their shard (resumable, idempotent)",
        description="Give every record written by an older version its time-index shard, so the "
        "sharded index lists it (docs/deploy.md, 'Migrating to the sharded time index'). Resumes an "
        "unfinished pass; after a finished one, starts anew (and then updates nothing).",
    )
    store_options(b, sqlite=False)
    b.add_argument(
        "--max-pages",
        type=at_least(1),
        help="stop after this many Scan pages of 1,000 items (the next run resumes there)",
    )


async def table(args: argparse.Namespace, settings: Settings) -> int:
    if args.table_command == "backfill-shards":
        return await backfill(args, settings)
    from collector.store.dynamodb import create_table

    description = await create_table(settings.table_name)
    indexes = ", ".join(i["IndexName"] for i in description.get("GlobalSecondaryIndexes", []))
    print(f"created {description['TableName']} ({description['TableStatus']}); indexes: {indexes}")
    return 0


async def backfill(args: argparse.Namespace, settings: Settings) -> int:
    from collector.store.backfill import backfill_shards

    result = await backfill_shards(settings.table_name, max_pages=args.max_pages)
    how = "resumed the pass started" if result.resumed else "pass started"
    state = "complete" if result.complete else "stopped early: run it again to resume"
    print(
        f"{settings.table_name}: {result.updated:,} records given their shard, {result.gone:,} gone or "
        f"done meanwhile, {result.scanned:,} items scanned ({how} {result.started_at}); {state}"
    )
    return 0
