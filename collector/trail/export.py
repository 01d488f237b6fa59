"""A store's records as one Parquet object per UTC hour, in the hour's day folder of a sink.

The object of hour H of day D is `day=D/audit-trail-D-HH.parquet`: a fixed name, so exporting the
hour again (after a late record, or just again) replaces it, and an unchanged hour is rewritten
byte for byte. The Glue partition stays the day: Athena and DuckDB read every object of a day's
folder. A store holds one record per key, so redeliveries never become rows. An hour with no
records has no object; exporting a day removes every other object of its folder (an hour found
empty, the one-object-per-day file of earlier versions, anything left by hand), so each exported
day holds exactly the store's records of that day.

Hours are read with the store protocol's `oldest_first` (the same call on SQLite and DynamoDB), a
page of PAGE_RECORDS at a time, and written as they are read into a file in a scratch folder that
the sink then takes: memory holds one row group, never the hour (collector.trail.writer).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from collector.store import AuditStore
from collector.trail.schema import PARTITION
from collector.trail.writer import TrailFile

PAGE_RECORDS = 1000  # records read from the store at a time
HOURS = range(24)


class Sink(Protocol):
    """Where the objects go: a local folder here, S3 in the stack. Keys use `/`."""

    async def put(self, key: str, source: Path) -> None:
        """Create or replace the object with the bytes of the file `source`."""

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str) -> list[str]:
        """The keys that start with `prefix`, sorted."""


class FolderSink:
    """A local folder; each object is copied to a temporary file and renamed over the old one,
    so a reader (or a crash) never sees half an object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, source: Path) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(source, temporary)
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
class ExportedHour:
    start: datetime  # UTC
    key: str  # the hour's object (absent when rows is 0)
    rows: int
    size: int  # bytes of the object


@dataclass(frozen=True)
class ExportedDay:
    day: date
    hours: tuple[ExportedHour, ...]  # the hours read, each with records or not
    deleted: tuple[str, ...] = ()  # objects removed from the day's folder

    @property
    def rows(self) -> int:
        return sum(h.rows for h in self.hours)

    @property
    def written(self) -> tuple[ExportedHour, ...]:
        return tuple(h for h in self.hours if h.rows)


def day_prefix(day: date) -> str:
    return f"{PARTITION}={day.isoformat()}/"


def hour_start(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


def hour_key(day: date, hour: int) -> str:
    return f"{day_prefix(day)}audit-trail-{day.isoformat()}-{hour:02d}.parquet"


async def export_hour(store: AuditStore, sink: Sink, day: date, hour: int, scratch: Path) -> ExportedHour:
    """Read the hour oldest first and write it as its object (nothing when it has no records)."""
    since = hour_start(day, hour)
    until = since + timedelta(hours=1) - timedelta(milliseconds=1)
    key = hour_key(day, hour)
    path = scratch / f"{day.isoformat()}-{hour:02d}.parquet"
    out = TrailFile(path)
    try:
        async for page in store.oldest_first(since, until, PAGE_RECORDS):
            out.add(page)
        rows = out.close()
        size = path.stat().st_size if rows else 0
        if rows:
            await sink.put(key, path)
    finally:
        path.unlink(missing_ok=True)
    return ExportedHour(since, key, rows, size)


async def export_day(
    store: AuditStore,
    sink: Sink,
    day: date,
    settled: Collection[int] = (),
    on_hour: Callable[[ExportedHour], None] | None = None,
) -> ExportedDay:
    """Export each hour of the day but those `settled` (whose objects the caller knows to hold
    them whole), then delete every object of the day's folder that is no settled or written hour's."""
    existing = await sink.list(day_prefix(day))
    done: list[ExportedHour] = []
    with tempfile.TemporaryDirectory(prefix="trail-") as scratch:
        for hour in HOURS:
            if hour in settled:
                continue
            exported = await export_hour(store, sink, day, hour, Path(scratch))
            done.append(exported)
            if on_hour is not None:
                on_hour(exported)
    keep = {hour_key(day, h) for h in settled} | {h.key for h in done if h.rows}
    stale = tuple(k for k in existing if k not in keep)
    for old in stale:
        await sink.delete(old)
    return ExportedDay(day, tuple(done), stale)


async def export(
    store: AuditStore,
    sink: Sink,
    first: date,
    last: date,
    on_day: Callable[[ExportedDay], None] | None = None,
) -> list[ExportedDay]:
    """Export each day from `first` to `last` (inclusive, UTC), oldest first, hour by hour."""
    done: list[ExportedDay] = []
    day = first
    while day <= last:
        exported = await export_day(store, sink, day)
        done.append(exported)
        if on_day is not None:
            on_day(exported)
        day += timedelta(days=1)
    return done
