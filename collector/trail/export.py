"""A store's records as Parquet parts in its day folders of a sink (collector.trail.layout).

A day's records are one or more parts, each the consecutive whole UTC minutes
`day=D/audit-trail-D-HHMM-HHMM.parquet` names (first and last minute): a part closes at the end
of the first minute at which it holds PART_ROWS records (looking one record ahead: when no record
of the day follows, at 23:59), so a small or medium day is one object and the same records give
the same parts, names and bytes (exporting again replaces each object with itself). The Glue
partition is the day: Athena and DuckDB read every object of a day's folder. A store holds one
record per key, so redeliveries never become rows. A part with no records (a day with none) is
an empty Parquet file, so the folder still says the day is done.

Right after each part is written, the folder's other objects whose minutes meet the part's are
deleted (the one-a-day and hourly objects of earlier versions, parts with other boundaries); names
that say no minutes (anything left by hand) go once the day's last part is written. So a reader
may find a replaced range briefly missing (an old object that reached past the part, until the
next part is written), never doubled for good: a run that fails between a PUT and its deletes
leaves an overlap that the next run's walk repairs.

Each part is read with the store protocol's `oldest_first` (the same call on SQLite and
DynamoDB) from its first minute, a page of PAGE_RECORDS at a time, and written as it is read into
a file in a scratch folder that the sink then takes: memory holds one row group, never the part
(collector.trail.writer). pyarrow is imported when a part has its first record (or is the empty
part of a day with none), not before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from collector.config import ConfigError
from collector.store import AuditStore
from collector.trail import layout
from collector.trail.footer import rows_in_file
from collector.trail.layout import (
    LAST_MINUTE,
    Part,
    day_end,
    day_prefix,
    minute_start,
    most_rows,
    part_key,
    span_of,
)

if TYPE_CHECKING:
    from collector.trail.writer import TrailFile

__all__ = [
    "ExportedDay",
    "ExportedPart",
    "FolderSink",
    "Sink",
    "TrailWouldShrink",
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

    async def rows(self, key: str) -> int | None:
        """The rows the object's Parquet footer records; None: not a Parquet file."""


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

    async def rows(self, key: str) -> int | None:
        return rows_in_file(self.root / key)


@dataclass(frozen=True)
class ExportedPart:
    first: int  # minutes of the day covered, inclusive (0 = 00:00)
    last: int
    key: str  # the part's object
    rows: int
    size: int  # bytes of the object (0: not written, a day with no records outside the trail)


@dataclass(frozen=True)
class ExportedDay:
    day: date
    parts: tuple[ExportedPart, ...]  # the parts written
    deleted: tuple[str, ...] = ()  # objects removed from the day's folder
    start: int = 0  # the first minute read
    continues: int | None = None  # a budget stop: the minute the day goes on from; None: done

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)


def _minute_of(record: Mapping[str, Any]) -> int:
    """The UTC minute of the day of a record's receivedAt (`YYYY-MM-DDTHH:MM...`, as stored)."""
    text = str(record["receivedAt"])
    return int(text[11:13]) * 60 + int(text[14:16])


async def export_part(
    store: AuditStore,
    sink: Sink,
    day: date,
    first: int,
    scratch: Path,
    prepare: Callable[[], None] | None = None,
    empty: bool = True,
) -> ExportedPart:
    """Read the day from minute `first` oldest first until the part closes by the rule, and write
    it as its object: the part ends at the first minute reaching PART_ROWS after which the read
    finds another record of the day (that record is the next part's first), else at 23:59. With
    no records an empty file is written (none when `empty` is False). `prepare` runs before the
    first file is made (the exporter checks its pyarrow's codec there)."""
    since = minute_start(day, first)
    until = day_end(day) - timedelta(milliseconds=1)
    path = scratch / f"{day.isoformat()}-{first:04d}.parquet"
    out: TrailFile | None = None
    rows, minute, last = 0, first, None
    try:
        pages = store.oldest_first(since, until, PAGE_RECORDS)
        try:
            async for page in pages:
                take = 0
                for record in page:
                    at = _minute_of(record)
                    if at > minute:
                        if rows + take >= layout.PART_ROWS:
                            last = minute  # a record follows: the part closes here
                            break
                        minute = at
                    take += 1
                if take:
                    if out is None:
                        out = _new_file(path, prepare)
                    out.add(page[:take] if take < len(page) else page)
                    rows += take
                if last is not None:
                    break  # the next part's first record: it reads them again from its first minute
        finally:
            close = getattr(pages, "aclose", None)  # an async generator: let its read end now
            if close is not None:
                await close()
        if last is None:
            last = LAST_MINUTE  # no record follows: the day's last part reaches its end
        if out is None and empty:
            out = _new_file(path, prepare)
        written = out.close(empty=True) if out is not None else 0
        key = part_key(day, first, last)
        size = path.stat().st_size if out is not None else 0
        if out is not None:
            await sink.put(key, path)
    finally:
        path.unlink(missing_ok=True)
    return ExportedPart(first, last, key, written, size)


def _new_file(path: Path, prepare: Callable[[], None] | None) -> TrailFile:
    if prepare is not None:
        prepare()
    from collector.trail.writer import TrailFile  # pyarrow: only once a part is written

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
    empty: bool = True,
    force: bool = False,
) -> ExportedDay:
    """Export the day's parts from minute `start` (00:00, or where an earlier part ended: the
    objects before it are kept), asking `may_start` before each part (False: stop there, the day
    goes on from that minute). Right after each part is written, the folder's other objects whose
    minutes meet the part's are deleted; names that say no minutes go after the day's last part.
    `existing` is the folder's listing, when the caller has it. `empty` False: a day with no
    records gets no empty file (the local export), its folder is only emptied. The day is refused
    (TrailWouldShrink) where its folder holds more records than the store now does, unless
    `force`: from 00:00 or from a later minute alike, since a continuation also deletes the
    objects its parts replace (whole-day counts: a folder the earlier parts of the same export
    rewrote holds each of the day's records once)."""
    listed = await sink.list(day_prefix(day)) if existing is None else list(existing)
    if not force:
        await check_kept(store, sink, day, listed)
    done: list[ExportedPart] = []
    deleted: list[str] = []
    minute = start
    with tempfile.TemporaryDirectory(prefix="trail-") as scratch:
        while minute <= LAST_MINUTE:
            if may_start is not None and not may_start():
                break
            part = await export_part(store, sink, day, minute, Path(scratch), prepare, empty)
            if part.size:
                done.append(part)
            stale = [k for k in listed if _replaced(day, k, part)]
            for old in stale:
                await sink.delete(old)
            deleted += stale
            listed = [k for k in listed if k not in stale]
            minute = part.last + 1
    continues = minute if minute <= LAST_MINUTE else None
    return ExportedDay(day, tuple(done), tuple(deleted), start, continues)


class TrailWouldShrink(ConfigError):
    """Replacing the day would lose records the trail holds and the store no longer does."""


async def check_kept(store: AuditStore, sink: Sink, day: date, listed: Sequence[str]) -> None:
    """Refuse to replace (any of) a day when the store holds fewer of its records than its
    folder's objects do (their Parquet footers; objects whose minutes overlap counted once): the
    table keeps a few days (TTL) and the trail the year, so a backfill of an older day would
    otherwise swap the day's records for what is left of them. Nothing is read where the folder
    has no named object; the store is counted only where an object holds rows."""
    held: list[Part] = []
    for key in listed:
        span = span_of(day, key)
        rows = None if span is None else await sink.rows(key)
        if span is not None and rows:
            held.append(Part(span[0], span[1], rows))
    if not held:
        return
    trail = most_rows(held)
    stored = sum(t.records for t in (await store.tally(day)).values())
    if stored < trail:
        raise TrailWouldShrink(
            f"{day} is not replaced: the trail holds {trail} of its records, the store {stored} (TTL"
            " may have expired the rest from the table); replacing the day would lose them. To"
            ' replace it anyway, add "force": true to the event (or --force to export)'
        )


def _replaced(day: date, key: str, part: ExportedPart) -> bool:
    """Whether a part just written replaces the folder's object `key`: its minutes meet the
    part's, or it says no minutes and the part ends the day."""
    if key == part.key and part.size:
        return False
    span = span_of(day, key)
    if span is None:
        return part.last == LAST_MINUTE
    return span[0] <= part.last and part.first <= span[1]


async def export(
    store: AuditStore,
    sink: Sink,
    first: date,
    last: date,
    on_day: Callable[[ExportedDay], None] | None = None,
    empty: bool = False,
    force: bool = False,
) -> list[ExportedDay]:
    """Export each day from `first` to `last` (inclusive, UTC), oldest first, part by part: the
    local export, where a day with no records gets no file unless `empty` (`export_day`; `force`:
    replace a day even where the store holds fewer of its records than the folder)."""
    done: list[ExportedDay] = []
    day = first
    while day <= last:
        exported = await export_day(store, sink, day, empty=empty, force=force)
        done.append(exported)
        if on_day is not None:
            on_day(exported)
        day += timedelta(days=1)
    return done
