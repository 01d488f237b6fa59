"""The embedded default: a SQLite file with DynamoDB's dedupe semantics, for use with no AWS account.

Calls are synchronous inside async methods on purpose: a local insert takes microseconds, and
since nothing awaits between the insert and the read of an existing row, each `put_once` is atomic
with respect to the other tasks on the loop. Across processes, SQLite's own locking keeps the
primary key unique.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date
from pathlib import Path

from collector.clock import iso_millis
from collector.jsonutil import dumps, loads
from collector.model import Item
from collector.store import (
    Duplicate,
    Inserted,
    PutResult,
    Query,
    StoreError,
    Tally,
    TallyKey,
    tally_key,
    utc_day_bounds,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    invocation_id TEXT PRIMARY KEY,
    message_id    TEXT,
    sender        TEXT,
    received_at   TEXT NOT NULL,
    expires_at    INTEGER,
    item          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_message ON audit (message_id, received_at);
CREATE INDEX IF NOT EXISTS audit_by_sender ON audit (sender, received_at);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (received_at);
"""


def _enable_wal(db: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL. Connections converting a new file at the same time get SQLITE_BUSY at once,
    without the busy timeout's wait: retry briefly instead of failing the open."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        _enable_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        # TTL, as DynamoDB would apply it: expired records leave the trail.
        self._db.execute(
            "DELETE FROM audit WHERE expires_at IS NOT NULL AND expires_at < ?", (int(time.time()),)
        )

    async def put_once(self, item: Item) -> PutResult:
        cursor = self._db.execute(
            "INSERT INTO audit (invocation_id, message_id, sender, received_at, expires_at, item)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (invocation_id) DO NOTHING",
            (
                item["invocationId"],
                item.get("messageId"),
                item.get("sender"),
                item["receivedAt"],
                item.get("expiresAt"),
                dumps(item).decode(),
            ),
        )
        if cursor.rowcount == 1:
            return Inserted()
        existing = await self.get(item["invocationId"])
        assert existing is not None, "a conflicting row cannot vanish: records are never deleted"
        return Duplicate(existing)

    async def get(self, key: str) -> Item | None:
        row = self._db.execute("SELECT item FROM audit WHERE invocation_id = ?", (key,)).fetchone()
        return None if row is None else dict(loads(row[0]))

    async def query(self, query: Query) -> list[Item]:
        """The same window and filters as the DynamoDB store (collector.store.Query)."""
        since, until = query.window()
        if since > until:
            raise StoreError("the start of the time range is after its end")
        # Like DynamoDB's time index: only items with a receivedDay (records, not bookkeeping items).
        clauses = ["received_at >= ?", "received_at <= ?", "json_extract(item, '$.receivedDay') IS NOT NULL"]
        params = [iso_millis(since), iso_millis(until)]
        if query.message_id is not None:
            clauses.append("message_id = ?")
            params.append(query.message_id)
        if query.sender is not None:
            clauses.append("sender = ?")
            params.append(query.sender)
        rows = self._db.execute(
            f"SELECT item FROM audit WHERE {' AND '.join(clauses)}"
            " ORDER BY received_at DESC, invocation_id LIMIT ?",
            (*params, query.limit),
        ).fetchall()
        return [dict(loads(r[0])) for r in rows]

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        start, end = utc_day_bounds(day)
        rows = self._db.execute(
            "SELECT json_extract(item, '$.status'), json_extract(item, '$.source'),"
            " json_extract(item, '$.direction'), count(*),"
            " sum(coalesce(json_extract(item, '$.recipientCount'), 0))"
            " FROM audit WHERE received_at >= ? AND received_at <= ?"
            " AND json_extract(item, '$.receivedDay') IS NOT NULL GROUP BY 1, 2, 3",
            (iso_millis(start), iso_millis(end)),
        ).fetchall()
        counts: dict[TallyKey, Tally] = {}
        for status, source, direction, records, recipients in rows:
            key = tally_key({"status": status, "source": source, "direction": direction})
            counts[key] = counts.get(key, Tally()) + Tally(int(records), int(recipients or 0))
        return counts

    async def close(self) -> None:
        self._db.close()
