"""Where a day's records go in the trail: its parts, their names, and which minutes a folder covers.

A day's records (UTC, by `receivedAt`) are one or more *parts*, each covering consecutive whole
minutes and named by its first and last minute (inclusive): `day=D/audit-trail-D-HHMM-HHMM.parquet`.
The rule, the same for every deployment and every run: a part starts at 00:00 (or where the
previous part ended) and closes at the end of the first minute at which it holds at least
PART_ROWS records, unless no record of the day follows that minute: then it closes at 23:59 (the
last part of a day always ends there, so a finished day is covered to its end and never read
again). The rule looks one record ahead and depends on the records only: the same records give
the same parts (and the writer the same bytes), and an export that stopped at a part boundary
and went on from there gives the parts of one that did not stop. Every part has an object, even
with no records (a day with none is one empty part `D-0000-2359`); a small or medium day is one
object, `...-0000-2359.parquet`.

Earlier versions wrote one object a day, `day=D/audit-trail-D.parquet` (00:00-23:59), then one
per hour, `day=D/audit-trail-D-HH.parquet` (HH:00-HH:59); an unreleased one wrote hour ranges,
`audit-trail-D-HH-HH.parquet` (HH:00 to the second HH:59). Each such object is kept where the
folder's walk (`walk`) accepts it, and an overlap with the parts is repaired like any other.

No pyarrow here: the exporter decides from a LIST whether there is anything to write before it
imports the writer, and the benchmarks read the rule without the `trail` extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from collector.trail.schema import PARTITION

# A part closes at the end of the first minute holding at least this many records. A part is
# written by one exporter run (Lambda: 15 minutes, one vCPU, 512 MB of /tmp). A minute holds at
# most some tens of thousands of records even at 100 million messages a day, so a part is at most
# about 1.05 million records: about 110 MB of Parquet (about 103 bytes a record) and about 7
# minutes at the slowest export rate measured (about 2,500 records a second). Closing at whole
# hours instead let one busy hour make a part that fits neither the run nor /tmp. Up to a million
# records a day is one object a day, which keeps Athena's GETs and the PUTs few.
PART_ROWS = 1_000_000
MINUTES = 24 * 60
LAST_MINUTE = MINUTES - 1
# A part's D-HHMM-HHMM, and the names of earlier versions: D-HH (an hour), D-HH-HH (hours, never
# released), D alone (the whole day).
_NAME = re.compile(r"audit-trail-(\d{4}-\d{2}-\d{2})(?:-(\d{2})(\d{2})?(?:-(\d{2})(\d{2})?)?)?\.parquet")


@dataclass(frozen=True)
class Part:
    """Minutes `first`..`last` (inclusive, 0 = 00:00) of a day, and the records they hold."""

    first: int
    last: int
    rows: int


def clock(minute: int) -> str:
    """A minute of the day as `HH:MM` (1440 is `24:00`, the day's end)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minute_of(text: str) -> int | None:
    """`HH:MM` (00:00-23:59) as a minute of the day; None for anything else."""
    found = re.fullmatch(r"(\d{2}):(\d{2})", text)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        return None
    return int(found[1]) * 60 + int(found[2])


def day_prefix(day: date) -> str:
    return f"{PARTITION}={day.isoformat()}/"


def minute_start(day: date, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)


def hour_start(day: date, hour: int) -> datetime:
    return minute_start(day, hour * 60)


def day_end(day: date) -> datetime:
    """The moment the day is over (the next day's midnight, UTC)."""
    return minute_start(day, MINUTES)


def part_key(day: date, first: int, last: int) -> str:
    if not 0 <= first <= last <= LAST_MINUTE:
        raise ValueError(f"a part covers minutes 0-{LAST_MINUTE} in order, not {first}-{last}")
    name = f"{clock(first).replace(':', '')}-{clock(last).replace(':', '')}"
    return f"{day_prefix(day)}audit-trail-{day.isoformat()}-{name}.parquet"


def span_of(day: date, key: str) -> tuple[int, int] | None:
    """The minutes (first, last) an object of the day's folder covers, by its name: a part's
    `D-HHMM-HHMM`, or the names of earlier versions: `D` (one object a day, 00:00-23:59), `D-HH`
    (an hour, HH:00-HH:59) and `D-HH-HH` (never released: HH:00 to the second HH:59); None for any
    other name. Knowing the earlier names lets the walk see them overlap the parts."""
    name = key.rpartition("/")[2]
    found = _NAME.fullmatch(name)
    if key != day_prefix(day) + name or found is None or found[1] != day.isoformat():
        return None
    texts = found.groups()[1:]
    if texts == (None, None, None, None):  # D, the whole day
        return 0, LAST_MINUTE
    first_hour, first_minute, last_hour, last_minute = texts
    if first_minute is None and last_minute is None:  # D-HH or D-HH-HH, whole hours
        first = int(str(first_hour))
        last = first if last_hour is None else int(last_hour)
        return (first * 60, last * 60 + 59) if first <= last <= 23 else None
    if first_minute is None or last_hour is None or last_minute is None:
        return None
    a, b = minute_of(f"{first_hour}:{first_minute}"), minute_of(f"{last_hour}:{last_minute}")
    if a is None or b is None or a > b:
        return None
    return a, b


@dataclass(frozen=True)
class Walk:
    """What a day folder's objects say: the objects accepted in order from 00:00 (with the minute
    after each), and the minute the export goes on from (None: the day is whole: every object
    accepted, 00:00-23:59 covered)."""

    accepted: tuple[str, ...]
    ends: tuple[int, ...]
    start: int | None

    @property
    def boundaries(self) -> list[int]:
        """Where a backfill may go on from: 00:00, and the end of each accepted object."""
        return [0, *(e for e in self.ends if e < MINUTES)]


def walk(day: date, keys: Iterable[str]) -> Walk:
    """The coverage walk: the day's objects by first minute, from expected = 00:00. An object that
    starts at `expected` is accepted (expected moves past it); one that starts later leaves a gap:
    go on from `expected`; one that starts earlier overlaps: the last accepted object is dropped
    and the export goes on from ITS first minute (rewriting it by the rule gives the same key and
    bytes, and then the overlapping object is deleted). Names it does not know are not counted."""
    spans = sorted((span, key) for key in keys if (span := span_of(day, key)) is not None)
    accepted: list[tuple[tuple[int, int], str]] = []
    expected = 0
    for (first, last), key in spans:
        if first == expected and expected < MINUTES:
            accepted.append(((first, last), key))
            expected = last + 1
            continue
        if first < expected and accepted:
            expected = accepted.pop()[0][0]
        return _walked(accepted, expected)
    return _walked(accepted, None if expected == MINUTES else expected)


def _walked(accepted: list[tuple[tuple[int, int], str]], start: int | None) -> Walk:
    return Walk(tuple(k for _, k in accepted), tuple(s[1] + 1 for s, _ in accepted), start)


def parts(counts: Sequence[int], start: int = 0, part_rows: int | None = None) -> list[Part]:
    """The parts of a day whose minute m holds counts[m] records (1440 counts), from minute
    `start`: what the export writes, by the same rule, without reading a record."""
    if len(counts) != MINUTES or not 0 <= start <= LAST_MINUTE:
        raise ValueError(f"{MINUTES} counts and a start minute 0-{LAST_MINUTE}: {len(counts)}, {start}")
    limit = PART_ROWS if part_rows is None else part_rows
    after = [0] * (MINUTES + 1)  # after[m]: records from minute m to the day's end
    for minute in range(LAST_MINUTE, -1, -1):
        after[minute] = after[minute + 1] + counts[minute]
    found: list[Part] = []
    first, rows = start, 0
    for minute in range(start, MINUTES):
        rows += counts[minute]
        if minute == LAST_MINUTE or (rows >= limit and after[minute + 1]):
            found.append(Part(first, minute, rows))
            first, rows = minute + 1, 0
    return found


def boundary_error(day: date, keys: Iterable[str], minute: int) -> str | None:
    """Why a day's export may not go on from `minute` (None: it may). 00:00 always may; any other
    must be a boundary of the folder's walk (the end of an object it accepts): where an earlier
    answer said the day goes on."""
    found = walk(day, keys).boundaries
    if minute in found:
        return None
    return f"{clock(minute)} is not a part boundary of {day}; its boundaries are " + ", ".join(
        clock(m) for m in found
    )


def most_rows(held: Iterable[Part]) -> int:
    """The most records a folder's objects surely hold apart: the most rows of objects whose
    minutes do not meet (each record belongs to one minute, so those hold different records;
    objects that overlap may hold the same ones). The count a replacement of the day must keep."""
    ending: dict[int, list[Part]] = {}
    for part in held:
        ending.setdefault(part.last, []).append(part)
    best = [0] * (MINUTES + 1)  # best[m]: the most rows of objects that end before minute m
    for minute in range(MINUTES):
        best[minute + 1] = max([best[minute], *(best[p.first] + p.rows for p in ending.get(minute, []))])
    return best[MINUTES]
