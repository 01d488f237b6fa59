"""SQLite expiry: one run's wrong clock never deletes the trail, and reads never change the file.

A bad RTC or faketime a year ahead used to purge every record when the store opened, even for
`audit list`. Now a record expires only when its `expiresAt` is before both the clock and the
newest record's `receivedAt`, reads leave expired rows out without deleting them, and a read of a
database that does not exist creates nothing.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.clock import iso_millis
from collector.store import Query, StoreNotFound
from collector.store.sqlite import SqliteStore
from tests.conftest import run

DAY = 86_400


def record(key: str, received: datetime, retention_days: int = 365) -> dict[str, Any]:
    return {
        "invocationId": key,
        "status": "RECORDED",
        "messageId": f"m-{key}",
        "receivedAt": iso_millis(received),
        "receivedDay": received.date().isoformat(),
        "expiresAt": int(received.timestamp()) + retention_days * DAY,
    }


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


def fill(path: Path, *records: dict[str, Any]) -> None:
    async def body() -> None:
        store = SqliteStore(path)
        for item in records:
            await store.put_once(item)
        await store.close()

    run(body())


def everything(store: SqliteStore) -> list[str]:
    found = run(store.query(Query(since=datetime(2000, 1, 1, tzinfo=UTC), limit=1000)))
    return [item["invocationId"] for item in found]


def clock_ahead(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + days * DAY)


def test_a_clock_400_days_ahead_deletes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.sqlite3"
    now = datetime.now(UTC)
    fill(path, record("a", now - timedelta(hours=2)), record("b", now - timedelta(hours=1)))
    clock_ahead(monkeypatch, 400)
    writer = SqliteStore(path)  # what replay opens
    assert sorted(everything(writer)) == ["a", "b"]  # and the reads show them
    run(writer.close())
    reader = SqliteStore(path, read_only=True)  # what `audit list` opens
    assert sorted(everything(reader)) == ["a", "b"]
    run(reader.close())
    assert rows(path) == 2


def test_records_expire_relative_to_the_newest_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    now = datetime.now(UTC)
    old = record("old", now - timedelta(days=40), retention_days=30)  # expired 10 days ago
    kept = record("kept", now - timedelta(days=20), retention_days=30)
    fill(path, old, kept, record("new", now))
    reader = SqliteStore(path, read_only=True)
    assert everything(reader) == ["new", "kept"]  # hidden from reads...
    run(reader.close())
    assert rows(path) == 3  # ...but only a writer deletes
    run(SqliteStore(path).close())
    assert rows(path) == 2


def test_reads_never_create_anything(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "x.sqlite3"
    with pytest.raises(StoreNotFound, match=f"no audit database at {missing}"):
        SqliteStore(missing, read_only=True)
    assert not missing.parent.exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    for read_only in (True, False):
        with pytest.raises(StoreNotFound, match="is not an audit database"):
            SqliteStore(text, read_only=read_only)
    assert text.read_text() == "not a database\n"
