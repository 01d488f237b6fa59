"""Duplicate storms: every event delivered 3 times by concurrent tasks, the copies racing each other.

Exactly one audit record and one Messages count per event, every other copy a counted duplicate.
On SQLite the storm runs at full size (10,000 events x 3) in CI; on DynamoDB Local CI runs
STORM_EVENTS (default 2,000) and `python -m bench --storm` the full 10,000 (see bench/README.md).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.storm import deliver_concurrently, deliver_in_threads, storm_deliveries, storm_events
from collector.clock import utc_now
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Outcome, Status
from collector.pipeline import Pipeline
from collector.store import AuditStore, Query
from collector.store.dynamodb import DynamoDbStore
from collector.store.sqlite import SqliteStore
from tests.conftest import run
from tests.emf import validate_document

COPIES = 3
DYNAMODB_EVENTS = int(os.environ.get("STORM_EVENTS", "2000"))
SQLITE_EVENTS = int(os.environ.get("SQLITE_STORM_EVENTS", "10000"))


def assert_exact(
    events: list[dict[str, Any]], outcomes: list[Outcome], lines: list[str], stored: list[Any]
) -> None:
    n = len(events)
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {Status.RECORDED: n, Status.DUPLICATE: n * (COPIES - 1)}, statuses
    recorded_once = Counter(o.dedupe_key for o in outcomes if o.status is Status.RECORDED)
    assert set(recorded_once) == {e["invocationId"] for e in events} and set(recorded_once.values()) == {1}

    assert len(lines) == n * COPIES
    sums: Counter[str] = Counter()
    for line in lines:
        document = validate_document(line)
        for name in ("Messages", "DuplicateInvocations", "Recipients", "Conflicts", "InvalidEvents"):
            sums[name] += document.get(name, 0)
        if "Messages" in document:  # per-flow dimension values come only with a per-flow metric
            sums[f"Messages/{document['FlowDirection']}"] += document["Messages"]
    outbound = sum(e["flowDirection"] == "OUTBOUND" for e in events)
    recipients = sum(len(e["envelope"]["recipients"]) for e in events)
    assert sums == Counter(
        {
            "Messages": n,
            "Messages/INBOUND": n - outbound,
            "Messages/OUTBOUND": outbound,
            "DuplicateInvocations": n * (COPIES - 1),
            "Recipients": recipients,
        }
    ), sums  # and zero Conflicts, InvalidEvents, Messages/UNKNOWN

    assert len(stored) == n  # exactly one audit record per event, nothing else
    assert {item["invocationId"] for item in stored} == {e["invocationId"] for e in events}
    assert {item["status"] for item in stored} == {"RECORDED"}


async def all_records(store: AuditStore, n: int) -> list[Any]:
    return await store.query(Query(since=utc_now() - timedelta(hours=1), limit=n * COPIES))


def test_storm_on_sqlite_full_size_four_connections_racing(tmp_path: Path) -> None:
    events = storm_events(SQLITE_EVENTS, seed=51)
    deliveries = storm_deliveries(events, COPIES, seed=52)
    path = tmp_path / "storm.sqlite3"
    settings = Settings(store="sqlite", sqlite_path=path, service="storm")
    lines: list[str] = []

    async def open_store() -> AuditStore:
        return SqliteStore(path)

    run(SqliteStore(path).close())  # the file exists before the race (see the test below)
    outcomes = deliver_in_threads(open_store, settings, lines, deliveries, workers=4)

    async def read() -> list[Any]:
        store = SqliteStore(path)
        try:
            return await all_records(store, len(events))
        finally:
            await store.close()

    assert_exact(events, outcomes, lines, run(read()))


def test_sqlite_store_opens_while_connections_race_to_create_the_file(tmp_path: Path) -> None:
    """Several processes or threads opening one new file at once (parallel replays, the storm's
    workers): converting it to WAL answers "database is locked" at once, busy timeout or not, in
    about 1 trial in 20 here; 200 trials of 4 racing opens make a miss vanishingly unlikely."""
    failures: list[str] = []
    for trial in range(200):
        path = tmp_path / f"race-{trial}.sqlite3"
        ready = threading.Barrier(4)

        def open_store(path: Path = path, ready: threading.Barrier = ready) -> None:
            ready.wait()
            try:
                store = SqliteStore(path)
            except sqlite3.OperationalError as error:
                failures.append(str(error))
                return
            run(store.close())

        threads = [threading.Thread(target=open_store) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == [], f"{len(failures)} opens failed, e.g. {failures[0]!r}"


@pytest.mark.dynamodb
def test_storm_on_dynamodb_local_copies_racing_on_one_conditional_write(audit_table: str) -> None:
    events = storm_events(DYNAMODB_EVENTS, seed=53)
    deliveries = storm_deliveries(events, COPIES, seed=54)
    settings = Settings(store="dynamodb", table_name=audit_table)
    lines: list[str] = []

    async def body() -> tuple[list[Outcome], list[Any]]:
        store = await DynamoDbStore.open(audit_table)
        try:
            pipeline = Pipeline(store, EmfWriter(settings.namespace, "storm", lines.append), settings)
            outcomes = await deliver_concurrently(pipeline, deliveries, concurrency=64)
            return outcomes, await all_records(store, len(events))
        finally:
            await store.close()

    outcomes, stored = run(body())
    assert_exact(events, outcomes, lines, stored)
