"""Properties of the parts rule over any day: random records per hour and any PART_ROWS give
contiguous parts covering hours 0-23 once each, each closing at the first hour it reaches
PART_ROWS (or at the day's end); going on from any part boundary gives the same parts, and the
folder of the parts written so far says where to go on from."""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.trail.layout import (
    HOURS,
    boundary_error,
    first_uncovered,
    hours_of,
    is_part,
    part_key,
    parts,
)

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
