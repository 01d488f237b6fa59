"""A store's records, one UTC day at a time, as one Parquet object per day in a sink.

The object of day D is `day=D/audit-trail-D.parquet`: a fixed name, so exporting D again (after
a late record, or just again) replaces it, and an unchanged day is rewritten byte for byte. A
store holds one record per key, so redeliveries never become rows. Objects other than that one
under `day=D/` (left by hand, or a day whose records have all expired) are deleted when D is
exported, so each exported day holds exactly the store's records of that day.

Days are read with the AuditStore protocol's `query` (whole records, one day's window): the same
call on SQLite and DynamoDB. One day is held in memory at a time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

from collector.store import AuditStore, Query, utc_day_bounds
from collector.trail.schema import PARTITION
from collector.trail.writer import parquet_bytes

# A day with more records than this is refused rather than cut (the read holds a day in memory).
MAX_DAY_RECORDS = 5_000_000


class Sink(Protocol):
    """Where the objects go: a local folder here, S3 in the stack. Keys use `/`."""

    async def put(self, key: str, data: bytes) -> None:
        """Create or replace the object."""

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str) -> list[str]:
        """The keys that start with `prefix`, sorted."""


class ExportError(RuntimeError):
    """The export cannot go on (a day too large to hold); what was written so far stays."""


class FolderSink:
    """A local folder; each object is written to a temporary file and renamed over the old one,
    so a reader (or a crash) never sees half an object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def delete(self, key: str) -> None:
        path = self.root / key
        path.unlink(missing_ok=True)
        if path.parent != self.root and path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()

    async def list(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith("."))


@dataclass(frozen=True)
class ExportedDay:
    day: date
    key: str | None  # None: the day has no records (nothing written)
    rows: int
    size: int  # bytes of the object
    deleted: tuple[str, ...] = ()  # stale objects removed from the day's folder


def day_prefix(day: date) -> str:
    return f"{PARTITION}={day.isoformat()}/"


def object_key(day: date) -> str:
    return f"{day_prefix(day)}audit-trail-{day.isoformat()}.parquet"


async def export_day(store: AuditStore, sink: Sink, day: date) -> ExportedDay:
    since, until = utc_day_bounds(day)
    records = await store.query(Query(since=since, until=until, limit=MAX_DAY_RECORDS + 1, full=True))
    if len(records) > MAX_DAY_RECORDS:
        raise ExportError(f"{day} has more than {MAX_DAY_RECORDS} records: too many to export as one object")
    key = object_key(day) if records else None
    size = 0
    if key is not None:
        data = parquet_bytes(records)
        await sink.put(key, data)
        size = len(data)
    stale = tuple(k for k in await sink.list(day_prefix(day)) if k != key)
    for old in stale:
        await sink.delete(old)
    return ExportedDay(day, key, len(records), size, stale)


async def export(
    store: AuditStore,
    sink: Sink,
    first: date,
    last: date,
    on_day: Callable[[ExportedDay], None] | None = None,
) -> list[ExportedDay]:
    """Export each day from `first` to `last` (inclusive, UTC), oldest first."""
    done: list[ExportedDay] = []
    day = first
    while day <= last:
        exported = await export_day(store, sink, day)
        done.append(exported)
        if on_day is not None:
            on_day(exported)
        day += timedelta(days=1)
    return done
