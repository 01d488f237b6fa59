"""Give every record of a table written before the sharded time index its shard (`dayShard`).

The migration's one data step (docs/deploy.md, "Migrating to the sharded time index"): records
written by an older version have a receivedDay but no dayShard, so the sharded index would not list
them. A parallel Scan finds them (a filter keeps only records without a shard) and one conditional
UpdateItem each sets it, as the store would have written it:

* idempotent: the condition `attribute_not_exists(dayShard)` never rewrites a shard, and an item
  that expired or was deleted meanwhile is not recreated (`attribute_exists` on the key);
* resumable: after each page a checkpoint (each segment's last key) is kept in the table itself, in
  an item with no receivedDay (never listed, tallied or exported); a run that finds an unfinished
  pass resumes it, a run after a finished pass starts a new one (which then updates nothing);
* it adds no item and removes none, and changes no attribute but dayShard.

The repair after a failed stream batch (docs/deploy.md, "Index consumer failures") bounds it
to a window of receivedAt: in stream mode every record of the hot window lacks a dayShard, and
only the failed batch's minutes need one. The Scan still reads the whole table (a Scan filter
saves no read units); it writes only the window's records. The checkpoint keeps the window: a run
for another window than an unfinished pass's is refused (`OtherPassUnfinished`) rather than
starting anew, since forgetting that pass would leave its records unlisted with no alarm left to
say so (the batch's message leaves the failure queue once the repair is done).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from collector.aws import open_client
from collector.clock import iso_millis
from collector.store.dynamodb import PARALLEL_QUERIES, _bounded, decode_item, encode_item
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE, day_shard

CHECKPOINT_KEY = "migration:backfill-shards"
SEGMENTS = 4  # parallel Scan segments: the table's partitions are read this many at a time
PAGE_ITEMS = 1000  # items a Scan page evaluates: the checkpoint's granularity


class Window(NamedTuple):
    """receivedAt bounds, both included, as the table stores them (`iso_millis`)."""

    since: str
    until: str

    @classmethod
    def of(cls, since: datetime, until: datetime) -> Window:
        return cls(iso_millis(since), iso_millis(until))

    def __str__(self) -> str:
        return f"--since {self.since} --until {self.until}"


class OtherPassUnfinished(Exception):
    """An unfinished pass of another window (or of none) holds the checkpoint."""

    def __init__(self, window: Window | None, started_at: str) -> None:
        self.window, self.started_at = window, started_at
        over = f"receivedAt {window.since} .. {window.until}" if window else "the whole table"
        again = f"with {window}" if window else "without --since/--until"
        super().__init__(
            f"an unfinished pass over {over} (started {started_at}) holds the checkpoint: finish it"
            f" first (run again {again}), or its records stay unlisted"
        )


@dataclass
class Backfill:
    """What one run did; `complete` when every segment reached the end of the table."""

    updated: int = 0
    scanned: int = 0
    gone: int = 0  # matched by the scan, then expired, deleted or given a shard before the update
    resumed: bool = False
    complete: bool = False
    started_at: str = ""
    positions: dict[str, str | None] = field(default_factory=dict)
    window: Window | None = None  # None: every record without a shard (the migration)


async def backfill_shards(
    table: str,
    *,
    session: Any = None,
    segments: int = SEGMENTS,
    max_pages: int | None = None,
    page_items: int = PAGE_ITEMS,
    window: Window | None = None,
) -> Backfill:
    """Run or resume a pass. `max_pages` stops after that many Scan pages in all (the next run
    resumes there): a long backfill can be spread over several sessions. `window` limits the
    updates to records received in it; raises OtherPassUnfinished before any write when an
    unfinished pass of another window holds the checkpoint."""
    async with contextlib.AsyncExitStack() as stack:
        client = await open_client("dynamodb", stack, session)
        result = await _load(client, table, segments, window)
        budget = [max_pages]
        lock = asyncio.Lock()
        await asyncio.gather(
            *(
                _segment(client, table, int(segment), result, budget, lock, page_items)
                for segment in sorted(result.positions, key=int)
                if result.positions[segment] != DONE
            )
        )
        result.complete = all(p == DONE for p in result.positions.values())
        await _save(client, table, result)
        return result


DONE = "\x00done"  # a segment's position once it has read its last page (no record key is this)


async def _load(client: Any, table: str, segments: int, window: Window | None) -> Backfill:
    key = {AUDIT_TABLE.partition_key: {"S": CHECKPOINT_KEY}}
    raw = (await client.get_item(TableName=table, Key=key, ConsistentRead=True)).get("Item")
    saved = decode_item(raw) if raw else {}
    if saved and not saved.get("complete"):
        started = str(saved.get("startedAt"))
        # A checkpoint of an earlier version has no window: it was the migration's, unbounded.
        bounds = (saved.get("since"), saved.get("until"))
        held = Window(str(bounds[0]), str(bounds[1])) if None not in bounds else None
        if held != window:
            raise OtherPassUnfinished(held, started)
        positions = {str(k): v for k, v in dict(saved.get("positions") or {}).items()}
        return Backfill(resumed=True, started_at=started, positions=positions, window=window)
    now = iso_millis(datetime.now(UTC))
    return Backfill(started_at=now, positions={str(n): None for n in range(segments)}, window=window)


async def _save(client: Any, table: str, result: Backfill) -> None:
    item = {
        AUDIT_TABLE.partition_key: CHECKPOINT_KEY,
        "startedAt": result.started_at,
        "positions": result.positions,
        "complete": result.complete,
        "since": result.window.since if result.window else None,  # None: not stored
        "until": result.window.until if result.window else None,
    }
    await client.put_item(TableName=table, Item=encode_item(item))


async def _segment(
    client: Any,
    table: str,
    segment: int,
    result: Backfill,
    budget: list[int | None],
    lock: asyncio.Lock,
    page_items: int,
) -> None:
    key = AUDIT_TABLE.partition_key
    request: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": len(result.positions),
        "Limit": page_items,
        "ConsistentRead": True,
        "ProjectionExpression": "#k, #d",
        "FilterExpression": "attribute_exists(#d) AND attribute_not_exists(#s)",
        "ExpressionAttributeNames": {"#k": key, "#d": "receivedDay", "#s": SHARD_ATTRIBUTE},
    }
    if result.window is not None:
        request["FilterExpression"] += " AND #r BETWEEN :since AND :until"
        request["ExpressionAttributeNames"]["#r"] = "receivedAt"
        request["ExpressionAttributeValues"] = {
            ":since": {"S": result.window.since},
            ":until": {"S": result.window.until},
        }
    while True:
        async with lock:
            if budget[0] is not None:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
        position = result.positions[str(segment)]
        if position is not None:
            request["ExclusiveStartKey"] = {key: {"S": position}}
        page = await client.scan(**request)
        found = [decode_item(raw) for raw in page.get("Items", [])]
        done = await _bounded(
            (_give_shard(client, table, str(item[key]), str(item["receivedDay"])) for item in found),
            PARALLEL_QUERIES,
        )
        last = page.get("LastEvaluatedKey")
        async with lock:
            result.scanned += int(page.get("ScannedCount", 0))
            result.updated += sum(done)
            result.gone += len(done) - sum(done)
            result.positions[str(segment)] = DONE if last is None else str(last[key]["S"])
            await _save(client, table, result)
        if last is None:
            return


async def _give_shard(client: Any, table: str, key: str, day: str) -> bool:
    """True if this call set the shard; False if the item is gone or already had one."""
    from botocore.exceptions import ClientError

    try:
        await client.update_item(
            TableName=table,
            Key={AUDIT_TABLE.partition_key: {"S": key}},
            UpdateExpression="SET #s = :s",
            ConditionExpression="attribute_exists(#k) AND attribute_not_exists(#s)",
            ExpressionAttributeNames={"#k": AUDIT_TABLE.partition_key, "#s": SHARD_ATTRIBUTE},
            ExpressionAttributeValues={":s": {"S": day_shard(day, key)}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
