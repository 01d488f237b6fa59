"""`table create`: the DynamoDB audit table with exactly the CDK stack's keys, indexes and TTL."""

from __future__ import annotations

import argparse

from collector.config import Settings


async def table(args: argparse.Namespace, settings: Settings) -> int:
    from collector.store.dynamodb import create_table

    description = await create_table(settings.table_name)
    indexes = ", ".join(i["IndexName"] for i in description.get("GlobalSecondaryIndexes", []))
    print(f"created {description['TableName']} ({description['TableStatus']}); indexes: {indexes}")
    return 0
