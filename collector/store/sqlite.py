"""The embedded default: a SQLite file with DynamoDB's dedupe semantics, for use with no AWS account.

Calls are synchronous inside async methods on purpose: a local insert takes microseconds, and
since nothing awaits between the insert and the read of an existing row, each `put_once` is atomic
with respect to the other tasks on the loop. Across processes, SQLite's own locking keeps the
primary key unique.

`replay`'s COUNT_STATE lives in its own column, so `set_count_state` is one small UPDATE that
never rewrites the stored JSON.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from collector.clock import iso_millis
from collector.jsonutil import dumps, loads
from collector.model import Item
from collector.store import COUNT_STATE, Duplicate, Inserted, PutResult, Query

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    invocation_id TEXT PRIMARY KEY,
    message_id    TEXT,
    sender        TEXT,
    received_at   TEXT NOT NULL,
    expires_at    INTEGER,
    item          TEXT NOT NULL,
    count_state   TEXT
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
        if "count_state" not in _columns(self._db):  # a file from before the column existed
            self._db.execute("ALTER TABLE audit ADD COLUMN count_state TEXT")
        # TTL, as DynamoDB would apply it: expired records leave the trail.
        self._db.execute(
            "DELETE FROM audit WHERE expires_at IS NOT NULL AND expires_at < ?", (int(time.time()),)
        )

    async def put_once(self, item: Item) -> PutResult:
        body = {k: v for k, v in item.items() if k != COUNT_STATE}
        cursor = self._db.execute(
            "INSERT INTO audit"
            " (invocation_id, message_id, sender, received_at, expires_at, item, count_state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (invocation_id) DO NOTHING",
            (
                item["invocationId"],
                item.get("messageId"),
                item.get("sender"),
                item["receivedAt"],
                item.get("expiresAt"),
                dumps(body).decode(),
                item.get(COUNT_STATE),
            ),
        )
        if cursor.rowcount == 1:
            return Inserted()
        existing = await self.get(item["invocationId"])
        assert existing is not None, "a conflicting row cannot vanish within one put"
        return Duplicate(existing)

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        cursor = self._db.execute(
            "UPDATE audit SET count_state = ? WHERE invocation_id = ? AND count_state IS ?",
            (new, key, expected),
        )
        if cursor.rowcount == 1:
            return True
        row = self._db.execute("SELECT count_state FROM audit WHERE invocation_id = ?", (key,)).fetchone()
        return row is not None and row[0] == new

    async def get(self, key: str) -> Item | None:
        row = self._db.execute(
            "SELECT item, count_state FROM audit WHERE invocation_id = ?", (key,)
        ).fetchone()
        return None if row is None else _item(row)

    async def query(self, query: Query) -> list[Item]:
        clauses, params = [], []
        if query.message_id is not None:
            clauses.append("message_id = ?")
            params.append(query.message_id)
        if query.sender is not None:
            clauses.append("sender = ?")
            params.append(query.sender)
        if query.since is not None:
            clauses.append("received_at >= ?")
            params.append(iso_millis(query.since))
        if query.until is not None:
            clauses.append("received_at <= ?")
            params.append(iso_millis(query.until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT item, count_state FROM audit {where} ORDER BY received_at DESC, invocation_id LIMIT ?",
            (*params, query.limit),
        ).fetchall()
        return [_item(r) for r in rows]

    async def close(self) -> None:
        self._db.close()


def _item(row: tuple[str, str | None]) -> Item:
    item = dict(loads(row[0]))
    if row[1] is not None:
        item[COUNT_STATE] = row[1]
    return item


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(audit)")}
