"""Properties of the parts rule over any day: random records per hour and any PART_ROWS give
contiguous parts covering hours 0-23 once each, each closing at the first hour it reaches
PART_ROWS (or at the day's end); going on from any part boundary gives the same parts, and the
folder of the parts written so far says where to go on from. And the streamed export (SQLite)
writes exactly the rule's parts, stopped or not."""

from __future__ import annotations

import itertools
import tempfile
from datetime import date
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.store.sqlite import SqliteStore
from collector.trail import layout
from collector.trail.export import ExportedDay, FolderSink, export_day
from collector.trail.layout import (
    HOURS,
    boundary_error,
    first_uncovered,
    hours_of,
    is_part,
    part_key,
    parts,
)
from tests.conftest import run

DAY = date(2026, 3, 1)
counts = st.lists(st.integers(0, 40), min_size=24, max_size=24)
part_rows = st.integers(1, 120)


@settings(max_examples=300, deadline=None)
@given(counts, part_rows)
def test_parts_are_contiguous_whole_and_close_at_the_first_hour_reaching_part_rows(
    hourly: list[int], rows: int
) -> None:
    found = parts(hourly, 0, rows)
    assert found[0].first == 0 and found[-1].last == 23
    assert all(a.last + 1 == b.first for a, b in itertools.pairwise(found))
    assert sum(p.rows for p in found) == sum(hourly)
    seen = [h for p in found for h in range(p.first, p.last + 1)]
    assert seen == list(HOURS)  # every hour once: no gap, no overlap
    for part in found:
        assert part.rows == sum(hourly[part.first : part.last + 1])
        running = [sum(hourly[part.first : h + 1]) for h in range(part.first, part.last + 1)]
        assert all(r < rows for r in running[:-1])  # no earlier hour of it reached PART_ROWS
        assert running[-1] >= rows or part.last == 23
        assert part.rows or part.last == 23  # a part that closes early has an object


@settings(max_examples=300, deadline=None)
@given(counts, part_rows)
def test_going_on_from_any_boundary_gives_the_same_parts(hourly: list[int], rows: int) -> None:
    found = parts(hourly, 0, rows)
    for n, part in enumerate(found):
        assert parts(hourly, part.first, rows) == found[n:]
        written = [part_key(DAY, p.first, p.last) for p in found[:n] if p.rows]
        assert first_uncovered(DAY, written) == part.first  # where the schedule goes on
        assert boundary_error(DAY, written, part.first) is None  # a backfill may go on there
    every = [part_key(DAY, p.first, p.last) for p in found if p.rows]
    assert first_uncovered(DAY, every) == (None if found[-1].rows else found[-1].first)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 23), st.integers(0, 23))
def test_names_say_their_hours_and_old_hourly_names_cover_their_hour(a: int, b: int) -> None:
    first, last = min(a, b), max(a, b)
    key = part_key(DAY, first, last)
    assert key == f"day=2026-03-01/audit-trail-2026-03-01-{first:02d}-{last:02d}.parquet"
    assert hours_of(DAY, key) == (first, last) and is_part(DAY, key)
    hourly = f"day=2026-03-01/audit-trail-2026-03-01-{a:02d}.parquet"
    assert hours_of(DAY, hourly) == (a, a) and not is_part(DAY, hourly)
    if first < last:
        assert hours_of(DAY, f"day=2026-03-01/audit-trail-2026-03-01-{last:02d}-{first:02d}.parquet") is None
    for other in (
        f"day=2026-03-02/audit-trail-2026-03-01-{first:02d}-{last:02d}.parquet",  # another day's folder
        f"day=2026-03-01/audit-trail-2026-03-02-{first:02d}-{last:02d}.parquet",  # another day's name
        f"day=2026-03-01/audit-trail-2026-03-01-{first:02d}-24.parquet",  # no hour 24
        "day=2026-03-01/audit-trail-2026-03-01.parquet",  # one object a day, earlier versions
        "day=2026-03-01/left-by-hand.parquet",
    ):
        assert hours_of(DAY, other) is None


def _store_with(db: Path, hourly: list[int]) -> None:
    async def go() -> None:
        store = SqliteStore(db)
        try:
            for hour, count in enumerate(hourly):
                for n in range(count):
                    at = f"{DAY}T{hour:02d}:{n:02d}:00.000Z"
                    await store.put_once(
                        {
                            "invocationId": f"{hour}-{n}",
                            "receivedAt": at,
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


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from([0, 0, 0, 1, 2, 3]), min_size=24, max_size=24),
    st.integers(1, 8),
    st.integers(1, 6),  # parts a run may start (at least one: each run goes on)
)
def test_the_export_writes_the_rules_parts_and_a_stopped_export_goes_on_to_the_same_bytes(
    hourly: list[int], rows: int, allowed: int
) -> None:
    """The streamed export against the rule: the parts it writes are `parts` with records, and an
    export stopped after `allowed` parts, then continued from where it said, writes the same
    objects and bytes as one that did not stop."""
    with tempfile.TemporaryDirectory() as folder, patch.object(layout, "PART_ROWS", rows):
        db = Path(folder) / "audit.sqlite3"
        _store_with(db, hourly)
        whole = _export(db, Path(folder) / "whole", 0, None)
        assert [(p.first, p.last, p.rows) for p in whole.parts] == [
            (p.first, p.last, p.rows) for p in parts(hourly) if p.rows
        ]
        out = Path(folder) / "stopped"
        done = _export(db, out, 0, allowed)
        for _ in HOURS:  # each run writes a part at least: the day ends within 24 runs
            if done.continues is None:
                break
            assert first_uncovered(DAY, _files(out)) == done.continues  # what the schedule's LIST says
            done = _export(db, out, done.continues, allowed)
        assert done.continues is None
        assert _files(out) == _files(Path(folder) / "whole")
