"""A store's records as Parquet parts in its day folders of a sink (collector.trail.layout).

A day's records are one or more parts, each the consecutive whole UTC hours
`day=D/audit-trail-D-HH-HH.parquet` names (first and last hour): a part closes at the end of the
first hour at which it holds PART_ROWS records, or at the end of the day, so a small or medium
day is one object and the same records give the same parts, names and bytes (exporting again
replaces each object with itself). The Glue partition is the day: Athena and DuckDB read every
object of a day's folder. A store holds one record per key, so redeliveries never become rows. A
part with no records has no object; exporting a day removes every other object of its folder
(the hourly objects of earlier versions, parts with other boundaries, anything left by hand) once
its new parts are written, so each exported day holds exactly the store's records of that day.

Each part is read with the store protocol's `oldest_first` (the same call on SQLite and
DynamoDB) from its first hour, a page of PAGE_RECORDS at a time, and written as it is read into
a file in a scratch folder that the sink then takes: memory holds one row group, never the part
(collector.trail.writer). pyarrow is imported when a part has its first record, not before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from collector.store import AuditStore
from collector.trail.layout import (
    LAST_HOUR,
    closes,
    day_end,
    day_prefix,
    hour_start,
    hours_of,
    part_key,
)

if TYPE_CHECKING:
    from collector.trail.writer import TrailFile

__all__ = [
    "ExportedDay",
    "ExportedPart",
    "FolderSink",
    "Sink",
    "day_prefix",
    "export",
    "export_day",
    "export_part",
]

PAGE_RECORDS = 1000  # records read from the store at a time


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
class ExportedPart:
    first: int  # hours of the day covered, inclusive
    last: int
    key: str  # the part's object (absent when rows is 0)
    rows: int
    size: int  # bytes of the object


@dataclass(frozen=True)
class ExportedDay:
    day: date
    parts: tuple[ExportedPart, ...]  # the parts written, each with records
    deleted: tuple[str, ...] = ()  # objects removed from the day's folder
    start: int = 0  # the first hour read
    continues: int | None = None  # a budget stop: the hour the day goes on from; None: done

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)


def _hour_of(record: Mapping[str, Any]) -> int:
    """The UTC hour of a record's receivedAt (`YYYY-MM-DDTHH:...`, as the stores keep it)."""
    return int(str(record["receivedAt"])[11:13])


def _closing_hour(rows: int, first: int, until: int) -> int | None:
    """The first hour of first..until-1 at whose end a part holding `rows` records closes."""
    return next((h for h in range(first, until) if closes(rows, h)), None)


async def export_part(
    store: AuditStore,
    sink: Sink,
    day: date,
    first: int,
    scratch: Path,
    prepare: Callable[[], None] | None = None,
) -> ExportedPart:
    """Read the day from hour `first` oldest first until the part closes by the rule, and write
    it as its object (nothing when it has no records). `prepare` runs before the first file is
    made (the exporter checks its pyarrow's codec there)."""
    since = hour_start(day, first)
    until = day_end(day) - timedelta(milliseconds=1)
    path = scratch / f"{day.isoformat()}-{first:02d}.parquet"
    out: TrailFile | None = None
    rows, hour, last = 0, first, None
    try:
        pages = store.oldest_first(since, until, PAGE_RECORDS)
        try:
            async for page in pages:
                take = 0
                for record in page:
                    at = _hour_of(record)
                    if at > hour:
                        last = _closing_hour(rows + take, hour, at)
                        if last is not None:
                            break
                        hour = at
                    take += 1
                if take:
                    if out is None:
                        out = _new_file(path, prepare)
                    out.add(page[:take] if take < len(page) else page)
                    rows += take
                if last is not None:
                    break  # the next part's first record: it reads them again from its first hour
        finally:
            close = getattr(pages, "aclose", None)  # an async generator: let its read end now
            if close is not None:
                await close()
        if last is None:
            last = _closing_hour(rows, hour, LAST_HOUR + 1)
            assert last is not None  # the last hour always closes
        written = out.close() if out is not None else 0
        key = part_key(day, first, last)
        size = path.stat().st_size if written else 0
        if written:
            await sink.put(key, path)
    finally:
        path.unlink(missing_ok=True)
    return ExportedPart(first, last, key, written, size)


def _new_file(path: Path, prepare: Callable[[], None] | None) -> TrailFile:
    if prepare is not None:
        prepare()
    from collector.trail.writer import TrailFile  # pyarrow: only once a part has records

    return TrailFile(path)


async def export_day(
    store: AuditStore,
    sink: Sink,
    day: date,
    start: int = 0,
    *,
    existing: Sequence[str] | None = None,
    may_start: Callable[[], bool] | None = None,
    prepare: Callable[[], None] | None = None,
) -> ExportedDay:
    """Export the day's parts from hour `start` (0, or where an earlier part ended: the objects
    that end before it are kept), asking `may_start` before each part (False: stop there, the
    day continues from that hour). Then delete the folder's objects the new parts replace: every
    other object once the day is done; after a stop only those inside the hours written, so no
    hour is lost before its new part exists. `existing` is the folder's listing, when the caller
    has it."""
    listed = await sink.list(day_prefix(day)) if existing is None else list(existing)
    before = {k for k in listed if (span := hours_of(day, k)) is not None and span[1] < start}
    done: list[ExportedPart] = []
    hour = start
    with tempfile.TemporaryDirectory(prefix="trail-") as scratch:
        while hour <= LAST_HOUR:
            if may_start is not None and not may_start():
                break
            part = await export_part(store, sink, day, hour, Path(scratch), prepare)
            if part.rows:
                done.append(part)
            hour = part.last + 1
    continues = hour if hour <= LAST_HOUR else None
    stale = tuple(k for k in listed if _replaced(day, k, {p.key for p in done} | before, start, continues))
    for old in stale:
        await sink.delete(old)
    return ExportedDay(day, tuple(done), stale, start, continues)


def _replaced(day: date, key: str, keep: Collection[str], start: int, continues: int | None) -> bool:
    if key in keep:
        return False
    if continues is None:
        return True
    span = hours_of(day, key)
    return span is not None and start <= span[0] and span[1] < continues


async def export(
    store: AuditStore,
    sink: Sink,
    first: date,
    last: date,
    on_day: Callable[[ExportedDay], None] | None = None,
) -> list[ExportedDay]:
    """Export each day from `first` to `last` (inclusive, UTC), oldest first, part by part."""
    done: list[ExportedDay] = []
    day = first
    while day <= last:
        exported = await export_day(store, sink, day)
        done.append(exported)
        if on_day is not None:
            on_day(exported)
        day += timedelta(days=1)
    return done
