"""The time index paged from the table's stream: what the index consumer writes, stores and spends.

In stream mode (bench/template.py: the collector's COLLECTOR_TIME_INDEX=stream) the hot path writes
the record only, and the index consumer (collector/index_handler.py) turns each batch of the table's
stream into page items (collector/store/pages.py). This module measures those pages instead of
estimating them: for each size and each hour of the week's traffic it builds real batches with
`pages.changes_of` + `pages.build_pages` from the items the collector wrote in this run
(bench/emitted.py), mixed as the bill's traffic mix is, each made a different message (its own key,
message ID, sender, receivedAt and expiry, in the shape the collector writes them), and counts:

* a batch's records: the event source mapping's batch size (10,000), the stream records its window
  (60 s) gathers at that hour's rate (at least one), and no more than fit Lambda's 6 MB synchronous
  payload at the measured size of one stream record as Lambda delivers it (an INSERT with its
  NewImage). The REMOVE of a record TTL deletes never reaches the consumer: the mapping's filter
  drops it (cdk/index_consumer.py), so it is no invocation and no part of a batch;
* each page's write units (1 per started KB of the item, DynamoDB's size rule) and its index item's,
  their stored bytes (100 B overhead each), and reading each page whole (half a read unit per 4 KB);
* the consumer's CPU per stream record, measured here: parsing the event's JSON, decoding the
  attributes the index reads, `changes_of`, `build_pages` and encoding the pages for BatchWriteItem;
  and per batch: a warm invocation's own part (the handler keeps its event loop and DynamoDB client
  for the container, measured here; opening them is the cold start's, priced as INIT with the
  collector's) and a round trip per BatchWriteItem of 25 pages.

The caller (bench/billing.py) prices it; the scale from this machine's CPU to the function's share of
a vCPU is the one the collector's duration uses.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import prices
from bench.cost import item_size, wru
from bench.emitted import Measurement
from bench.template import TemplateFacts
from bench.traffic import HOURS_PER_MONTH, HOURS_PER_WEEK, PROFILE, Mix, Organization
from collector.model import Item
from collector.store import pages
from collector.store.dynamodb import decode_item, encode_item, from_attribute
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE, TIME_INDEX, TIME_INDEX_ATTRIBUTES

# "until it has gathered a full batch, the batching window expires, or the batch reaches the payload
# limit of 6 MB" (Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB")
PAYLOAD_LIMIT = 6 * 1024 * 1024
# The stream's shards, each batched on its own (one per table partition): one, as the design's sizes
# need (assumed; more shards make more, smaller batches: `consumer_month(..., shards=)`).
STREAM_SHARDS = 1
BATCH_WRITE_ITEMS = 25  # BatchWriteItem's limit
WRITE_ROUND_TRIP_MS = 10.0  # one BatchWriteItem of up to 25 pages, waited on (assumed)
SAMPLES = 6  # batches built per shape, starting at spread offsets within the minute
SMALL_SAMPLES = 60  # for batches of a few records, whose page counts vary more from one to the next
CPU_RECORDS = 2000  # stream records timed for the consumer's CPU
CPU_RUNS = 3
KEY = AUDIT_TABLE.partition_key
READ = (KEY, "receivedDay", "receivedAt", *TIME_INDEX_ATTRIBUTES, AUDIT_TABLE.ttl_attribute)
# A stream record's SequenceNumber: DynamoDB's are 21 or more digits, which pages.py's entries
# (orjson, 64-bit integers) cannot hold yet; the bench numbers them from 10**18, 19 digits.
SEQUENCE_START = 10**18
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/WorkMailCollector-AuditTable0123456789AB-0123456789ABC"
    "/stream/2026-12-01T00:00:00.000"
)
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
DAY = timedelta(days=1)


def hot_path_item(item: dict[str, Any]) -> dict[str, Any]:
    """A measured item (DynamoDB's wire form) as the hot path writes it in stream mode: no shard, so
    the time index does not list it."""
    return {k: v for k, v in item.items() if k != SHARD_ATTRIBUTE}


def stored_kinds(measurement: Measurement, mix: Mix) -> dict[str, float]:
    """New records of each kind per new message: the kinds whose delivery wrote an item."""
    rates = mix.per_message(measurement.variant.enrich)
    return {
        k: r for k, r in rates.items() if k in measurement.kinds and measurement.kinds[k].item is not None
    }


# --- synthetic traffic from the measured items ---------------------------------------------------


def _fresh_key(key: str, rng: random.Random) -> str:
    """A new key in the shape of `key`: 32 or 40 hex digits (WorkMail's invocationId), or a prefix
    and a hash (a quarantined payload's)."""
    head, _, tail = key.rpartition(":")
    return head + (":" if head else "") + f"{rng.getrandbits(len(tail) * 4):0{len(tail)}x}"


def _fresh_message_id(rng: random.Random) -> str:
    return "-".join(f"{rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def synthetic_items(
    measurement: Measurement,
    mix: Mix,
    count: int,
    start: datetime,
    span_s: float,
    retention_days: int,
    rng: random.Random,
) -> list[Item]:
    """`count` decoded records as the hot path writes them, arriving over `span_s` seconds from
    `start`: each a measured item of a kind drawn by the mix, made a different message."""
    kinds = stored_kinds(measurement, mix)
    names, weights = list(kinds), list(kinds.values())
    moments = sorted(start + timedelta(seconds=rng.uniform(0, span_s)) for _ in range(count))
    out = []
    for moment in moments:
        item = decode_item(hot_path_item(measurement.kinds[rng.choices(names, weights)[0]].item or {}))
        item[KEY] = _fresh_key(str(item[KEY]), rng)
        item["receivedAt"] = _iso(moment)
        item["receivedDay"] = moment.strftime("%Y-%m-%d")
        if "messageId" in item:
            item["messageId"] = _fresh_message_id(rng)
        sender = item.get("sender")
        if isinstance(sender, str) and "@" in sender:
            item["sender"] = f"user{rng.randrange(1000)}@{sender.split('@', 1)[1]}"
            if "mailFrom" in item:
                item["mailFrom"] = item["sender"]
        if retention_days > 0:
            item[AUDIT_TABLE.ttl_attribute] = int((moment + retention_days * DAY).timestamp())
        out.append(item)
    return out


def stream_record(item: Item, sequence: int, *, removed: bool = False) -> dict[str, Any]:
    """One stream record as Lambda hands it to the consumer: an INSERT with the new image, or the
    REMOVE of a TTL deletion with the old one (DynamoDB JSON, NEW_AND_OLD_IMAGES)."""
    wire = encode_item(item)
    at = datetime.fromisoformat(str(item["receivedAt"]).replace("Z", "+00:00")).timestamp()
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(at),
        "Keys": {KEY: wire[KEY]},
        "SequenceNumber": str(sequence),
        "SizeBytes": item_size(wire),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    body["OldImage" if removed else "NewImage"] = wire
    record: dict[str, Any] = {
        "eventID": uuid.UUID(int=sequence).hex,
        "eventName": "REMOVE" if removed else "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": body,
        "eventSourceARN": STREAM_ARN,
    }
    if removed:
        record["userIdentity"] = TTL_IDENTITY
    return record


def record_bytes(records: list[dict[str, Any]]) -> float:
    """Mean bytes of one stream record in the event's JSON (Lambda's payload)."""
    return len(json.dumps({"Records": records}, separators=(",", ":"))) / max(len(records), 1)


# --- what a batch writes -------------------------------------------------------------------------


def consume(event_json: str) -> list[Item]:
    """The consumer's work on one batch, as collector/index_handler.py does it: the event parsed, the
    attributes the index reads decoded, the changes, the pages, each encoded for BatchWriteItem."""
    changes: list[pages.Change] = []
    for record in json.loads(event_json)["Records"]:
        ddb = record["dynamodb"]
        images = []
        for name in ("NewImage", "OldImage"):
            raw = ddb.get(name)
            images.append({a: from_attribute(raw[a]) for a in READ if a in raw} if raw else None)
        version = (int(ddb["ApproximateCreationDateTime"] * 1000), int(ddb["SequenceNumber"]))
        by_ttl = record.get("userIdentity") == TTL_IDENTITY
        changes += pages.changes_of(record["eventName"], images[0], images[1], version, by_ttl=by_ttl)
    built = pages.build_pages(changes)
    for page in built:
        encode_item(page)
    return built


@dataclass(frozen=True)
class BatchPages:
    """What one batch writes, the mean over SAMPLES batches of the same shape."""

    records: float  # stream records (a mean: the month's batch count follows it)
    entries: float
    pages: float
    table_units: float  # the page items' write units
    index_units: float  # their time-index items'
    table_bytes: float  # stored: DynamoDB's size + 100 B per item
    index_bytes: float  # stored index items
    index_item_bytes: float  # the index items' size: what a Query of the time index reads
    read_units: float  # each page read whole, eventually consistent

    @property
    def requests(self) -> float:
        """BatchWriteItem requests."""
        return math.ceil(self.pages / BATCH_WRITE_ITEMS) if self.pages else 0.0


def measure_pages(page_items: Iterable[Item]) -> dict[str, float]:
    """The write units, stored bytes and read units of page items (python values)."""
    overhead = prices.ITEM_STORAGE_OVERHEAD_BYTES
    out = dict.fromkeys(
        (
            "pages",
            "table_units",
            "index_units",
            "table_bytes",
            "index_bytes",
            "index_item_bytes",
            "read_units",
        ),
        0.0,
    )
    for page in page_items:
        wire = encode_item(page)
        size = item_size(wire)
        listed = {k: v for k, v in wire.items() if k in {KEY, TIME_INDEX.partition_key, TIME_INDEX.sort_key}}
        listed |= {k: v for k, v in wire.items() if k in (TIME_INDEX.projection or ())}
        index_size = item_size(listed)
        out["pages"] += 1
        out["table_units"] += wru(size)
        out["index_units"] += wru(index_size)
        out["table_bytes"] += size + overhead
        out["index_bytes"] += index_size + overhead
        out["index_item_bytes"] += index_size
        out["read_units"] += math.ceil(size / 4096) * 0.5
    return out


_BATCHES: dict[tuple[Any, ...], BatchPages] = {}


def batch_pages(
    measurement: Measurement, mix: Mix, records: int, inserts: float, span_s: float, retention_days: int
) -> BatchPages:
    """Build SAMPLES batches of `records` stream records (`inserts` of them, on average, new records;
    the rest TTL removals, which page nothing) arriving over `span_s` seconds, each starting at
    another second of the minute, and measure their pages. The samples' insert counts are spread so
    that their mean is `inserts` (to 1/samples)."""
    key = (id(measurement), mix, records, round(inserts, 3), round(span_s, 1), retention_days)
    if key in _BATCHES:
        return _BATCHES[key]
    rng = random.Random(f"{records}/{inserts:.3f}/{span_s:.1f}")
    total = dict.fromkeys(("entries", "pages", "table_units", "index_units"), 0.0)
    total |= dict.fromkeys(("table_bytes", "index_bytes", "index_item_bytes", "read_units"), 0.0)
    sequence = SEQUENCE_START
    samples = SAMPLES if records > 100 else SMALL_SAMPLES
    inserts = min(inserts, records)
    for sample in range(samples):
        start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC) + timedelta(seconds=sample * 60 / samples)
        new = math.floor(inserts * (sample + 1)) - math.floor(inserts * sample)
        items = synthetic_items(measurement, mix, new, start, span_s, retention_days, rng)
        changes = []
        for item in items:
            sequence += rng.randrange(1, 1000)
            at = datetime.fromisoformat(str(item["receivedAt"]).replace("Z", "+00:00"))
            changes += pages.changes_of("INSERT", item, None, (int(at.timestamp()) * 1000, sequence))
        built = pages.build_pages(changes)
        total["entries"] += len(changes)
        for name, value in measure_pages(built).items():
            total[name] += value
    result = BatchPages(records=records, **{k: v / samples for k, v in total.items()})
    _BATCHES[key] = result
    return result


_CPU: dict[tuple[Any, ...], tuple[float, float]] = {}


def consumer_cpu(measurement: Measurement, mix: Mix, retention_days: int) -> tuple[float, float]:
    """(CPU seconds per stream record of `consume` here, mean bytes of a stream record) over a batch
    of CPU_RECORDS inserts (the filter keeps TTL's removals out); the least of CPU_RUNS runs (the
    machine's noise only adds)."""
    key = (id(measurement), mix, retention_days)
    if key in _CPU:
        return _CPU[key]
    rng = random.Random(11)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    items = synthetic_items(measurement, mix, CPU_RECORDS, start, 60.0, retention_days, rng)
    records = [stream_record(item, SEQUENCE_START + n) for n, item in enumerate(items)]
    event = json.dumps({"Records": records}, separators=(",", ":"))
    runs = []
    for _ in range(CPU_RUNS):
        began = time.process_time()
        consume(event)
        runs.append(time.process_time() - began)
    result = (min(runs) / len(records), record_bytes(records))
    _CPU[key] = result
    return result


_INVOCATION: list[float] = []


def invocation_cpu(runs: int = 10) -> float:
    """CPU seconds of what a warm invocation of the consumer does once a batch whatever its size:
    collector/index_handler.py's handler on an empty batch (its settings, the container's event
    loop, its log line) and fetching the container's DynamoDB client (no request is made). The
    first call, which opens the loop and the client, is the cold start's (the bill's INIT); the
    least of `runs` after it."""
    if _INVOCATION:
        return _INVOCATION[0]
    import os

    import collector.handler as collector_handler
    import collector.index_handler as consumer

    values = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    values |= {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    values |= {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": "bench-consumer"}
    saved = {k: os.environ.get(k) for k in values}
    kept = (collector_handler._loop, consumer._clients)
    os.environ.update(values)
    collector_handler._loop, consumer._clients = None, None  # this bench's own container
    loop = collector_handler._event_loop()
    try:
        times = []
        for n in range(runs + 1):
            began = time.process_time()
            consumer.handler({"Records": []}, None)
            loop.run_until_complete(consumer._client("dynamodb"))
            if n:  # the first is the cold start's
                times.append(time.process_time() - began)
    finally:
        if consumer._clients is not None:
            loop.run_until_complete(consumer._clients.stack.aclose())
        loop.close()
        collector_handler._loop, consumer._clients = kept
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    _INVOCATION.append(min(times))
    return _INVOCATION[0]


_EXPAND: dict[tuple[Any, ...], float] = {}


def expand_cpu(measurement: Measurement, mix: Mix, retention_days: int) -> float:
    """CPU seconds per entry a reader of the index spends on pages (`pages.expand` and `latest`,
    what the exporter's listing adds in stream mode), over the pages of CPU_RECORDS records of one
    minute; the least of CPU_RUNS runs."""
    key = (id(measurement), mix, retention_days)
    if key in _EXPAND:
        return _EXPAND[key]
    rng = random.Random(13)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    items = synthetic_items(measurement, mix, CPU_RECORDS, start, 60.0, retention_days, rng)
    changes = [c for n, i in enumerate(items) for c in pages.changes_of("INSERT", i, None, (0, n))]
    built = pages.build_pages(changes)
    runs = []
    for _ in range(CPU_RUNS):
        began = time.process_time()
        for page in built:
            pages.latest(pages.expand(page))
        runs.append(time.process_time() - began)
    _EXPAND[key] = min(runs) / len(changes)
    return _EXPAND[key]


# --- a month of the consumer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hour:
    """One hour of the week's profile at one size: the batches the consumer gets and what each writes."""

    share: float  # of the week's mail
    stream_per_s: float  # stream records a second
    batch: BatchPages
    batch_span_s: float  # the arrivals one batch covers
    billed_ms: int  # one invocation

    @property
    def batches(self) -> float:
        """Batches in this hour."""
        return self.stream_per_s * 3600 / self.batch.records


@dataclass(frozen=True)
class Consumer:
    """A month of the index consumer for one organization (quantities; bench/billing.py prices them)."""

    hours: tuple[tuple[Hour, float], ...]  # each distinct hour of the week, and how often it comes a month
    cpu_us_per_record: float  # measured here, unscaled
    invocation_cpu_ms: float  # once a warm batch (handler, kept loop and client), measured here, unscaled
    record_bytes: float  # one stream record in Lambda's event
    payload_records: int  # the most records a batch's 6 MB hold
    memory_mb: int
    mean: Hour  # an hour at the week's average rate (printed; the month sums the profile's hours)
    expand_us_per_entry: float  # a reader's CPU on pages, measured here, unscaled

    def total(self, name: str) -> float:
        """A month's sum of a BatchPages figure over every batch."""
        return sum(count * h.batches * float(getattr(h.batch, name)) for h, count in self.hours)

    @property
    def batches(self) -> float:
        return sum(count * h.batches for h, count in self.hours)

    @property
    def gb_seconds(self) -> float:
        return sum(count * h.batches * h.billed_ms for h, count in self.hours) / 1000 * self.memory_mb / 1024

    @property
    def write_requests(self) -> float:
        return self.total("requests")

    def busiest(self) -> Hour:
        return max((h for h, _ in self.hours), key=lambda h: h.share)


def consumer_month(
    facts: TemplateFacts,
    measurement: Measurement,
    organization: Organization,
    mix: Mix,
    cpu_scale: float,
    shards: int = STREAM_SHARDS,
) -> Consumer:
    """The consumer's month: for each distinct hour of the week's profile, the batches its stream
    rate makes at the event source mapping's shape, measured pages for one such batch, and the
    invocation's billed duration (the measured CPU per record x `cpu_scale`, the function's share of
    a vCPU, plus a round trip per BatchWriteItem)."""
    retention = facts.retention_days
    # Only records written reach the consumer: the filter drops TTL's deletions (cdk/index_consumer.py).
    stream_per_week = organization.messages_per_day * 7 * sum(stored_kinds(measurement, mix).values())
    cpu_s, per_record_bytes = consumer_cpu(measurement, mix, retention)
    fixed_s = invocation_cpu()
    payload_records = max(1, int(PAYLOAD_LIMIT / per_record_bytes))
    cap = min(facts.index_batch_size, payload_records)
    window = facts.index_batch_window_s
    weeks_per_month = HOURS_PER_MONTH / HOURS_PER_WEEK
    counted: dict[float, int] = {}
    for share in PROFILE:
        counted[share] = counted.get(share, 0) + 1

    def hour(share: float) -> Hour:
        per_s = max(stream_per_week * share / 3600, 1e-9)
        per_shard = per_s / shards
        # The window opens at a batch's first record and gathers what arrives in it (assumed).
        records = min(cap, 1 + per_shard * window)
        span = min(window, records / per_shard)
        built = max(1, round(records))
        batch = batch_pages(measurement, mix, built, records, span, retention)
        batch = replace(batch, records=records)
        cpu_ms = (records * cpu_s + fixed_s) * 1000 * cpu_scale
        billed = math.ceil(cpu_ms + batch.requests * WRITE_ROUND_TRIP_MS)
        return Hour(share, per_s, batch, span, billed)

    hours = tuple(
        (hour(share), count * weeks_per_month) for share, count in sorted(counted.items()) if share > 0
    )
    return Consumer(
        hours,
        cpu_s * 1e6,
        fixed_s * 1000,
        per_record_bytes,
        payload_records,
        facts.index_memory_mb,
        hour(1 / HOURS_PER_WEEK),
        expand_cpu(measurement, mix, retention) * 1e6,
    )
