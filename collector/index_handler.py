"""The index consumer: pages the table's stream into the time index (collector/store/pages.py).

Lambda's event source mapping on the audit table's stream hands it batches of stream records
(`{"Records": [{"eventName", "dynamodb": {"ApproximateCreationDateTime", "SequenceNumber", "Keys",
"NewImage", "OldImage"}, "userIdentity"?}]}`, images in DynamoDB JSON, binary values base64). Each
record becomes the index changes `pages.changes_of` says (none for an item that is not a record,
for a page, for a deletion by TTL), the batch's changes become page items (`pages.build_pages`),
and those are written with BatchWriteItem, 25 a request. Items DynamoDB leaves unprocessed are
sent again with backoff; whatever is still left after WRITE_ATTEMPTS raises, so the event source
mapping retries the batch (bisecting it) and in the end hands it to its on-failure destination:
the records stay in the table, unlisted, until `table backfill-shards` lists them.

Writing a batch twice is harmless: a page's key is the hash of its content, so a retried batch
rewrites the same pages, and a bisected one writes entries again that readers dedupe by key.

One event loop and one DynamoDB client (and S3 client, once a late marker needs it) serve every
batch a container handles, as the collector keeps its own (collector/handler.py): a warm invocation
pays its batch's work only, not a new loop, SDK session and client (tens of milliseconds of CPU).

With COLLECTOR_TRAIL_BUCKET set, a page of a day whose trail export may already be made
(`late.needs_mark`) leaves a late marker (collector/trail/late.py) after the page is written, so
the exporter's next run, listing the marker after the page exists, reads the day again.

| variable | meaning |
|---|---|
| COLLECTOR_TABLE_NAME | the audit table the pages go to (the stream's own table) |
| COLLECTOR_TRAIL_BUCKET | optional: the trail bucket, for late markers under `late/` |
| COLLECTOR_LOG_LEVEL | as for the collector |
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import os
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from collector.aws import open_client
from collector.clock import utc_now
from collector.config import ConfigError, Settings
from collector.handler import _event_loop
from collector.model import Item
from collector.store import pages
from collector.store.dynamodb import encode_item, from_attribute
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE, TIME_INDEX_ATTRIBUTES
from collector.trail import late

log = logging.getLogger("workmail_collector")

BATCH_WRITE_ITEMS = 25  # BatchWriteItem's own limit
WRITE_ATTEMPTS = 8  # requests of one chunk, the first included, before the batch fails
BACKOFF_FIRST = 0.05  # seconds before the first resend of unprocessed items; doubles, capped
BACKOFF_MOST = 2.0
# What a deletion by TTL carries: DynamoDB's own service principal (the per-record index drops a
# record the same way, so its page entry is left to expire with its page).
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
KEY = AUDIT_TABLE.partition_key
MAX_EPOCH_SECONDS = 10**11  # an ApproximateCreationDateTime beyond this is no time
# The attributes `pages.changes_of` reads: only these are decoded from an image.
READ = (KEY, "receivedDay", "receivedAt", *TIME_INDEX_ATTRIBUTES, AUDIT_TABLE.ttl_attribute, SHARD_ATTRIBUTE)


class StreamEventError(ValueError):
    """The event is not a batch of DynamoDB stream records the consumer can page."""


@dataclass(frozen=True)
class Summary:
    records: int  # stream records in the batch
    entries: int  # page entries they make (records and tombstones)
    pages: int  # page items written
    marked: int  # late markers left

    def to_json(self) -> dict[str, int]:
        return {"records": self.records, "entries": self.entries, "pages": self.pages, "marked": self.marked}


def _value(attribute: Any) -> Any:
    """One DynamoDB JSON value as the codec decodes it, binary arriving base64 (Lambda's JSON)."""
    if isinstance(attribute, dict) and len(attribute) == 1 and isinstance(attribute.get("B"), str):
        return base64.b64decode(attribute["B"])
    return from_attribute(attribute)


def _fits(value: Any) -> bool:
    """Whether a page's JSON can hold the value: a DynamoDB number may reach 38 digits or 1e125,
    JSON entries take 64-bit integers and finite floats, and no binary."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int | float):  # a float too: an expiry becomes an integer
        return math.isfinite(value) and -(2**63) <= value < 2**63
    if isinstance(value, list):
        return all(_fits(v) for v in value)
    if isinstance(value, dict):
        return all(_fits(v) for v in value.values())
    return False


def _image(raw: Any) -> Item | None:
    """The attributes of an image the index reads, decoded; None without an image. An attribute
    of a type the audit codec does not know, or a number no page can hold (an item that is not
    ours), is left out, which makes the image no record when it is one of the three a record
    needs."""
    if not isinstance(raw, dict):
        return None
    image: Item = {}
    for name in READ:
        if name in raw:
            try:
                value = _value(raw[name])
            except (TypeError, ValueError, AttributeError):
                continue
            if _fits(value):
                image[name] = value
    return image


def _page_key(ddb: Mapping[str, Any]) -> bool:
    """Whether the stream record is of a page item (the consumer's own writes), by its key alone."""
    keys = ddb.get("Keys")
    attribute = keys.get(KEY) if isinstance(keys, dict) else None
    key = attribute.get("S") if isinstance(attribute, dict) else None
    return isinstance(key, str) and key.startswith(pages.PAGE_PREFIX)


def _version(ddb: Mapping[str, Any]) -> tuple[int, int]:
    """(ApproximateCreationDateTime in milliseconds, SequenceNumber, all of its up to 40 digits):
    a key's changes share one stream shard, in order, so the later change has the greater
    version (a page keeps the number as a string, collector/store/pages.py)."""
    at, sequence = ddb.get("ApproximateCreationDateTime"), ddb.get("SequenceNumber")
    if (
        isinstance(at, int | float)
        and not isinstance(at, bool)
        and 0 <= at < MAX_EPOCH_SECONDS
        and isinstance(sequence, str)
        and sequence.isascii()
        and sequence.isdigit()
    ):
        return int(at * 1000), int(sequence)
    raise StreamEventError(
        "a stream record of an audit record has no ApproximateCreationDateTime (seconds) and"
        f" SequenceNumber (digits): got {at!r} and {sequence!r}"
    )


def changes_of_event(event: Any) -> tuple[int, list[pages.Change]]:
    """(stream records, their index changes) of one Lambda stream event."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise StreamEventError(
            f"not a DynamoDB stream event (an object with a Records list): {orjson.dumps(event)[:200]!r}"
        )
    changes: list[pages.Change] = []
    for record in records:
        ddb = record.get("dynamodb") if isinstance(record, dict) else None
        if not isinstance(ddb, dict):
            raise StreamEventError(f"a stream record without its dynamodb object: {record!r:.200}")
        if _page_key(ddb):
            continue
        new, old = _image(ddb.get("NewImage")), _image(ddb.get("OldImage"))
        if not any(image and all(isinstance(image.get(a), str) for a in READ[:3]) for image in (new, old)):
            continue  # no record: nothing the index lists
        by_ttl = record.get("userIdentity") == TTL_IDENTITY
        changes += pages.changes_of(str(record.get("eventName")), new, old, _version(ddb), by_ttl=by_ttl)
    return len(records), changes


async def write_pages(client: Any, table: str, items: Sequence[Item]) -> None:
    """BatchWriteItem, 25 items a request; unprocessed items resent with backoff, and raised when
    WRITE_ATTEMPTS requests of a chunk have not written it all."""
    for start in range(0, len(items), BATCH_WRITE_ITEMS):
        pending = [{"PutRequest": {"Item": encode_item(i)}} for i in items[start : start + BATCH_WRITE_ITEMS]]
        delay = BACKOFF_FIRST
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MOST)
            response = await client.batch_write_item(RequestItems={table: pending})
            pending = (response.get("UnprocessedItems") or {}).get(table) or []
            if not pending:
                break
        else:
            raise RuntimeError(
                f"{len(pending)} index page(s) left unprocessed by DynamoDB after {WRITE_ATTEMPTS}"
                " BatchWriteItem requests: the batch is retried by the event source mapping"
            )


def _lists(page: Item) -> bool:
    return any(not entry.get(pages.GONE) for entry in pages.expand(page))


def _day(page: Item) -> str:
    return str(page[SHARD_ATTRIBUTE]).split("#", 1)[0]


@dataclass
class _Clients:
    """The SDK clients a container keeps, on the event loop they were opened on."""

    loop: asyncio.AbstractEventLoop
    stack: contextlib.AsyncExitStack
    opened: dict[str, Any]


_clients: _Clients | None = None
# The services it opens, each named where it is opened (the asset keeps only the SDK models of
# services the package names: tests/cdk/test_asset.py).
_OPENERS: dict[str, Callable[[contextlib.AsyncExitStack], Awaitable[Any]]] = {
    "dynamodb": lambda stack: open_client("dynamodb", stack),
    "s3": lambda stack: open_client("s3", stack),
}


async def _client(service: str) -> Any:
    """The container's client of `service`, opened on first use and kept for every later batch
    (a client belongs to its loop: a new loop opens new ones)."""
    global _clients
    loop = asyncio.get_running_loop()
    if _clients is None or _clients.loop is not loop:
        _clients = _Clients(loop, contextlib.AsyncExitStack(), {})
    if service not in _clients.opened:
        _clients.opened[service] = await _OPENERS[service](_clients.stack)
    return _clients.opened[service]


async def run(event: Any, env: Mapping[str, str], now: datetime) -> Summary:
    settings = Settings.from_env(env)
    bucket = env.get("COLLECTOR_TRAIL_BUCKET", "").strip() or None
    count, changes = changes_of_event(event)
    items = pages.build_pages(changes)
    # Only a page that lists a record can add rows to a day already exported: a page of tombstones
    # (a purge) cannot, and marking its day would have the exporter read it again, find fewer records
    # than the trail holds, and refuse every hour (collector.trail.export.check_kept).
    late_pages = [p for p in items if late.needs_mark(_day(p), now) and _lists(p)] if bucket else []
    if items:
        await write_pages(await _client("dynamodb"), settings.table_name, items)
    if late_pages:  # after the pages: a marker is listed only once its page exists
        assert bucket is not None
        s3 = await _client("s3")
        for page in late_pages:
            await late.mark(s3, bucket, _day(page), str(page[KEY]))
    return Summary(count, len(changes), len(items), len(late_pages))


def handler(event: Any, context: Any) -> dict[str, int]:
    try:
        level = Settings.from_env(os.environ).log_level
    except ConfigError:
        level = "INFO"  # run() raises the same error, naming the variable
    log.setLevel(level)
    summary = _event_loop().run_until_complete(run(event, os.environ, utc_now()))
    log.info(
        "index pages: %d stream records, %d entries, %d pages written, %d late markers",
        summary.records,
        summary.entries,
        summary.pages,
        summary.marked,
    )
    sys.stdout.flush()
    return summary.to_json()
