"""A seeded SQLite store and its export, shared by the trail tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.config import Settings
from collector.store import Query
from collector.store.sqlite import SqliteStore
from collector.trail.export import ExportedDay, FolderSink, export
from tests.conftest import run
from tests.trail.seed import DAYS, FIRST_DAY, seed

FIRST = FIRST_DAY.date()
LAST = FIRST + timedelta(days=DAYS)  # the redeliveries arrive up to a day later (and add no row)


@dataclass
class Seeded:
    path: Path
    records: list[dict[str, Any]]


async def all_records(store: SqliteStore) -> list[dict[str, Any]]:
    return await store.query(Query(since=datetime(2000, 1, 1, tzinfo=UTC), limit=10**6))


def seeded(tmp_path: Path) -> Seeded:
    path = tmp_path / "audit.sqlite3"

    async def go() -> list[dict[str, Any]]:
        store = SqliteStore(path)
        try:
            await seed(store, Settings(store="sqlite", sqlite_path=path))
            return await all_records(store)
        finally:
            await store.close()

    return Seeded(path, run(go()))


def export_to(db: Path, out: Path, first: date = FIRST, last: date = LAST) -> list[ExportedDay]:
    async def go() -> list[ExportedDay]:
        store = SqliteStore(db, read_only=True)
        try:
            return await export(store, FolderSink(out), first, last)
        finally:
            await store.close()

    return run(go())
