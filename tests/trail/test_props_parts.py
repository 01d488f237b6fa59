"""Properties of the parts rule over any day: random records per minute and any PART_ROWS give
contiguous parts covering 00:00-23:59 once each, each closing at the first minute it reaches
PART_ROWS when a record follows (else at 23:59); going on from any part boundary gives the same
parts, and the folder of the parts written so far says where to go on from. The coverage walk:
for any folder (parts, the hourly, hour-range and one-a-day objects of earlier versions, overlaps,
gaps), repairing where it
says (the rule's part, then deleting what it replaces) ends with a whole day, each record once.
And the streamed export (SQLite) writes exactly the rule's parts, stopped or not, and repairs a
folder as the model does."""

from __future__ import annotations

import itertools
import tempfile
from datetime import date
from pathlib import Path
from unittest.mock import patch

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.store.sqlite import SqliteStore
from collector.trail import layout
from collector.trail.export import ExportedDay, FolderSink, export_day
from collector.trail.layout import (
    LAST_MINUTE,
    MINUTES,
    boundary_error,
    part_key,
    parts,
    span_of,
    walk,
)
from tests.conftest import run

DAY = date(2026, 3, 1)
busy = st.dictionaries(st.integers(0, LAST_MINUTE), st.integers(1, 40), max_size=40)
part_rows = st.integers(1, 120)


def counts_of(minutes: dict[int, int]) -> list[int]:
    counts = [0] * MINUTES
    for minute, count in minutes.items():
        counts[minute] = count
    return counts


@settings(max_examples=300, deadline=None)
@given(busy, part_rows)
def test_parts_are_contiguous_whole_and_close_at_the_first_minute_reaching_part_rows(
    minutes: dict[int, int], rows: int
) -> None:
    counts = counts_of(minutes)
    found = parts(counts, 0, rows)
    assert found[0].first == 0 and found[-1].last == LAST_MINUTE
    assert all(a.last + 1 == b.first for a, b in itertools.pairwise(found))
    assert sum(p.rows for p in found) == sum(counts)
    for part in found:
        assert part.rows == sum(counts[part.first : part.last + 1])
        running = list(itertools.accumulate(counts[part.first : part.last + 1]))
        follows = [any(counts[m + 1 :]) for m in range(part.first, part.last + 1)]
        closing = [r >= rows and f for r, f in zip(running, follows, strict=True)]
        assert not any(closing[:-1])  # no earlier minute of it closed it
        assert closing[-1] or part.last == LAST_MINUTE
        assert part.rows or len(found) == 1  # only a day with no records has an empty part
    assert not any(counts[found[-1].first :]) or found[-1].rows  # the last part reaches 23:59


@settings(max_examples=300, deadline=None)
@given(busy, part_rows)
def test_going_on_from_any_boundary_gives_the_same_parts(minutes: dict[int, int], rows: int) -> None:
    counts = counts_of(minutes)
    found = parts(counts, 0, rows)
    for n, part in enumerate(found):
        assert parts(counts, part.first, rows) == found[n:]
        written = [part_key(DAY, p.first, p.last) for p in found[:n]]
        assert walk(DAY, written).start == part.first  # where the schedule goes on
        assert boundary_error(DAY, written, part.first) is None  # a backfill may go on there
    every = [part_key(DAY, p.first, p.last) for p in found]
    assert walk(DAY, every).start is None  # the day is whole: LIST only from now on


@settings(max_examples=200, deadline=None)
@given(st.integers(0, LAST_MINUTE), st.integers(0, LAST_MINUTE), st.integers(0, 23))
def test_names_say_their_minutes_and_old_hourly_names_cover_their_hour(a: int, b: int, hour: int) -> None:
    first, last = min(a, b), max(a, b)
    key = part_key(DAY, first, last)
    name = f"{first // 60:02d}{first % 60:02d}-{last // 60:02d}{last % 60:02d}"
    assert key == f"day=2026-03-01/audit-trail-2026-03-01-{name}.parquet"
    assert span_of(DAY, key) == (first, last)
    hourly = f"day=2026-03-01/audit-trail-2026-03-01-{hour:02d}.parquet"
    assert span_of(DAY, hourly) == (hour * 60, hour * 60 + 59)
    for other in (
        f"day=2026-03-02/audit-trail-2026-03-01-{name}.parquet",  # another day's folder
        "day=2026-03-01/audit-trail-2026-03-01-2400-2400.parquet",  # no minute 24:00
        "day=2026-03-01/audit-trail-2026-03-01-0060-0100.parquet",  # no minute :60
        "day=2026-03-01/audit-trail-2026-03-01-0100-0000.parquet",  # backwards
        "day=2026-03-01/audit-trail-2026-03-01-24.parquet",  # no hour 24
        "day=2026-03-01/left-by-hand.parquet",
    ):
        assert span_of(DAY, other) is None
    # Earlier versions' names: one object a day, and the unreleased hour ranges D-HH-HH.
    assert span_of(DAY, "day=2026-03-01/audit-trail-2026-03-01.parquet") == (0, LAST_MINUTE)
    low, high = sorted((a // 60, b // 60))
    ranged = f"day=2026-03-01/audit-trail-2026-03-01-{low:02d}-{high:02d}.parquet"
    assert span_of(DAY, ranged) == (low * 60, high * 60 + 59)
    if low < high:
        assert span_of(DAY, f"day=2026-03-01/audit-trail-2026-03-01-{high:02d}-{low:02d}.parquet") is None


# A folder: objects, each holding exactly the records of its minutes (a part of this rule, a part
# of another PART_ROWS, a range left by a stopped export, and the names of earlier versions: an
# hourly object, an unreleased hour range D-HH-HH, one object a day).
WHOLE_DAY = f"day={DAY}/audit-trail-{DAY}.parquet"
spans = st.lists(
    st.one_of(
        st.integers(0, 23).map(lambda h: f"day={DAY}/audit-trail-{DAY}-{h:02d}.parquet"),
        st.tuples(st.integers(0, LAST_MINUTE), st.integers(0, 300)).map(
            lambda t: part_key(DAY, t[0], min(LAST_MINUTE, t[0] + t[1]))
        ),
        st.tuples(st.integers(0, 23), st.integers(0, 23)).map(
            lambda t: f"day={DAY}/audit-trail-{DAY}-{min(t):02d}-{max(t):02d}.parquet"
        ),
        st.just(WHOLE_DAY),
    ),
    max_size=12,
)


def folder_of(keys: list[str]) -> dict[str, tuple[int, int]]:
    found = {k: span_of(DAY, k) for k in keys}
    return {k: span for k, span in found.items() if span is not None}


def repaired(counts: list[int], folder: dict[str, tuple[int, int]], rows: int) -> dict[str, tuple[int, int]]:
    """Apply the walk's repair until the day is whole: the model of what each run does."""
    folder = dict(folder)
    for _ in range(MINUTES + len(folder) + 1):
        start = walk(DAY, folder).start
        if start is None:
            return folder
        part = parts(counts, start, rows)[0]
        key = part_key(DAY, part.first, part.last)
        for old, (a, b) in list(folder.items()):
            if old != key and a <= part.last and part.first <= b:
                del folder[old]
        folder[key] = (part.first, part.last)
    raise AssertionError("the walk's repair did not end")


@settings(max_examples=400, deadline=None)
@given(busy, part_rows, spans, st.booleans())
def test_the_walks_repair_reaches_a_whole_day_with_every_record_once(
    minutes: dict[int, int], rows: int, objects: list[str], with_rule_parts: bool
) -> None:
    counts = counts_of(minutes)
    folder = folder_of(objects)
    assert len(folder) == len(set(objects))  # every name says its minutes
    if with_rule_parts:  # some of the rule's own parts too (a run that stopped, or failed)
        folder |= {part_key(DAY, p.first, p.last): (p.first, p.last) for p in parts(counts, 0, rows)[::2]}
    done = repaired(counts, folder, rows)
    covered = sorted(m for a, b in done.values() for m in range(a, b + 1))
    assert covered == list(range(MINUTES))  # every minute once: every record once
    assert walk(DAY, done).start is None
    assert repaired(counts, done, rows) == done  # whole: nothing more to do


def _store_with(db: Path, counts: list[int]) -> None:
    async def go() -> None:
        store = SqliteStore(db)
        try:
            for minute, count in enumerate(counts):
                for n in range(count):
                    await store.put_once(
                        {
                            "invocationId": f"{minute}-{n}",
                            "receivedAt": f"{DAY}T{minute // 60:02d}:{minute % 60:02d}:{n:02d}.000Z",
                            "receivedDay": str(DAY),
                            "status": "RECORDED",
                        }
                    )
        finally:
            await store.close()

    run(go())


def _export(db: Path, out: Path, start: int, allowed: int | None) -> ExportedDay:
    asked = [0]

    def may_start() -> bool:
        asked[0] += 1
        return allowed is None or asked[0] <= allowed

    async def go() -> ExportedDay:
        store = SqliteStore(db, read_only=True)
        try:
            return await export_day(store, FolderSink(out), DAY, start, may_start=may_start)
        finally:
            await store.close()

    return run(go())


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


few = st.dictionaries(st.integers(0, LAST_MINUTE), st.integers(1, 3), max_size=12)


@settings(max_examples=25, deadline=None)
@given(
    few,
    st.integers(1, 8),
    st.integers(1, 6),  # parts a run may start (at least one: each run goes on)
)
def test_the_export_writes_the_rules_parts_and_a_stopped_export_goes_on_to_the_same_bytes(
    minutes: dict[int, int], rows: int, allowed: int
) -> None:
    """The streamed export against the rule: the parts it writes are `parts` (an empty one for a
    day with no records), and an export stopped after `allowed` parts, then continued from where
    the walk says, writes the same objects and bytes as one that did not stop."""
    counts = counts_of(minutes)
    with tempfile.TemporaryDirectory() as folder, patch.object(layout, "PART_ROWS", rows):
        db = Path(folder) / "audit.sqlite3"
        _store_with(db, counts)
        whole = _export(db, Path(folder) / "whole", 0, None)
        assert [(p.first, p.last, p.rows) for p in whole.parts] == [
            (p.first, p.last, p.rows) for p in parts(counts)
        ]
        out = Path(folder) / "stopped"
        done = _export(db, out, 0, allowed)
        for _ in range(MINUTES):  # each run writes a part at least
            if done.continues is None:
                break
            assert walk(DAY, _files(out)).start == done.continues  # what the schedule's LIST says
            done = _export(db, out, done.continues, allowed)
        assert done.continues is None
        assert _files(out) == _files(Path(folder) / "whole")


@settings(max_examples=15, deadline=None)
@given(few, st.integers(1, 6), spans)
def test_the_export_repairs_any_folder_to_each_record_once(
    minutes: dict[int, int], rows: int, objects: list[str]
) -> None:
    """Objects holding the records of their minutes (hourly, other boundaries, overlaps, gaps):
    exporting from where the walk says, one part a run, ends whole with every record once."""
    from collector.trail.writer import parquet_bytes

    counts = counts_of(minutes)
    records = [
        {
            "invocationId": f"{m}-{n}",
            "receivedAt": f"{DAY}T{m // 60:02d}:{m % 60:02d}:{n:02d}.000Z",
            "receivedDay": str(DAY),
            "status": "RECORDED",
        }
        for m, count in enumerate(counts)
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory() as folder, patch.object(layout, "PART_ROWS", rows):
        db = Path(folder) / "audit.sqlite3"
        _store_with(db, counts)
        out = Path(folder) / "trail"
        (out / f"day={DAY}").mkdir(parents=True)
        for name, (a, b) in folder_of(objects).items():
            held = [r for r in records if a * 60 <= _second(r) < (b + 1) * 60]
            (out / name).write_bytes(parquet_bytes(held))
        for _ in range(MINUTES + len(objects) + 1):
            start = walk(DAY, _files(out)).start
            if start is None:
                break
            _export(db, out, start, 1)
        assert walk(DAY, _files(out)).start is None
        found = [
            k
            for p in sorted(out.rglob("*.parquet"))
            for k in pq.read_table(p).column("invocation_id").to_pylist()
        ]
        assert sorted(found) == sorted(str(r["invocationId"]) for r in records)


def _second(record: dict[str, str]) -> int:
    at = record["receivedAt"]
    return (int(at[11:13]) * 60 + int(at[14:16])) * 60 + int(at[17:19])
