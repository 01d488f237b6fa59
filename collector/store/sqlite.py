"""The embedded default: a SQLite file with DynamoDB's dedupe semantics, for use with no AWS account.

Calls are synchronous inside async methods on purpose: a local insert takes microseconds, and
since nothing awaits between the insert and the read of an existing row, each `put_once` is atomic
with respect to the other tasks on the loop. Across processes, SQLite's own locking keeps the
primary key unique.

Expiry follows DynamoDB's TTL without trusting one run's clock: a record expires when its
`expiresAt` is before both now and the newest record's `receivedAt`, so a clock set a year ahead
(a bad RTC, faketime) hides and deletes nothing. Reads (`read_only=True`) never create a file,
change the schema or delete; they leave expired rows out. A writing open deletes them. Nor do
reads checkpoint: a write-ahead log left by a writer that died is read where it lies, so reading
leaves the database, its -wal and its -shm as they were (see `_connect_unchanged`; the one
exception is an empty -wal, which SQLite removes when the read closes). The other side of that: a
writer that closes while a read is open cannot move its log into the database either, so the
records stay in the -wal until the next writing open (a `replay`) moves them. They are read as
usual meanwhile; a copy of the database alone would miss them: copy it with `sqlite3 <db>
'.backup <copy>'`, which reads the log too.

`replay`'s COUNT_STATE lives in its own column, so `set_count_state` is one small UPDATE that
never rewrites the stored JSON.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

from collector.clock import iso_millis, parse_iso_millis
from collector.jsonutil import dumps, loads
from collector.model import Item
from collector.store import (
    COUNT_STATE,
    Duplicate,
    Inserted,
    PutResult,
    Query,
    StoreNotFound,
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
    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        memory = str(path) == ":memory:"
        if read_only and not memory:
            self._db = _open_existing(Path(path))
        else:
            self._db = sqlite3.connect(":memory:", isolation_level=None) if memory else _create(Path(path))
            try:
                _enable_wal(self._db)
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(SCHEMA)
            except sqlite3.DatabaseError as error:
                self._db.close()
                if isinstance(error, sqlite3.OperationalError):
                    raise
                raise StoreNotFound(f"{path} is not an audit database ({error})") from None
            if "count_state" not in _columns(self._db):  # a file from before the column existed
                self._db.execute("ALTER TABLE audit ADD COLUMN count_state TEXT")
        self._state = "count_state" if "count_state" in _columns(self._db) else "NULL"
        if not read_only:
            # TTL, as DynamoDB would apply it, against a clock that one wrong run cannot move.
            self._db.execute(
                "DELETE FROM audit WHERE expires_at IS NOT NULL AND expires_at < ?", (self._expiry_cutoff(),)
            )

    def _expiry_cutoff(self) -> int:
        """Records expire before this epoch second: now, but never past the newest record's time."""
        now = int(time.time())
        (newest,) = self._db.execute("SELECT MAX(received_at) FROM audit").fetchone()
        if newest is None:
            return now
        try:
            newest_epoch = int(parse_iso_millis(newest).timestamp())
        except ValueError:
            return now
        return min(now, newest_epoch)

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

    async def replace_invalid(self, item: Item) -> bool:
        body = {k: v for k, v in item.items() if k != COUNT_STATE}
        cursor = self._db.execute(
            "UPDATE audit SET message_id = ?, sender = ?, received_at = ?, expires_at = ?, item = ?,"
            " count_state = ? WHERE invocation_id = ? AND json_extract(item, '$.status') = 'INVALID'",
            (
                item.get("messageId"),
                item.get("sender"),
                item["receivedAt"],
                item.get("expiresAt"),
                dumps(body).decode(),
                item.get(COUNT_STATE),
                item["invocationId"],
            ),
        )
        return cursor.rowcount == 1

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
            f"SELECT item, {self._state} FROM audit WHERE invocation_id = ?", (key,)
        ).fetchone()
        return None if row is None else _item(row)

    async def query(self, query: Query) -> list[Item]:
        """The same window and filters as the DynamoDB store (collector.store.Query)."""
        clauses, params = self._in_trail(*query.window())
        if query.message_id is not None:
            clauses.append("message_id = ?")
            params.append(query.message_id)
        if query.sender is not None:
            clauses.append("sender = ?")
            params.append(query.sender)
        if query.recipient is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(item, '$.recipients') WHERE value = ?)")
            params.append(query.recipient)
        for clause, value in _attribute_filters(query):
            clauses.append(clause)
            params.append(value)
        rows = self._db.execute(
            f"SELECT item, {self._state} FROM audit WHERE {' AND '.join(clauses)}"
            " ORDER BY received_at DESC, invocation_id LIMIT ?",
            (*params, query.limit),
        ).fetchall()
        return [_item(r) for r in rows]

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        clauses, params = self._in_trail(*utc_day_bounds(day))
        rows = self._db.execute(
            "SELECT json_extract(item, '$.status'), json_extract(item, '$.source'),"
            " json_extract(item, '$.direction'), json_extract(item, '$.eventType'), count(*),"
            " sum(coalesce(json_extract(item, '$.recipientCount'), 0))"
            f" FROM audit WHERE {' AND '.join(clauses)} GROUP BY 1, 2, 3, 4",
            params,
        ).fetchall()
        counts: dict[TallyKey, Tally] = {}
        for status, source, direction, event_type, records, recipients in rows:
            fields = {"status": status, "source": source, "direction": direction, "eventType": event_type}
            key = tally_key(fields)
            counts[key] = counts.get(key, Tally()) + Tally(int(records), int(recipients or 0))
        return counts

    async def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        """Keyset pages over the time index: each page starts after the last (receivedAt, key)."""
        clauses, params = self._in_trail(since, until)
        after: tuple[str, str] | None = None
        while True:
            where = [*clauses, "(received_at, invocation_id) > (?, ?)"] if after else clauses
            rows = self._db.execute(
                f"SELECT item, {self._state}, received_at, invocation_id FROM audit"
                f" WHERE {' AND '.join(where)} ORDER BY received_at, invocation_id LIMIT ?",
                (*params, *(after or ()), page),
            ).fetchall()
            if rows:
                yield [_item((r[0], r[1])) for r in rows]
            if len(rows) < page:
                return
            after = (rows[-1][2], rows[-1][3])

    async def purge_invalid(self, since: datetime, until: datetime, *, apply: bool) -> int:
        """Quarantined records (status INVALID) received in [since, until]: counted, or deleted."""
        clauses, params = self._in_trail(since, until)
        where = " AND ".join([*clauses, "json_extract(item, '$.status') = 'INVALID'"])
        if not apply:
            (count,) = self._db.execute(f"SELECT count(*) FROM audit WHERE {where}", params).fetchone()
            return int(count)
        with self._db:
            return self._db.execute(f"DELETE FROM audit WHERE {where}", params).rowcount

    def _in_trail(self, since: datetime, until: datetime) -> tuple[list[str], list[str | int]]:
        """The rows a read sees between two moments, as SQL clauses and their parameters: like
        DynamoDB's time index, only items with a receivedDay (records, not bookkeeping items), and
        none past expiry."""
        clauses = [
            "received_at >= ?",
            "received_at <= ?",
            "json_extract(item, '$.receivedDay') IS NOT NULL",
            "(expires_at IS NULL OR expires_at >= ?)",
        ]
        return clauses, [iso_millis(since), iso_millis(until), self._expiry_cutoff()]

    async def close(self) -> None:
        self._db.close()


class NoAuditDatabase(StoreNotFound):
    """A read found no database file at the path: nothing was replayed there yet, or a typo."""


class StorePathError(StoreNotFound):
    """The path leads nowhere a database can be made (a file where a folder must be, no permission):
    the user's path to fix, not a store failure."""


def _create(path: Path) -> sqlite3.Connection:
    """A writing connection, creating the file and its folders when missing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        folder = error.filename or path.parent
        why = "a file has that name" if isinstance(error, FileExistsError) else error.strerror
        raise StorePathError(f"cannot create the folder {folder} for {path}: {why}") from None
    try:
        return sqlite3.connect(str(path), timeout=30, isolation_level=None)
    except sqlite3.OperationalError as error:  # a folder's name, or a folder this user may not write
        raise StorePathError(f"cannot open {path}: {error}") from None


def _attribute_filters(query: Query) -> list[tuple[str, str]]:
    """Query's source, event type and status filters as SQL, matching what the DynamoDB store's
    filter expressions accept (a record without a source is WorkMail's)."""
    wanted = (
        ("coalesce(json_extract(item, '$.source'), 'WorkMail') = ?", query.source),
        ("json_extract(item, '$.eventType') = ?", query.event_type),
        ("json_extract(item, '$.status') = ?", query.status),
    )
    return [(clause, value) for clause, value in wanted if value is not None]


def _item(row: tuple[str, str | None]) -> Item:
    item = dict(loads(row[0]))
    if row[1] is not None:
        item[COUNT_STATE] = row[1]
    return item


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(audit)")}


def _open_existing(path: Path) -> sqlite3.Connection:
    """A connection to an audit database that must already exist: never creates a file or folder."""
    if not path.is_file():
        raise NoAuditDatabase(f"no audit database at {path}")
    if path.stat().st_size == 0:  # SQLite would delete a -wal beside an empty file
        raise StoreNotFound(f"{path} is not an audit database (no audit table)")
    for last in (False, True):
        db, unlogged = _connect_unchanged(path)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.OperationalError:
            db.close()
            if unlogged or last:
                raise
            continue  # the writer closed (and removed its log) between the look and the read: look again
        except sqlite3.DatabaseError:
            db.close()
            raise StoreNotFound(f"{path} is not an audit database (not a SQLite file)") from None
        break
    if "audit" not in tables:
        db.close()
        raise StoreNotFound(f"{path} is not an audit database (no audit table)")
    return db


def _connect_unchanged(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A reading connection that leaves every file as it found it; True when no log was there.

    A write-ahead log with frames in it (a writer running, or one that died before its checkpoint)
    is read without writing: `mode=ro` so closing the last connection cannot checkpoint the log
    into the database and delete it, `readonly_shm` so the -shm index is only read (SQLite then
    reads the log itself when no live writer keeps the index). With no log, or an empty one, the
    database file holds everything: a `mode=rw` open is the only one SQLite allows there without
    leaving a -wal and -shm behind (it creates both and, finding nothing to checkpoint, deletes
    them on close)."""
    real = path.resolve()
    uri = f"file:{quote(str(real))}"
    wal, shm = real.with_name(real.name + "-wal"), real.with_name(real.name + "-shm")
    if wal.is_file() and wal.stat().st_size > 0:
        if not shm.exists():
            raise StoreNotFound(
                f"{path} has a write-ahead log ({wal.name}) without its index ({shm.name}), and reading"
                f" it would create that file: run `sqlite3 {path} 'PRAGMA wal_checkpoint'` first"
            )
        return sqlite3.connect(f"{uri}?mode=ro&readonly_shm=1", uri=True, timeout=30), False
    try:
        return sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=30), True
    except sqlite3.OperationalError:  # a file this user may only read
        return sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30), True
