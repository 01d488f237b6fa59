"""The scheduled trail export (CDK `-c trail=true`): Lambda glue only; the walk is collector.trail's.

Every hour (at minute 20) it exports the hours that have ended of today (UTC) and the days before
it, `COLLECTOR_TRAIL_EXPORT_DAYS` days in all, from the audit table's time index into the trail
bucket, one object per hour in its day's folder. An hour whose object was written FINAL_AFTER or
more after the hour ended holds the whole hour and is not read again (one LIST per day says when
each was written), so a run reads the hour that just ended, hours found empty, and what a missed
or failed run left behind (the lateness margin); it does not rewrite an hour whose bytes did not
change, and removes the other objects of those days' folders (an hour found empty, the one object
per day of earlier versions). A failed run raises: Lambda retries it twice, then hands it to the
on-failure queue, whose alarm is TrailExportFailed (docs/deploy.md).

| variable | meaning |
|---|---|
| COLLECTOR_STORE, COLLECTOR_TABLE_NAME | the audit table, as for the collector |
| COLLECTOR_TRAIL_BUCKET | the trail bucket; objects go under `trail/` |
| COLLECTOR_TRAIL_EXPORT_DAYS | days per run, today included (default 3) |
| COLLECTOR_TRAIL_LOCK_DAYS, COLLECTOR_TRAIL_LOCK_MODE | Object Lock retention of each object written |

A manual invocation may pass `{"first_day": "YYYY-MM-DD", "last_day": "YYYY-MM-DD"}` to export
other days (a backfill), at most MAX_DAYS_PER_RUN of them; it reads every ended hour of them. A
one-day backfill may add `"first_hour": H, "last_hour": H` (0-23) to read only those hours: a
busy day in several runs of 15 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from collector.aws import open_client
from collector.clock import parse_day, utc_now
from collector.config import ConfigError, Settings
from collector.runtime import open_store
from collector.trail.s3 import LOCK_MODES, ObjectLock, S3Sink

log = logging.getLogger("workmail_collector")
DEFAULT_EXPORT_DAYS = 3
MAX_DAYS_PER_RUN = 31
# A record belongs to the moment its write began, and a write ends within the collector's 30 s
# (a replay is recorded when it runs): an hour's object written this long after the hour ended
# holds the whole hour, so the schedule does not read that hour again. A backfill always does.
FINAL_AFTER = timedelta(minutes=15)


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


def explicit(event: Any) -> bool:
    return isinstance(event, dict) and bool(event.get("first_day") or event.get("last_day"))


def hours_to_export(event: Any, first: date, last: date) -> range:
    """The hours of each day a backfill reads: all 24, or the event's `first_hour`..`last_hour`
    (0-23, inclusive), which only a one-day backfill may give: at 10 million messages a day a whole
    day does not fit one 15-minute run, a few hours do (docs/deploy.md)."""
    if not explicit(event) or ("first_hour" not in event and "last_hour" not in event):
        return range(24)
    try:
        low = int(event.get("first_hour", 0))
        high = int(event.get("last_hour", 23))
    except (TypeError, ValueError):
        raise ConfigError(f"event first_hour and last_hour must be whole hours 0-23, got {event!r}") from None
    if first != last or not 0 <= low <= high <= 23:
        raise ConfigError(
            f"event first_hour..last_hour must be 0-23 in order, for one day (first_day alone), got {event!r}"
        )
    return range(low, high + 1)


def days_to_export(event: Any, days: int, today: date) -> tuple[date, date]:
    """(first, last) UTC day of this run: the schedule's window ending today, or the event's."""
    if explicit(event):
        try:
            first = parse_day(str(event.get("first_day") or event.get("last_day")))
            last = parse_day(str(event.get("last_day") or event.get("first_day")))
        except ValueError:
            raise ConfigError(f"event first_day and last_day must be YYYY-MM-DD, got {event!r}") from None
        if first > last or (last - first).days >= MAX_DAYS_PER_RUN:
            raise ConfigError(
                f"event first_day..last_day must be 1 to {MAX_DAYS_PER_RUN} days in order, "
                f"got {first}..{last}"
            )
        return first, last
    return today - timedelta(days=days - 1), today


@dataclass(frozen=True)
class Summary:
    first_day: date
    last_day: date
    written: int
    unchanged: int
    deleted: int
    rows: int
    final: int = 0  # hours whose object already held the whole hour: not read again

    def to_json(self) -> dict[str, Any]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "written": self.written,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rows": self.rows,
            "final": self.final,
        }


def check_codec(codec: str) -> None:
    """Fail the run at once, saying why, when the layer's pyarrow cannot write the writer's codec
    (a layer given with trailPyarrowLayerArn may be built without it), not on the first day."""
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


async def run(event: Any, env: Mapping[str, str], now: datetime) -> Summary:
    from collector.trail import writer  # pyarrow: the layer's, imported on use
    from collector.trail.export import HOURS, day_prefix, export_day, hour_key, hour_start

    settings = Settings.from_env(env)
    trail = ExportSettings.from_env(env)
    first, last = days_to_export(event, trail.days, now.date())
    wanted = hours_to_export(event, first, last)
    check_codec(writer.COMPRESSION)
    store = await open_store(settings)
    rows = final = 0
    try:
        async with contextlib.AsyncExitStack() as stack:
            client = await open_client("s3", stack)
            sink = S3Sink(client, trail.bucket, now, lock=trail.lock)
            day = first
            while day <= last:
                written = await sink.written_at(day_prefix(day))
                if len(wanted) < len(HOURS):
                    refuse_other_objects(day, written)
                settled = set()
                for hour in HOURS:
                    end = hour_start(day, hour) + timedelta(hours=1)
                    at = None if explicit(event) else written.get(hour_key(day, hour))
                    if end > now or hour not in wanted:  # not over yet, or not asked for: kept as is
                        settled.add(hour)
                    elif at is not None and at >= end + FINAL_AFTER:
                        settled.add(hour)
                        final += 1
                rows += (await export_day(store, sink, day, settled)).rows
                day += timedelta(days=1)
    finally:
        await store.close()
    return Summary(first, last, sink.written, sink.unchanged, sink.deleted, rows, final)


def refuse_other_objects(day: date, written: Mapping[str, datetime]) -> None:
    """Exporting some hours of a day keeps the others' objects; an object that is no hour's (the
    one object a day of earlier versions) would then hold rows twice: a whole day's export first."""
    from collector.trail.export import HOURS, hour_key

    hours = {hour_key(day, h) for h in HOURS}
    other = sorted(k for k in written if k not in hours)
    if other:
        raise ConfigError(
            f"{day} holds {', '.join(other)}, no hour's object: export the whole day (no first_hour or "
            "last_hour) so it is replaced, then export hours"
        )


def handler(event: Any, context: Any) -> dict[str, Any]:
    import os

    summary = asyncio.run(run(event, os.environ, utc_now()))
    log.info(
        "trail export %s..%s: %d written, %d unchanged, %d whole hours not read again, %d rows",
        summary.first_day,
        summary.last_day,
        summary.written,
        summary.unchanged,
        summary.final,
        summary.rows,
    )
    sys.stdout.write(orjson.dumps({"trailExport": summary.to_json()}).decode() + "\n")
    sys.stdout.flush()
    return summary.to_json()
