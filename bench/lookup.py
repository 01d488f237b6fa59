"""What a keyed lookup (`audit query --sender` / `--message-id`) reads, costs and takes.

Since the audit table has one index, the time index byDayShard (DAY_SHARDS partitions per UTC
day), a lookup by sender or message ID is a filtered Query of every day in its range: DynamoDB reads every
index item of those days and bills what it reads, whatever the filter keeps.

Measured here, against DynamoDB Local behind the counting proxy, through the CLI's own code
(collector.store.dynamodb.DynamoDbStore.query): the small organization's last 30 days, seeded with
real audit items (collector.audit.record_item on generated events, 1,000 a day, so the index
items have their real size); requests counted at the proxy, read units as DynamoDB Local reports
them (ReturnConsumedCapacity on the same queries), wall time; and a range back to 2019-01-01
(about 2,900 days, nearly all empty), at the parallelism the store uses and at others.

Modelled for every size (DynamoDB Local's timings are its own): a day's DAY_SHARDS partitions
hold messages x index item bytes between them, evenly; a Query page reads at most 1 MB, so a shard
takes ceil(bytes / 1 MB) sequential requests; eventually consistent reads cost half a unit per
4 KB; days are read PARALLEL_QUERIES at a time with all their shards, at most POOL requests in
flight; a page takes one round trip from the operator's machine to the region plus the time one
partition needs to read 1 MB (3,000 read units a second per partition).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.cost import item_size, query_read_units
from bench.emitted import client
from collector.store.schema import DAY_SHARDS

SEED_PER_DAY = 1_000
SEED_DAYS = 31
SENDER = "needle@example.com"
NEEDLES_PER_DAY = 2
PAGE_BYTES = 1024 * 1024
ROUND_TRIP_S = 0.040  # operator's machine to the region (assumed)
PARTITION_BYTES_PER_S = 3000 * 2 * 4096  # 3,000 RCU/s per partition, eventually consistent
LONG_RANGE_SINCE = datetime(2019, 1, 1, tzinfo=UTC)
PARALLELISMS = (8, 16, 32)
POOL = 64  # the client's connection pool (collector/aws.py): requests in flight at most


@dataclass(frozen=True)
class LookupCost:
    requests: int
    read_units: float
    seconds: float

    @property
    def usd(self) -> float:
        from bench.prices import DYNAMODB_IA_READ_UNITS

        return self.read_units * DYNAMODB_IA_READ_UNITS.usd / 1e6


def model(
    messages_per_day: float,
    days: int,
    index_item_bytes: float,
    parallel: int,
    retention_days: int = 365,
    shards: int = DAY_SHARDS,
) -> LookupCost:
    """A filtered Query of each of `days` x `shards` partitions; a day within the retention holds
    `messages_per_day` index items spread evenly over its shards, an older one is empty (a request,
    half a read unit, a round trip per shard). `parallel` days at once, all their shards together,
    at most POOL requests in flight (the client's connection pool)."""
    full = min(days, retention_days)
    empty = days - full
    shard_bytes = messages_per_day * index_item_bytes / shards
    pages = max(1, math.ceil(shard_bytes / PAGE_BYTES))
    page_seconds = ROUND_TRIP_S + min(shard_bytes, PAGE_BYTES) / PARTITION_BYTES_PER_S
    in_flight = min(parallel * shards, POOL)
    return LookupCost(
        requests=shards * (full * pages + empty),
        read_units=shards * (full * query_read_units(shard_bytes) + empty * query_read_units(0)),
        seconds=math.ceil(full * shards / in_flight) * pages * page_seconds
        + math.ceil(empty * shards / in_flight) * ROUND_TRIP_S,
    )


def seed(endpoint: str, table: str, now: datetime) -> float:
    """SEED_DAYS days of SEED_PER_DAY real audit items; returns their mean time-index item size."""
    from bench.billing import index_item
    from collector.audit import record_item
    from collector.events.workmail import parse
    from collector.model import Invocation, MailEvent
    from collector.redaction import Redactor
    from collector.sampling import generate_events
    from collector.store.dynamodb import encode_item, with_shard
    from collector.store.schema import TIME_INDEX

    dynamodb = client(endpoint)
    sizes: list[int] = []
    redactor = Redactor(None)
    for day in range(SEED_DAYS):
        start = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        events = generate_events(count=SEED_PER_DAY, recipients=2, seed=day)
        batch: list[dict[str, Any]] = []
        for n, event in enumerate(events):
            if n < NEEDLES_PER_DAY:
                event["sender"] = {"address": SENDER}
            parsed = parse(event)
            assert isinstance(parsed, MailEvent)
            received = start + timedelta(seconds=86_399 * n / SEED_PER_DAY)
            item = encode_item(
                with_shard(
                    record_item(parsed, Invocation(str(uuid.uuid4()), "$LATEST", received), 365, redactor)
                )
            )
            copy = index_item(item, TIME_INDEX)
            if copy is not None:
                sizes.append(item_size(copy))
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == 25:
                _write(dynamodb, table, batch)
                batch = []
        if batch:
            _write(dynamodb, table, batch)
    return statistics.fmean(sizes)


def _write(dynamodb: Any, table: str, batch: list[dict[str, Any]]) -> None:
    pending = {table: batch}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def consumed_read_units(endpoint: str, table: str, since: datetime, until: datetime) -> float:
    """Read units DynamoDB Local reports for the lookup's queries (the same filter, day by day)."""
    from collector.clock import iso_millis
    from collector.store.schema import TIME_INDEX, day_shards

    dynamodb = client(endpoint)
    total = 0.0
    day = until.date()
    while day >= since.date():
        for partition in day_shards(day.isoformat()):
            request: dict[str, Any] = {
                "TableName": table,
                "IndexName": TIME_INDEX.name,
                "KeyConditionExpression": "#p = :p AND #s BETWEEN :a AND :b",
                "FilterExpression": "#f = :f",
                "ExpressionAttributeNames": {
                    "#p": TIME_INDEX.partition_key,
                    "#s": TIME_INDEX.sort_key,
                    "#f": "sender",
                },
                "ExpressionAttributeValues": {
                    ":p": {"S": partition},
                    ":a": {"S": iso_millis(since)},
                    ":b": {"S": iso_millis(until)},
                    ":f": {"S": SENDER},
                },
                "ReturnConsumedCapacity": "TOTAL",
            }
            while True:
                page = dynamodb.query(**request)
                total += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0))
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        day -= timedelta(days=1)
    return total


@contextlib.contextmanager
def _parallel(value: int) -> Iterator[None]:
    from collector.store import dynamodb

    saved = dynamodb.PARALLEL_QUERIES
    dynamodb.PARALLEL_QUERIES = value
    try:
        yield
    finally:
        dynamodb.PARALLEL_QUERIES = saved


@dataclass(frozen=True)
class Measured:
    label: str
    matches: int
    requests: int
    read_units: float
    seconds: float


def _lookup(proxy: Any, table: str, since: datetime, until: datetime) -> tuple[int, int, float]:
    """(matches, requests, seconds) of one `audit query --sender` through DynamoDbStore."""
    from collector.store import Query
    from collector.store.dynamodb import DynamoDbStore

    async def run() -> int:
        store = await DynamoDbStore.open(table)
        try:
            found = await store.query(Query(sender=SENDER, since=since, until=until, limit=1000, full=False))
        finally:
            await store.close()
        return len(found)

    before = sum(proxy.counts.values())
    began = time.perf_counter()
    matches = asyncio.run(run())
    seconds = time.perf_counter() - began
    return matches, sum(proxy.counts.values()) - before, seconds


def measure(endpoint: str, rounds: int = 3) -> tuple[list[Measured], float]:
    """The measured lookups, and the mean index item size of the seeded days."""
    import os

    from bench.emitted import _environment, create_table
    from bench.proxy import running_proxy
    from collector.store.dynamodb import PARALLEL_QUERIES

    table = create_table(endpoint)
    now = datetime.now(UTC)
    index_bytes = seed(endpoint, table, now)
    month_ago = now - timedelta(days=30)
    results = []
    credentials = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with running_proxy(endpoint) as proxy, _environment({"AWS_ENDPOINT_URL": proxy.url, **credentials}):
        assert os.environ["AWS_ENDPOINT_URL"] == proxy.url
        cases = [(f"30 days, {SEED_PER_DAY:,}/day", month_ago, PARALLEL_QUERIES, rounds)]
        cases += [(f"since 2019-01-01, {p} days at a time", LONG_RANGE_SINCE, p, 1) for p in PARALLELISMS]
        _lookup(proxy, table, month_ago, now)  # the client's first connections, discarded
        for label, since, parallel, repeats in cases:
            with _parallel(parallel):
                runs = [_lookup(proxy, table, since, now) for _ in range(repeats)]
            matches, requests, _ = runs[0]
            seconds = statistics.median(r[2] for r in runs)
            units = consumed_read_units(endpoint, table, since, now)
            results.append(Measured(label, matches, requests, units, seconds))
    return results, index_bytes


def report(endpoint: str) -> list[str]:
    from bench.traffic import ORGANIZATIONS
    from collector.store.dynamodb import PARALLEL_QUERIES

    measured, index_bytes = measure(endpoint)
    lines = [
        f"\n## Keyed lookups (bench/lookup.py; time index items {index_bytes:.0f} B on average)\n",
        "| lookup | matches | Query requests | read units | time |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in measured:
        lines.append(
            f"| measured, DynamoDB Local: {m.label} | {m.matches} | {m.requests:,} | {m.read_units:,.1f} "
            f"| {m.seconds:.2f} s |"
        )
    lines += [
        "",
        f"Modelled ({ROUND_TRIP_S * 1000:.0f} ms round trip to the region, {PARALLEL_QUERIES} days at a "
        f"time with their {DAY_SHARDS} shards, at most {POOL} requests in flight, 1 MB pages read at one "
        "partition's 3,000 read units a second; Standard-IA read price):",
        "",
        "| organization | range | Query requests | read units | USD | time |",
        "|---|---|---:|---:|---:|---:|",
    ]
    days_since = (datetime.now(UTC).date() - LONG_RANGE_SINCE.date()).days + 1
    for organization in ORGANIZATIONS:
        for label, days in (("30 days", 30), ("since 2019-01-01", days_since)):
            cost = model(organization.messages_per_day, days, index_bytes, PARALLEL_QUERIES)
            lines.append(
                f"| {organization.name} | {label} | {cost.requests:,} | {cost.read_units:,.0f} "
                f"| {cost.usd:.4f} | {cost.seconds:,.1f} s |"
            )
    return lines


def main() -> int:
    from bench.dynamodb_local import dynamodb_local

    with dynamodb_local() as endpoint:
        print("\n".join(report(endpoint)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
