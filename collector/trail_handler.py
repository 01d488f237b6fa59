"""The scheduled trail export (on unless CDK `-c trail=false`): Lambda glue; the walk is collector.trail's.

Every hour (at minute 20) it looks at the days of its window, `COLLECTOR_TRAIL_EXPORT_DAYS` days
counting today (today minus N-1 .. yesterday; yesterday at least), and exports only the days that
are over, by FINAL_AFTER or more: never today's partial day. For each, one LIST of its folder and
the coverage walk (collector.trail.layout.walk: parts `D-HHMM-HHMM`, and the hourly objects `D-HH`
of earlier versions, HH:00-HH:59) say where it stands: a day covered 00:00-23:59 without gap or
overlap is whole and not read again (a day with no records has its empty part, so it is whole
too); otherwise the export goes on from the minute the walk names, part by part (the layout's
rule), deleting the objects each new part replaces right after writing it. A run with nothing to
do makes those LISTs, and one LIST of `late/` more (below), and nothing else: no store opened, no
pyarrow imported (23 runs of 24 a day).
Before each part it asks Lambda for the time left; under BUDGET_MARGIN it stops cleanly and its
answer names the day and minute the next run goes on from. Unchanged bytes are not rewritten
(collector.trail.s3). A failed run raises: Lambda retries it twice, then hands it to the
on-failure queue, whose alarm is TrailExportFailed (docs/deploy.md).

Late markers (collector/trail/late.py): with the time index paged from the table's stream, a
record may reach the index after its day was exported; the index consumer then leaves a marker
`late/day=D/<page key>`. Each scheduled run lists them (one LIST of `late/`, before any export;
a marker younger than late.SETTLE waits for the next run, so its page is in the index by then)
and exports each marked day that is over and within the table's reach (COLLECTOR_RETENTION_DAYS:
no record of it expired yet) again, from the part boundary at or before the earliest marked
minute (00:00 at the latest): the table holds the records, so no `force` is needed. The markers
listed before the run are cleared once the minutes they name are read again: all of them when the
day is whole; when the time runs out first, those before the stop, and a marker for the minute
it stopped at keeps the day marked, so the next run goes on from there. A marker left during the
export is not cleared: the next run reads its day again. A day the store holds fewer records of
than the trail (check_kept) is logged, not exported, and its markers kept; a marked day beyond
the table's reach cannot be read again: its markers are cleared with a WARNING naming the day.
So the exporter may list `late/`, and delete and put objects under it (the marker it leaves where
it stopped).

| variable | meaning |
|---|---|
| COLLECTOR_STORE, COLLECTOR_TABLE_NAME | the audit table, as for the collector |
| COLLECTOR_TRAIL_BUCKET | the trail bucket; objects go under `trail/` |
| COLLECTOR_TRAIL_EXPORT_DAYS | days of the window, today included (default 3: the two days before) |
| COLLECTOR_TRAIL_LOCK_DAYS, COLLECTOR_TRAIL_LOCK_MODE | Object Lock retention of each object written |

A manual invocation may pass `{"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD"}` to export
other days (a backfill), at most MAX_DAYS_PER_RUN of them, days over only (a later last_day is
taken as the last day that is over): each is read again from the table from 00:00 and its
folder's other objects are removed as its new parts replace them. A day (from 00:00 or from a
`first_time`) whose folder holds more
records than the table still does (TTL expired them: the table keeps days, the trail the year) is
refused with an error naming both counts, unless the event says `"force": true`
(collector.trail.export.check_kept). When the time runs out the
answer names `continue_day` and `first_time`, and `continue_event`, the event to invoke next
(`{"first_day": continue_day, "first_time": "HH:MM", "last_day": the event's last_day}`, with
`"force": true` when the event had it), and a WARNING line says it: the day's first parts are
written and the objects they replace deleted, so the day is incomplete in the trail until the
backfill is continued (the schedule never reaches a day outside its window). first_time is where
the first day goes on (it must be a part boundary of that day); the days after it are read from
00:00. Any other key (`first_hour`, `last_hour`, the answer's `continue_day` pasted back), an event that
names no day or is not an object is refused with one error naming the keys taken; EventBridge's
own scheduled event (or `null`, `{}`) is the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote

import orjson

from collector.aws import open_client
from collector.clock import parse_day, utc_now
from collector.config import ConfigError, Settings
from collector.runtime import open_store
from collector.trail import late
from collector.trail.layout import MINUTES, boundary_error, clock, day_prefix, minute_of, walk
from collector.trail.s3 import LOCK_MODES, ObjectLock, S3Sink

log = logging.getLogger("workmail_collector")
DEFAULT_EXPORT_DAYS = 3
MAX_DAYS_PER_RUN = 31
# A record belongs to the moment its write began, and a write ends within the collector's 30 s
# (a replay is recorded when it runs): this long after a day ended, the table holds the whole
# day, so the schedule exports it then (its run at 00:20) and never before.
FINAL_AFTER = timedelta(minutes=15)
# No part is started with less than this left of the run (Lambda's 15 minutes): the longest part,
# PART_ROWS plus the busiest minute that closes it (about 1.05 million records), takes about 7
# minutes at the slowest export rate measured (about 2,500 records a second,
# collector/trail/layout.py); 3 minutes more are kept for a slower store or S3.
BUDGET_MARGIN = timedelta(minutes=10)
# The keys a manual event may hold; anything else is a mistake, refused rather than taken as the
# schedule.
EVENT_KEYS = ("first_day", "last_day", "first_time", "force")
# What EventBridge sends a scheduled rule's target that has no input of its own (the stack's rule):
# an event with source aws.events and detail-type Scheduled Event, and only these keys.
EVENTBRIDGE_KEYS = frozenset(
    ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
)


@dataclass(frozen=True)
class ExportSettings:
    bucket: str
    days: int
    lock: ObjectLock | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ExportSettings:
        bucket = env.get("COLLECTOR_TRAIL_BUCKET", "").strip()
        if not bucket:
            raise ConfigError("COLLECTOR_TRAIL_BUCKET is required: the trail bucket's name")
        days = _whole(env, "COLLECTOR_TRAIL_EXPORT_DAYS", DEFAULT_EXPORT_DAYS)
        if not 1 <= days <= MAX_DAYS_PER_RUN:
            raise ConfigError(f"COLLECTOR_TRAIL_EXPORT_DAYS must be between 1 and {MAX_DAYS_PER_RUN}")
        lock_days = _whole(env, "COLLECTOR_TRAIL_LOCK_DAYS", 0)
        mode = env.get("COLLECTOR_TRAIL_LOCK_MODE", "GOVERNANCE").strip().upper()
        if lock_days < 0 or mode not in LOCK_MODES:
            raise ConfigError(
                "COLLECTOR_TRAIL_LOCK_DAYS must be 0 or more and COLLECTOR_TRAIL_LOCK_MODE GOVERNANCE or "
                f"COMPLIANCE, got {lock_days} and {mode!r}"
            )
        return cls(bucket, days, ObjectLock(mode, lock_days) if lock_days else None)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None


def scheduled(event: Any) -> bool:
    """EventBridge's own event (the hourly rule's: source aws.events, detail-type Scheduled Event,
    no key EventBridge does not send), or no event at all (`null`, `{}`): the schedule."""
    if event is None or event == {}:
        return True
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
        and all(k in EVENTBRIDGE_KEYS for k in event)
    )


def check_event(event: Any) -> None:
    """Refuse a manual event that is not an object of the keys it takes, names no day, or gives
    first_time without first_day, and an EventBridge-like event that is not exactly EventBridge's
    scheduled event (a backfill key or one of ours next to source and detail-type): one clear
    error rather than a run of the schedule that ignores what was asked."""
    if scheduled(event):
        return
    if isinstance(event, dict) and ("source" in event or "detail-type" in event):
        others = sorted(str(k) for k in event if k not in EVENTBRIDGE_KEYS)
        why = "not EventBridge's scheduled event: source aws.events and detail-type Scheduled Event" + (
            f", with keys EventBridge does not send: {', '.join(others)}" if others else ""
        )
    elif not isinstance(event, dict):
        why = "not a JSON object"
    elif unknown := sorted(str(k) for k in event if k not in EVENT_KEYS):
        why = ", ".join(unknown)
    elif "first_time" in event and not event.get("first_day"):
        why = "first_time without first_day"
    elif not (event.get("first_day") or event.get("last_day")):
        why = "no day"
    else:
        return
    raise ConfigError(
        f"event {event!r} is not taken ({why}): a manual event takes first_day and last_day"
        " (YYYY-MM-DD), and first_time (HH:MM, a part boundary, with first_day alone: what an"
        " answer's continue_event says), and force (true: replace a day even where the table holds"
        " fewer records than the trail); EventBridge's scheduled event or {} is the schedule"
    )


def explicit(event: Any) -> bool:
    return (
        isinstance(event, dict)
        and not scheduled(event)
        and bool(event.get("first_day") or event.get("last_day"))
    )


def last_over(now: datetime) -> date:
    """The last day that is over by FINAL_AFTER at `now`: yesterday, after 00:15 UTC."""
    return (now - FINAL_AFTER).date() - timedelta(days=1)


def start_minute(event: Any, first: date, last: date) -> int:
    """The minute a backfill's first day is read from: 0, or the event's `first_time` (HH:MM):
    where the answer of a run that ran out of time said that day goes on (its `continue_event`,
    docs/deploy.md); the days after it are read from 00:00."""
    check_event(event)
    if not explicit(event) or "first_time" not in event:
        return 0
    text = event["first_time"]
    minute = minute_of(text) if isinstance(text, str) else None
    if minute is None:
        raise ConfigError(f"event first_time must be HH:MM (00:00-23:59), got {event!r}")
    return minute


def forced(event: Any) -> bool:
    """A backfill's `force`: true replaces its days even where the table holds fewer records of a
    day than the trail (collector.trail.export.check_kept); false or absent refuses such a day."""
    if not explicit(event) or "force" not in event:
        return False
    if not isinstance(event["force"], bool):
        raise ConfigError(f"event force must be true or false, got {event!r}")
    return bool(event["force"])


def asked_last(event: Any) -> date:
    """The last day a (checked) backfill event asked for, before it is bounded by the days over."""
    return parse_day(str(event.get("last_day") or event.get("first_day")))


def days_to_export(event: Any, days: int, now: datetime) -> tuple[date, date]:
    """(first, last) UTC day of this run: the schedule's window (today minus days-1, at least
    yesterday, to the last day that is over), or the event's, its last day no later than that."""
    over = last_over(now)
    if not explicit(event):
        return now.date() - timedelta(days=max(days - 1, 1)), over
    try:
        first = parse_day(str(event.get("first_day") or event.get("last_day")))
        last = parse_day(str(event.get("last_day") or event.get("first_day")))
    except ValueError:
        raise ConfigError(f"event first_day and last_day must be YYYY-MM-DD, got {event!r}") from None
    if first > last or (last - first).days >= MAX_DAYS_PER_RUN:
        raise ConfigError(
            f"event first_day..last_day must be 1 to {MAX_DAYS_PER_RUN} days in order, got {first}..{last}"
        )
    if first > over:
        raise ConfigError(
            f"event first_day {first} is not over yet: a day is exported {FINAL_AFTER.seconds // 60} "
            f"minutes after it ends (UTC); the last day over is {over}"
        )
    return first, min(last, over)


@dataclass(frozen=True)
class Summary:
    first_day: date
    last_day: date
    written: int
    unchanged: int
    deleted: int
    rows: int
    whole_days: int = 0  # days already whole in the trail: not read again
    continue_day: date | None = None  # the time ran out: this day goes on ...
    first_time: str | None = None  # ... from this minute, HH:MM (a part boundary), at the next run
    # A backfill that ran out of time: the event to invoke next (the schedule goes on by itself).
    continue_event: dict[str, Any] | None = None
    late_days: int = 0  # marked days read again (collector/trail/late.py)
    late_cleared: int = 0  # late markers those reads answered, deleted

    def to_json(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "written": self.written,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rows": self.rows,
            "whole_days": self.whole_days,
            "continue_day": None if self.continue_day is None else self.continue_day.isoformat(),
            "first_time": self.first_time,
            "continue_event": self.continue_event,
        }


def check_codec(codec: str) -> None:
    """Fail the run before its first object, saying why, when the layer's pyarrow cannot write the
    writer's codec (a layer given with trailPyarrowLayerArn may be built without it)."""
    import pyarrow

    try:
        available = pyarrow.Codec.is_available(codec)
    except ValueError:  # a name this pyarrow does not know at all
        available = False
    if not available:
        raise ConfigError(
            f"this pyarrow ({pyarrow.__version__}) cannot write {codec}-compressed Parquet, the trail "
            "writer's codec: deploy with -c trailPyarrowLayerArn=<a layer whose pyarrow has it>"
        )


def budget(context: Any) -> Callable[[], bool] | None:
    """Whether a part may start: while Lambda's context says BUDGET_MARGIN or more is left. No
    context (a test, a local call): no budget."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    margin = BUDGET_MARGIN.total_seconds() * 1000
    return lambda: bool(remaining() >= margin)


def prepare() -> None:
    """Before the run's first Parquet file: the layer's pyarrow, and its codec."""
    from collector.trail import writer  # pyarrow: the layer's, imported only to write

    check_codec(writer.COMPRESSION)


async def run(event: Any, env: Mapping[str, str], now: datetime, context: Any = None) -> Summary:
    settings = Settings.from_env(env)
    trail = ExportSettings.from_env(env)
    check_event(event)
    first, last = days_to_export(event, trail.days, now)
    start = start_minute(event, first, last)
    backfill = explicit(event)
    force = forced(event)
    rows = whole = 0
    stopped: tuple[date, str] | None = None
    late_days: dict[date, list[str]] = {}
    cleared = 0
    async with contextlib.AsyncExitStack() as stack:
        client = await open_client("s3", stack)
        sink = S3Sink(client, trail.bucket, now, lock=trail.lock)
        # Listed before any export of this run begins: each marker listed is answered by a read
        # of its minute that starts after it.
        marks = {} if backfill else await late.marked(client, trail.bucket, settled=True)
        plan: dict[date, tuple[int, list[str]]] = {}  # from one LIST per day, before any read
        day = first
        while day <= last:
            listed = await sink.list(day_prefix(day))
            minute: int | None
            if backfill:  # read again from 00:00, or from the first day's first_time
                minute = start if day == first else 0
                why = boundary_error(day, listed, minute)
                if why is not None:
                    raise ConfigError(f"event first_time: {why}: pass the first_time an answer named")
            else:  # from where the coverage walk says; None: the day is whole
                minute = walk(day, listed).start
            if minute is None:
                whole += 1
            else:
                plan[day] = (minute, listed)
            day += timedelta(days=1)
        for day, keys in sorted(marks.items()):
            if day > last_over(now):
                continue  # not over: its export is still to come, and the markers wait for it
            if not in_reach(day, now, settings.retention_days):
                log.warning(
                    "late markers of %s cleared without a new export: the table keeps %d days, so"
                    " the day's records are no longer all in it; records of %s indexed after its"
                    " export may be missing from the trail",
                    day,
                    settings.retention_days,
                    day,
                )
                await late.clear(client, trail.bucket, keys)
                cleared += len(keys)
                continue
            listed = plan[day][1] if day in plan else await sink.list(day_prefix(day))
            from_minute = late_start(day, listed, min(marker_minute(day, k) for k in keys))
            if day in plan:
                from_minute = min(from_minute, plan[day][0])
            elif first <= day <= last:
                whole -= 1  # whole by its walk, counted above, and read again now
            plan[day] = (from_minute, listed)
            late_days[day] = keys
        todo = [(d, m, listed) for d, (m, listed) in sorted(plan.items())]
        if todo:
            stopped, rows, read = await _export(settings, sink, todo, budget(context), force, set(late_days))
            for day, keys in late_days.items():
                if day in read:
                    cleared += await _answered(client, trail.bucket, day, keys, *read[day])
    going_on: dict[str, Any] | None = None
    if backfill and stopped is not None:
        going_on = {"first_day": stopped[0].isoformat(), "first_time": stopped[1]}
        going_on["last_day"] = asked_last(event).isoformat()
        if force:
            going_on["force"] = True
    return Summary(
        first,
        last,
        sink.written,
        sink.unchanged,
        sink.deleted,
        rows,
        whole,
        continue_day=None if stopped is None else stopped[0],
        first_time=None if stopped is None else stopped[1],
        continue_event=going_on,
        late_days=len(late_days),
        late_cleared=cleared,
    )


def in_reach(day: date, now: datetime, retention_days: int) -> bool:
    """Whether the table still holds every record of `day`: its first expire retention_days after
    its 00:00 (0: records never expire)."""
    return not retention_days or now < datetime.combine(day, time(), UTC) + timedelta(days=retention_days)


_MINUTE = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})")


def marker_minute(day: date, key: str) -> int:
    """The minute of the day a marker names (its page key's `YYYY-MM-DDTHH:MM`); 0 when it names
    none of that day, so that the day is read from 00:00."""
    found = _MINUTE.search(unquote(key.rsplit("/", 1)[-1]))
    if found is None or found[1] != day.isoformat():
        return 0
    minute = int(found[2]) * 60 + int(found[3])
    return minute if minute < MINUTES else 0


def late_start(day: date, listed: list[str], earliest: int) -> int:
    """Where a marked day is read again from: the last part boundary of its folder at or before
    the earliest marked minute (00:00 at the latest), so the parts before it are kept."""
    return max(b for b in walk(day, listed).boundaries if b <= earliest)


async def _answered(client: Any, bucket: str, day: date, keys: list[str], first: int, end: int) -> int:
    """Clear the markers (listed before the run) of the minutes this run read again, first..end-1;
    a day left unfinished (end before midnight) stays marked at the minute it goes on from."""
    done = [k for k in keys if first <= marker_minute(day, k) < end]
    await late.clear(client, bucket, done)
    if end < MINUTES:
        await late.mark(client, bucket, day.isoformat(), f"continue#{day.isoformat()}T{clock(end)}")
    return len(done)


async def _export(
    settings: Settings,
    sink: S3Sink,
    todo: list[tuple[date, int, list[str]]],
    may_start: Callable[[], bool] | None,
    force: bool = False,
    late_days: set[date] | None = None,
) -> tuple[tuple[date, str] | None, int, dict[date, tuple[int, int]]]:
    """Export the planned days, in order, until the budget ends: (where it stopped, rows, and for
    each day read the minutes read, first and end). A late day (`late_days`) the store holds fewer
    records of than the trail is logged and passed over, its markers kept; any other such day
    fails the run, as before."""
    from collector.trail.export import TrailWouldShrink, export_day

    store = await open_store(settings)
    rows = 0
    read: dict[date, tuple[int, int]] = {}
    try:
        for day, minute, listed in todo:
            try:
                done = await export_day(
                    store,
                    sink,
                    day,
                    minute,
                    existing=listed,
                    may_start=may_start,
                    prepare=prepare,
                    force=force,
                )
            except TrailWouldShrink as refused:
                if day not in (late_days or set()):
                    raise
                log.error("late markers of %s kept, the day is not read again: %s", day, refused)
                continue
            rows += done.rows
            read[day] = (minute, MINUTES if done.continues is None else done.continues)
            if done.continues is not None:
                return (day, clock(done.continues)), rows, read
    finally:
        await store.close()
    return None, rows, read


def handler(event: Any, context: Any) -> dict[str, Any]:
    import os

    summary = asyncio.run(run(event, os.environ, utc_now(), context))
    log.info(
        "trail export %s..%s: %d written, %d unchanged, %d days whole (not read again), %d rows,"
        " %d late days read again (%d markers cleared)%s",
        summary.first_day,
        summary.last_day,
        summary.written,
        summary.unchanged,
        summary.whole_days,
        summary.rows,
        summary.late_days,
        summary.late_cleared,
        f"; out of time, {summary.continue_day} goes on from {summary.first_time}"
        if summary.continue_day
        else "",
    )
    if summary.continue_event is not None:
        log.warning(
            "trail backfill out of time: the rest of %s from %s and the days after it are not written"
            " yet; invoke the function next with %s (the answer's continue_event), until an answer has"
            " none",
            summary.continue_day,
            summary.first_time,
            orjson.dumps(summary.continue_event).decode(),
        )
    late_read = {"days": summary.late_days, "cleared": summary.late_cleared}
    sys.stdout.write(orjson.dumps({"trailExport": summary.to_json(), "late": late_read}).decode() + "\n")
    sys.stdout.flush()
    return summary.to_json()
