"""Where a day's records go in the trail: its parts, their names, and which hours a folder covers.

A day's records (UTC, by `receivedAt`) are one or more *parts*, each covering consecutive whole
hours and named by its first and last hour (inclusive): `day=D/audit-trail-D-HH-HH.parquet`. The
rule, the same for every deployment and every run: a part starts at hour 0 (or where the
previous part ended) and closes at the end of the first hour at which it holds at least
PART_ROWS records, or at the end of the day. So the same records give the same parts (and the
writer the same bytes), and an export that stopped at a part boundary and went on from there
gives the parts of one that did not stop. A part with no records has no object; a small or
medium day is one object, `...-00-23.parquet`.

Earlier versions wrote one object per hour, `day=D/audit-trail-D-HH.parquet`: such an object
covers its hour HH..HH, so a folder of them counts as covered and is kept as it is.

No pyarrow here: the exporter decides from a LIST whether there is anything to write before it
imports the writer, and the benchmarks read the rule without the `trail` extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from collector.trail.schema import PARTITION

# A part closes at the end of the first hour holding at least this many records. A part is
# written by one exporter run (Lambda: 15 minutes, 3008 MB): the bench wrote 1.07 million records
# in about 129 s, so a part of PART_ROWS plus the busiest hour that closes it (about 1.07 million
# at 10 million messages a day), some 3.1 million records, takes about 6 minutes and about 320 MB
# of /tmp (about 103 bytes a record, under the function's 512 MB): well inside one run, with room
# for a slower day. Up to 2 million records a day is one object a day, which is what keeps
# Athena's GETs (one object per day scanned) and the PUTs small.
PART_ROWS = 2_000_000
HOURS = range(24)
LAST_HOUR = HOURS[-1]
_NAME = re.compile(r"audit-trail-(\d{4}-\d{2}-\d{2})-(\d{2})(?:-(\d{2}))?\.parquet")


@dataclass(frozen=True)
class Part:
    """Hours `first`..`last` (inclusive) of a day, and the records they hold."""

    first: int
    last: int
    rows: int


def day_prefix(day: date) -> str:
    return f"{PARTITION}={day.isoformat()}/"


def hour_start(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


def day_end(day: date) -> datetime:
    """The moment the day is over (the next day's midnight, UTC)."""
    return hour_start(day, 0) + timedelta(days=1)


def part_key(day: date, first: int, last: int) -> str:
    if not 0 <= first <= last <= LAST_HOUR:
        raise ValueError(f"a part covers hours 0-23 in order, not {first}-{last}")
    return f"{day_prefix(day)}audit-trail-{day.isoformat()}-{first:02d}-{last:02d}.parquet"


def hours_of(day: date, key: str) -> tuple[int, int] | None:
    """The hours (first, last) an object of the day's folder covers, by its name: a part's
    `D-HH-HH`, or an hourly object's `D-HH` (earlier versions); None for any other name."""
    name = key.rpartition("/")[2]
    found = _NAME.fullmatch(name)
    if key != day_prefix(day) + name or found is None or found[1] != day.isoformat():
        return None
    first = int(found[2])
    last = int(found[3]) if found[3] is not None else first
    return (first, last) if 0 <= first <= last <= LAST_HOUR else None


def is_part(day: date, key: str) -> bool:
    """A part's name (two hours), not an hourly object of an earlier version."""
    hours = hours_of(day, key)
    return hours is not None and key == part_key(day, *hours)


def covered(day: date, keys: Iterable[str]) -> set[int]:
    """The hours of the day the folder's objects cover, by their names."""
    hours: set[int] = set()
    for key in keys:
        span = hours_of(day, key)
        if span is not None:
            hours.update(range(span[0], span[1] + 1))
    return hours


def first_uncovered(day: date, keys: Iterable[str]) -> int | None:
    """The first hour no object of the folder covers; None: the day is whole (not read again)."""
    hours = covered(day, keys)
    return next((h for h in HOURS if h not in hours), None)


def closes(rows: int, hour: int, part_rows: int | None = None) -> bool:
    """Whether a part holding `rows` records at the end of `hour` closes there: the rule."""
    return rows >= (PART_ROWS if part_rows is None else part_rows) or hour == LAST_HOUR


def parts(counts: Sequence[int], start: int = 0, part_rows: int | None = None) -> list[Part]:
    """The parts of a day whose hour h holds counts[h] records (24 counts), from hour `start`:
    what the export writes (those with rows), by the same rule, without reading a record."""
    if len(counts) != len(HOURS) or not 0 <= start <= LAST_HOUR:
        raise ValueError(f"24 hourly counts and a start hour 0-23, got {len(counts)} and {start}")
    found: list[Part] = []
    first, rows = start, 0
    for hour in range(start, len(HOURS)):
        rows += counts[hour]
        if closes(rows, hour, part_rows):
            found.append(Part(first, hour, rows))
            first, rows = hour + 1, 0
    return found


def boundary_error(day: date, keys: Iterable[str], hour: int) -> str | None:
    """Why a day's export may not continue from `hour` (None: it may). Hour 0 always may; any
    other must be where a part of the folder ends, with hours 0 to hour-1 covered by objects that
    end before it: the boundary an earlier answer named."""
    if hour == 0:
        return None
    listed = list(keys)
    before = [k for k in listed if (span := hours_of(day, k)) is not None and span[1] < hour]
    if not any(is_part(day, k) and (hours_of(day, k) or (0, -1))[1] == hour - 1 for k in listed):
        return f"no part of {day} ends at hour {hour - 1}"
    if covered(day, before) != set(range(hour)):
        return f"hours 0-{hour - 1} of {day} are not all covered"
    return None
