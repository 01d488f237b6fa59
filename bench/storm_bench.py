"""`python -m bench --storm`: the full-size duplicate storm (10,000 events x 3), timed.

On DynamoDB Local: one loop, one aioboto3 client, 64 deliveries in flight. On SQLite: four threads,
each with its own connection to one file. CI runs the same code at a smaller size on DynamoDB Local
(tests/reliability/test_storm.py, STORM_EVENTS) and at full size on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

from bench.storm import (
    StormSummary,
    deliver_concurrently,
    deliver_in_threads,
    expected,
    storm_deliveries,
    summarize,
)
from bench.storm import storm_events as make_events
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.pipeline import Pipeline
from collector.store.sqlite import SqliteStore

COPIES = 3


def _verdict(summary: StormSummary, events: int) -> list[str]:
    want = expected(events, COPIES)
    got = {
        "RECORDED": summary.statuses["RECORDED"],
        "DUPLICATE": summary.statuses["DUPLICATE"],
        "Messages": summary.metric_sums["Messages"],
        "DuplicateInvocations": summary.metric_sums["DuplicateInvocations"],
    }
    exact = got == want and summary.stored == events
    return [f"exact: {'yes' if exact else 'NO'} (expected {want} and {events} audit records)"]


async def _dynamodb(endpoint: str, events: int) -> StormSummary:
    from collector.store.dynamodb import DynamoDbStore, create_table

    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    table = f"storm-{uuid.uuid4().hex[:10]}"
    await create_table(table)
    deliveries = storm_deliveries(make_events(events), COPIES)
    lines: list[str] = []
    store = await DynamoDbStore.open(table)
    settings = Settings(store="dynamodb", table_name=table)
    try:
        pipeline = Pipeline(store, EmfWriter(settings.namespace, "storm", lines.append), settings)
        started = time.perf_counter()
        outcomes = await deliver_concurrently(pipeline, deliveries, concurrency=64)
        summary = summarize(events, outcomes, lines, time.perf_counter() - started)
        client: Any = store._client  # a read-only count for the report
        count = 0
        request: dict[str, Any] = {"TableName": table, "Select": "COUNT", "ConsistentRead": True}
        while True:
            page = await client.scan(**request)
            count += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        summary.stored = count
        return summary
    finally:
        await store.close()


def _sqlite(workdir: Path, events: int) -> StormSummary:
    path = workdir / "storm.sqlite3"
    settings = Settings(store="sqlite", sqlite_path=path, service="storm")
    deliveries = storm_deliveries(make_events(events), COPIES)
    lines: list[str] = []

    async def open_store() -> SqliteStore:
        return SqliteStore(path)

    asyncio.run(SqliteStore(path).close())  # create the file first: opens racing on a new file can fail
    started = time.perf_counter()
    outcomes = deliver_in_threads(open_store, settings, lines, deliveries, workers=4)
    summary = summarize(events, outcomes, lines, time.perf_counter() - started)
    store = SqliteStore(path)
    summary.stored = store._db.execute("SELECT count(*) FROM audit").fetchone()[0]
    asyncio.run(store.close())
    return summary


def storm_bench(endpoint: str, workdir: Path, events: int) -> dict[str, Any]:
    print(f"\n## Duplicate storm: {events:,} events x {COPIES} deliveries, copies racing\n", flush=True)
    results: dict[str, Any] = {}
    for name, summary in (
        ("DynamoDB Local (1 loop, 64 in flight)", asyncio.run(_dynamodb(endpoint, events))),
        ("SQLite (4 threads, 4 connections)", _sqlite(workdir, events)),
    ):
        print(f"- {name}:")
        for line in [*summary.lines(), *_verdict(summary, events)]:
            print(f"  - {line}")
        results[name] = {
            "seconds": summary.seconds,
            "stored": summary.stored,
            "statuses": dict(summary.statuses),
            "metric_sums": dict(summary.metric_sums),
        }
    return results
