"""The audit table's shape, defined once: `table create` and the CDK stack both read it.

One global secondary index, the time index: every item appears in it once more, so a new record
costs the table's write units plus the index's (one more unit, since the index item stays under
1 KB), and the index stores only the keys and the few attributes the readers need, not the whole
record. Lookups by sender or message ID are queries of the time index with a filter, DAY_SHARDS
partitions per UTC day (see collector/store/dynamodb.py for what they read).

The time index's partition key is the UTC day plus a shard number derived from the record's key
(`dayShard`, "2026-11-20#3"), so a day's writes spread over DAY_SHARDS partitions instead of
piling onto one (docs/costs.md, "Hot partition"). The DynamoDB store adds it to each record in the
one conditional PutItem and takes it off what it returns; a redelivery has the same key, so the
same shard.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str
    projection: tuple[str, ...] | None = None  # non-key attributes the index keeps; None: all of them

    def projection_request(self) -> dict[str, Any]:
        if self.projection is None:
            return {"ProjectionType": "ALL"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.projection)}


@dataclass(frozen=True)
class TableSpec:
    partition_key: str
    ttl_attribute: str
    indexes: tuple[IndexSpec, ...]

    def index(self, name: str) -> IndexSpec:
        return next(i for i in self.indexes if i.name == name)

    def with_legacy(self, names: tuple[str, ...], *, current: bool = True) -> TableSpec:
        """This table plus the named legacy indexes, legacy first, as the old stack listed them;
        without its own indexes when `current` is False (the first deploy of a migration).

        A deployed table keeps them until its migration removes them one deploy at a time
        (docs/deploy.md, "Migrating a table that has the three old indexes" and "Migrating to the
        sharded time index").
        """
        unknown = [n for n in names if n not in LEGACY_INDEX_NAMES]
        if unknown:
            raise ValueError(
                f"not legacy indexes: {', '.join(unknown)}; known: {', '.join(LEGACY_INDEX_NAMES)}"
            )
        legacy = tuple(i for i in LEGACY_INDEXES if i.name in names)
        return replace(self, indexes=legacy + (self.indexes if current else ()))

    def attribute_definitions(self) -> list[dict[str, str]]:
        names = [self.partition_key]
        for index in self.indexes:
            names += [n for n in (index.partition_key, index.sort_key) if n not in names]
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """CreateTable parameters (on-demand, with the stream the stack's table has), as the SDK
        takes them."""
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": self.partition_key, "KeyType": "HASH"}],
            "AttributeDefinitions": self.attribute_definitions(),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": i.name,
                    "KeySchema": [
                        {"AttributeName": i.partition_key, "KeyType": "HASH"},
                        {"AttributeName": i.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": i.projection_request(),
                }
                for i in self.indexes
            ],
            # The index consumer pages records from it (collector/store/pages.py), as on the stack.
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }


BY_DAY_SHARD = "byDayShard"
BY_RECEIVED_DAY = "byReceivedDay"  # the time index before it was sharded: one partition a day
SHARD_ATTRIBUTE = "dayShard"
# A day's records spread over this many partition keys of the time index. One partition accepts
# 1,000 write units a second; with office-hours traffic one key per day reached that at about 34
# million messages a day, so 8 keys put the ceiling near 270 million (docs/costs.md, "Hot
# partition"; bench/bill.py prints it). Every day read costs this many queries; changing it
# needs a migration (the shard of a stored record is fixed).
DAY_SHARDS = 8
# How the hot path keeps the time index (COLLECTOR_TIME_INDEX): `record` gives each record its
# dayShard, so the index lists it (one more write unit); `stream` writes none, and the index
# consumer pages the record from the table's stream (collector/store/pages.py). Readers list both.
TIME_INDEX_MODES = ("record", "stream")
# What `audit list`, the sender and message-ID filters and `reconcile`'s per-day tally read (an SES
# record's eventType tells a message from a delivery or bounce; WorkMail records have none), so
# they never need the whole record; `--json` fetches whole records by key (BatchGetItem).
TIME_INDEX_ATTRIBUTES = (
    "status",
    "source",
    "direction",
    "eventType",
    "messageId",
    "sender",
    "recipientCount",
)

AUDIT_TABLE = TableSpec(
    partition_key="invocationId",
    ttl_attribute="expiresAt",
    indexes=(IndexSpec(BY_DAY_SHARD, SHARD_ATTRIBUTE, "receivedAt", TIME_INDEX_ATTRIBUTES),),
)
TIME_INDEX = AUDIT_TABLE.index(BY_DAY_SHARD)
# The time index of tables deployed before it was sharded (commit d897ff8 and earlier). Every record
# keeps its receivedDay, so while a table still has this index it lists every record: readers use it
# until the sharded index is ACTIVE (docs/deploy.md, "Migrating to the sharded time index").
UNSHARDED_TIME_INDEX = IndexSpec(BY_RECEIVED_DAY, "receivedDay", "receivedAt", TIME_INDEX_ATTRIBUTES)

# The indexes of tables deployed before the time index (commit 5a284cb and earlier): three copies of
# every record (ALL projection), and then the unsharded time index. Kept only so an existing stack
# can drop them one deploy at a time: CloudFormation adds or deletes at most one global secondary
# index per stack update.
ORIGINAL_INDEXES = (
    IndexSpec("byMessageId", "messageId", "receivedAt"),
    IndexSpec("bySender", "sender", "receivedAt"),
    IndexSpec("byDay", "receivedDay", "receivedAt"),
)
LEGACY_INDEXES = (*ORIGINAL_INDEXES, UNSHARDED_TIME_INDEX)
LEGACY_INDEX_NAMES = tuple(i.name for i in LEGACY_INDEXES)


def shard_of(key: str) -> int:
    """A record key's shard: CRC-32 (stable across processes and versions, unlike hash())."""
    return zlib.crc32(key.encode("utf-8")) % DAY_SHARDS


def day_shard(day: str, key: str) -> str:
    return f"{day}#{shard_of(key)}"


def day_shards(day: str) -> list[str]:
    """Every time-index partition key of one UTC day."""
    return [f"{day}#{n}" for n in range(DAY_SHARDS)]
