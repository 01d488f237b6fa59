"""The scheduled trail export, for real: records written by the pipeline into DynamoDB Local,
exported by the Lambda handler into S3 on moto's server (over HTTP), and read back as Parquet:
days that are over, as parts, each record once; a run out of time goes on where it stopped."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from collector.config import ConfigError
from collector.store import Query
from collector.trail import layout
from collector.trail.layout import part_key
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail.writer import parquet_bytes
from collector.trail_handler import (
    BUDGET_MARGIN,
    Summary,
    check_codec,
    days_to_export,
    handler,
    run,
    start_minute,
)
from tests.conftest import ROOT, Backend
from tests.conftest import run as run_async
from tests.trail.seed import DAYS, FIRST_DAY, seed
from tests.trail_support import deployment as trail_deployment
from tests.trail_support import process

pytestmark = pytest.mark.dynamodb

FIRST = FIRST_DAY.date()
LAST = FIRST + timedelta(days=DAYS - 1)
NOW = datetime(LAST.year, LAST.month, LAST.day, 23, 50, tzinfo=UTC) + timedelta(minutes=30)  # 00:20


@pytest.fixture
def deployment(
    dynamodb_local: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], Any, Backend]]:
    """A table on DynamoDB Local, a versioned bucket on moto, and the exporter's environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    # the seeded days, and today; Object Lock also turns versioning on
    yield trail_deployment(dynamodb_local, moto_endpoint, export_days=DAYS + 1, object_lock=True)


def rows_in(s3: Any, bucket: str) -> dict[str, list[str]]:
    """Each exported object's invocation ids, by key."""
    out = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=TRAIL_PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        out[item["Key"]] = pq.read_table(io.BytesIO(body)).column("invocation_id").to_pylist()
    return out


def listed(s3: Any, bucket: str) -> list[str]:
    return sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=TRAIL_PREFIX).get("Contents", [])
    )


def versions(s3: Any, bucket: str, key: str) -> int:
    return len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []))


def key(day: date, first: int = 0, last: int = 1439) -> str:
    return TRAIL_PREFIX + part_key(day, first, last)


class Context:
    """Lambda's context as the exporter reads it: the time left, which runs out after `parts`
    parts were started (each start asks once)."""

    def __init__(self, parts: int) -> None:
        self.left = parts

    def get_remaining_time_in_millis(self) -> int:
        self.left -= 1
        return 15 * 60_000 if self.left >= 0 else int(BUDGET_MARGIN.total_seconds() * 1000) - 1


async def stored_keys(backend: Backend) -> set[str]:
    store = await backend.open()
    try:
        since, until = FIRST_DAY, NOW
        records = await store.query(Query(since=since, until=until, limit=10**6, full=True))
        return {str(r["invocationId"]) for r in records}
    finally:
        await store.close()


def test_export_writes_every_record_once_and_a_reexport_replaces_or_skips(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]

    async def seeded() -> None:
        store = await backend.open()
        try:
            await seed(store, backend.settings)
        finally:
            await store.close()

    run_async(seeded())
    expected = run_async(stored_keys(backend))
    assert len(expected) > 40

    first = run_async(run({}, env, NOW))
    assert (first.first_day, first.last_day) == (FIRST, LAST)
    assert (first.written, first.unchanged, first.rows, first.whole_days) == (DAYS, 0, len(expected), 0)
    exported = rows_in(s3, bucket)
    assert sorted(exported) == [key(FIRST + timedelta(n)) for n in range(DAYS)]  # one object a day
    every = [key for keys in exported.values() for key in keys]
    assert len(every) == len(set(every)) and set(every) == expected  # each record once, none missed

    # Each day's minutes 00:00-23:59 are covered: the schedule does not read those days again.
    again = run_async(run({}, env, NOW + timedelta(hours=1)))
    assert (again.written, again.unchanged, again.whole_days, again.rows) == (0, 0, DAYS, 0)
    window = {"first_day": FIRST.isoformat(), "last_day": LAST.isoformat()}
    forced = run_async(run(window, env, NOW))  # a backfill reads them: same bytes, no PUT
    assert (forced.written, forced.unchanged, forced.whole_days) == (0, DAYS, 0)
    assert forced.rows == len(expected)
    assert rows_in(s3, bucket) == exported
    assert all(versions(s3, bucket, key) == 1 for key in exported)

    late_day = FIRST + timedelta(days=1)  # a replayed event recorded late, in the day it first arrived
    at = datetime(late_day.year, late_day.month, late_day.day, 0, 30, tzinfo=UTC)
    (late_key,) = run_async(process(backend, [at], seed_=99))  # (the collector never writes into a past day)
    third = run_async(run(window, env, NOW))
    assert (third.written, third.unchanged, third.rows) == (1, DAYS - 1, len(expected) + 1)
    after = rows_in(s3, bucket)
    assert sorted(after[key(late_day)]) == sorted([*exported[key(late_day)], late_key])
    assert versions(s3, bucket, key(late_day)) == 2  # the replaced object is kept as a noncurrent version
    every = [key for keys in after.values() for key in keys]
    assert len(every) == len(set(every)) == len(expected) + 1


def test_a_stale_object_in_a_day_is_removed_and_the_handler_takes_a_backfill_range(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    run_async(process(backend, [FIRST_DAY + timedelta(hours=n) for n in range(3)], seed_=7))
    for name, body in (
        ("left-by-hand.parquet", b"not the trail"),
        (f"audit-trail-{FIRST}.parquet", b"the whole day"),  # one object a day, before hours
        (f"audit-trail-{FIRST}-01.parquet", b"hour 1"),  # one object an hour, before parts
    ):
        s3.put_object(Bucket=bucket, Key=f"{TRAIL_PREFIX}day={FIRST}/{name}", Body=body)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = handler({"first_day": FIRST.isoformat(), "last_day": FIRST.isoformat()}, None)
    assert result == {
        "first_day": FIRST.isoformat(),
        "last_day": FIRST.isoformat(),
        "written": 1,
        "unchanged": 0,
        "deleted": 3,
        "rows": 3,
        "whole_days": 0,
        "continue_day": None,
        "first_time": None,
        "continue_event": None,
    }
    assert list(rows_in(s3, bucket)) == [key(FIRST)]


def test_a_backfill_out_of_time_names_the_time_to_go_on_from_and_gives_one_runs_objects(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    monkeypatch.setattr(layout, "PART_ROWS", 2)
    hours = [0, 0, 1, 3, 3, 4, 5, 7, 7, 20]  # record n at hour h, minute n
    keys = run_async(
        process(backend, [FIRST_DAY + timedelta(hours=h, minutes=n) for n, h in enumerate(hours)])
    )
    parts = [(0, 1), (2, 183), (184, 245), (246, 427), (428, 1439)]  # 00:00-00:01, 00:02-03:03, ...
    old = f"{TRAIL_PREFIX}day={FIRST}/audit-trail-{FIRST}-07.parquet"  # an hourly object, before parts
    s3.put_object(Bucket=bucket, Key=old, Body=b"hour 7")
    day = FIRST.isoformat()
    first = run_async(run({"first_day": day}, env, NOW, Context(parts=2)))
    assert (first.written, first.rows, first.deleted) == (2, 4, 0)
    assert (first.continue_day, first.first_time) == (FIRST, "03:04")
    assert first.to_json()["first_time"] == "03:04"
    second = run_async(run({"first_day": day, "first_time": "03:04"}, env, NOW, Context(parts=1)))
    assert (second.written, second.rows, second.continue_day, second.first_time) == (1, 2, FIRST, "04:06")
    assert listed(s3, bucket) == sorted([old, *(key(FIRST, a, b) for a, b in parts[:3])])
    third = run_async(run({"first_day": day, "first_time": "04:06"}, env, NOW, Context(parts=9)))
    assert (third.written, third.rows, third.deleted, third.continue_day) == (2, 4, 1, None)
    exported = rows_in(s3, bucket)
    assert sorted(exported) == sorted(key(FIRST, a, b) for a, b in parts)
    every = [k for ks in exported.values() for k in ks]
    assert sorted(every) == sorted(keys)  # each record once
    whole = run_async(run({"first_day": day}, env, NOW))  # one uninterrupted run: the same bytes
    assert (whole.written, whole.unchanged, whole.deleted) == (0, 5, 0)

    for wrong in ("03:05", "04:00"):  # not where a part ends: the error names those that are
        with pytest.raises(ConfigError, match="boundaries are 00:00, 00:02, 03:04, 04:06, 07:08"):
            run_async(run({"first_day": day, "first_time": wrong}, env, NOW))
    for not_a_time in ("24:00", "4", "03:4", 184, None):
        with pytest.raises(ConfigError, match="first_time must be HH:MM"):
            run_async(run({"first_day": day, "first_time": not_a_time}, env, NOW))


def test_an_event_with_a_key_it_does_not_take_is_refused_not_run_as_the_schedule(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """The answer's fields pasted back, an hour instead of a time, a first_time alone: one error
    naming the keys taken (before, some of these ran the schedule silently)."""
    env, s3, _ = deployment
    day = FIRST.isoformat()
    for event in (
        {"continue_day": day, "first_hour": 14},
        {"continue_day": day, "first_time": "03:04"},
        {"first_day": day, "first_hour": 4},
        {"first_day": day, "last_hour": 11},
        {"first_time": "03:04"},
        {"first_day": day, "firstday": day},
        {"first_day": None},
        {"last_day": ""},
        day,
        [day],
    ):
        with pytest.raises(ConfigError, match=r"takes first_day and last_day .* and first_time") as raised:
            run_async(run(event, env, NOW))
        assert "\n" not in str(raised.value)
    assert listed(s3, env["COLLECTOR_TRAIL_BUCKET"]) == []  # nothing ran
    scheduled = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    for schedule in (scheduled, {}, None):
        assert run_async(run(schedule, env, NOW)).first_day == days_to_export({}, DAYS + 1, NOW)[0]


def test_the_schedule_out_of_time_goes_on_at_the_next_run_and_old_hourly_objects_count(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hourly objects of an earlier version cover their hours: kept, not read again, no row twice;
    the run out of time and the next one write what one run writes; a backfill replaces them."""
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    monkeypatch.setattr(layout, "PART_ROWS", 2)
    hours = [0, 1, 2, 2, 5, 5, 9]  # record n at hour h, minute n
    moments = [FIRST_DAY + timedelta(hours=h, minutes=n) for n, h in enumerate(hours)]
    keys = run_async(process(backend, moments))

    async def records(hour: int) -> list[dict[str, Any]]:
        store = await backend.open()
        try:
            since = FIRST_DAY + timedelta(hours=hour)
            until = since + timedelta(hours=1, milliseconds=-1)
            return await store.query(Query(since=since, until=until, limit=100, full=True))
        finally:
            await store.close()

    for hour in (0, 1):  # what the hourly exporter of an earlier version wrote before the upgrade
        body = parquet_bytes(run_async(records(hour)))
        s3.put_object(
            Bucket=bucket, Key=f"{TRAIL_PREFIX}day={FIRST}/audit-trail-{FIRST}-{hour:02d}.parquet", Body=body
        )
    old = sorted(rows_in(s3, bucket))
    env = {**env, "COLLECTOR_TRAIL_EXPORT_DAYS": "2"}  # the window: yesterday
    now = datetime(FIRST.year, FIRST.month, FIRST.day, 0, 20, tzinfo=UTC) + timedelta(days=1)
    first = run_async(
        run({}, env, now, Context(parts=1))
    )  # from 02:00: 02:00-02:03, 02:04-05:05, 05:06-23:59
    assert (first.written, first.rows, first.deleted) == (1, 2, 0)
    assert (first.continue_day, first.first_time) == (FIRST, "02:04")
    second = run_async(run({}, env, now + timedelta(hours=1), Context(parts=9)))
    assert (second.written, second.rows, second.continue_day, second.whole_days) == (2, 3, None, 0)
    exported = rows_in(s3, bucket)
    assert sorted(exported) == sorted(
        [*old, key(FIRST, 120, 123), key(FIRST, 124, 305), key(FIRST, 306, 1439)]
    )
    every = [k for ks in exported.values() for k in ks]
    assert sorted(every) == sorted(keys)  # each record once: the hourly objects' rows not again
    idle = run_async(run({}, env, now + timedelta(hours=2)))
    assert (idle.whole_days, idle.written, idle.unchanged, idle.rows) == (1, 0, 0, 0)

    backfill = run_async(run({"first_day": FIRST.isoformat()}, env, now))  # the rule's parts from 00:00
    assert (backfill.written, backfill.unchanged, backfill.deleted) == (
        2,
        2,
        3,
    )  # replaces 00, 01, 02:00-02:03
    exported = rows_in(s3, bucket)
    assert sorted(exported) == sorted(
        key(FIRST, a, b) for a, b in ((0, 61), (62, 123), (124, 305), (306, 1439))
    )
    assert sorted(k for ks in exported.values() for k in ks) == sorted(keys)


def test_object_lock_puts_each_written_object_under_retention(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    env, s3, backend = deployment
    run_async(process(backend, [FIRST_DAY], seed_=5))
    locked = {**env, "COLLECTOR_TRAIL_LOCK_DAYS": "7", "COLLECTOR_TRAIL_LOCK_MODE": "COMPLIANCE"}
    summary = run_async(run({"first_day": FIRST.isoformat()}, locked, NOW))
    assert summary == Summary(FIRST, FIRST, 1, 0, 0, 1)
    head = s3.head_object(Bucket=env["COLLECTOR_TRAIL_BUCKET"], Key=key(FIRST))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == NOW + timedelta(days=7)


def test_a_table_holding_many_days_is_backfilled_in_31_day_steps_each_record_once(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """docs/deploy.md's backfill: 33 days, two invocations (31 + 2), then the whole range again."""
    env, s3, backend = deployment
    now = datetime.now(UTC)
    first = now.date() - timedelta(days=40)
    days = [first + timedelta(days=n) for n in range(33)]
    run_async(process(backend, [datetime(d.year, d.month, d.day, 8, tzinfo=UTC) for d in days], seed_=1000))
    steps = [(days[0], days[30]), (days[31], days[-1])]
    for _ in range(2):  # the loop run twice writes nothing new
        summaries = [
            run_async(run({"first_day": a.isoformat(), "last_day": b.isoformat()}, env, now))
            for a, b in steps
        ]
        assert sum(s.rows for s in summaries) == 33
    assert sum(s.unchanged for s in summaries) == 33
    exported = rows_in(s3, env["COLLECTOR_TRAIL_BUCKET"])
    assert sorted(exported) == [key(d) for d in days]
    every = [key for keys in exported.values() for key in keys]
    assert len(every) == len(set(every)) == 33


def test_todays_partial_day_is_never_written_by_the_schedule(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """A day is exported once it is over by 15 minutes (the run at 00:20), whole, and only then."""
    env, s3, backend = deployment
    env = {**env, "COLLECTOR_TRAIL_EXPORT_DAYS": "3"}
    today = datetime.now(UTC).date() + timedelta(days=2)  # the runs' clock: a day the table holds alone
    morning = datetime(today.year, today.month, today.day, 10, tzinfo=UTC)
    keys = run_async(process(backend, [morning, morning + timedelta(hours=13, minutes=59)], seed_=200))
    for n, at in enumerate(
        (morning + timedelta(hours=1, minutes=20), morning + timedelta(hours=13, minutes=50))
    ):
        during = run_async(run({}, env, at))
        assert (during.first_day, during.last_day) == (today - timedelta(days=2), today - timedelta(days=1))
        # The window's two days are over and hold no record: their empty parts, once; never today.
        assert (during.written, during.rows, during.whole_days) == ((2, 0, 0) if n == 0 else (0, 0, 2))
    midnight = morning + timedelta(hours=14)
    early = run_async(run({}, env, midnight + timedelta(minutes=10)))  # over, but by less than 15 minutes
    assert (early.last_day, early.written) == (today - timedelta(days=1), 0)
    with pytest.raises(ConfigError, match="not over yet"):
        run_async(run({"first_day": today.isoformat()}, env, midnight + timedelta(minutes=10)))
    at_20 = run_async(run({}, env, midnight + timedelta(minutes=20)))
    assert (at_20.last_day, at_20.written, at_20.rows) == (today, 1, 2)
    assert sorted(k for ks in rows_in(s3, env["COLLECTOR_TRAIL_BUCKET"]).values() for k in ks) == sorted(keys)


IDLE_PROBE = """
import asyncio, json, os, sys
from datetime import datetime
from collector.trail import layout
from collector.trail_handler import run
layout.PART_ROWS = int(sys.argv[2])
summary = asyncio.run(run({}, os.environ, datetime.fromisoformat(sys.argv[1])))
watched = ("pyarrow", "collector.trail.writer", "collector.trail.export")
loaded = sorted(m for m in watched if m in sys.modules)
print(json.dumps({"loaded": loaded, "summary": summary.to_json()}))
"""


def run_probe(env: dict[str, str], table: str, now: datetime, part_rows: int) -> dict[str, Any]:
    """IDLE_PROBE in a fresh interpreter: the run's answer and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", IDLE_PROBE, now.isoformat(), str(part_rows)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "COLLECTOR_TRAIL_EXPORT_DAYS": "3", "COLLECTOR_TABLE_NAME": table},
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return answer


def test_an_idle_run_lists_and_imports_no_pyarrow(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """A run whose days are whole decides it from the LISTs: no pyarrow, no table read (its table
    here does not exist). The same probe, with a day to write, does load pyarrow."""
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    now = datetime(LAST.year, LAST.month, LAST.day, 5, 20, tzinfo=UTC)
    window = [LAST - timedelta(days=n) for n in (2, 1)]  # COLLECTOR_TRAIL_EXPORT_DAYS 3

    def probe(table: str) -> dict[str, Any]:
        return run_probe(env, table, now, part_rows=1_000_000)

    s3.put_object(Bucket=bucket, Key=key(window[0]), Body=b"a whole day")
    s3.put_object(Bucket=bucket, Key=key(window[1], 0, 599), Body=b"a part")
    s3.put_object(Bucket=bucket, Key=key(window[1], 600, 1439), Body=b"a part")
    idle = probe("no-such-table")
    assert idle["loaded"] == []
    assert (idle["summary"]["whole_days"], idle["summary"]["written"]) == (2, 0)

    s3.delete_object(Bucket=bucket, Key=key(window[1], 600, 1439))
    run_async(process(backend, [datetime(window[1].year, window[1].month, window[1].day, 12, tzinfo=UTC)]))
    busy = probe(env["COLLECTOR_TABLE_NAME"])
    assert busy["loaded"] == ["collector.trail.export", "collector.trail.writer", "pyarrow"]
    assert (busy["summary"]["whole_days"], busy["summary"]["written"], busy["summary"]["rows"]) == (1, 1, 1)


def test_an_empty_day_and_a_day_whose_records_end_early_are_whole_after_their_first_export(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """A day with no records gets its empty part, a day whose records end early a last part to
    23:59: the next runs find both whole from the LISTs, no pyarrow, no table (before, each run
    read the table again for them)."""
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    now = datetime(LAST.year, LAST.month, LAST.day, 5, 20, tzinfo=UTC)
    empty, early = (LAST - timedelta(days=n) for n in (2, 1))  # COLLECTOR_TRAIL_EXPORT_DAYS 3
    start = datetime(early.year, early.month, early.day, 1, tzinfo=UTC)
    run_async(process(backend, [start, start + timedelta(minutes=1), start + timedelta(minutes=2)]))

    def probe(at: datetime, table: str) -> dict[str, Any]:
        return run_probe(env, table, at, part_rows=2)

    first = probe(now, env["COLLECTOR_TABLE_NAME"])
    assert (first["summary"]["written"], first["summary"]["rows"]) == (3, 3)
    assert listed(s3, bucket) == [key(empty), key(early, 0, 61), key(early, 62, 1439)]
    assert rows_in(s3, bucket)[key(empty)] == []
    for later in (1, 2):
        idle = probe(now + timedelta(hours=later), "no-such-table")
        assert idle["loaded"] == []
        assert (idle["summary"]["whole_days"], idle["summary"]["written"]) == (2, 0)


def test_the_window_is_the_days_over_and_a_backfill_is_bounded() -> None:
    now = datetime(2026, 12, 6, 0, 20, tzinfo=UTC)
    today = now.date()
    assert days_to_export({}, 3, now) == (date(2026, 12, 4), date(2026, 12, 5))
    assert days_to_export({}, 1, now) == (date(2026, 12, 5), date(2026, 12, 5))  # yesterday at least
    assert days_to_export({}, 3, now - timedelta(minutes=10)) == (date(2026, 12, 4), date(2026, 12, 4))
    assert days_to_export({"last_day": "2026-11-02"}, 3, now) == (date(2026, 11, 2), date(2026, 11, 2))
    assert days_to_export({"first_day": "2026-12-01", "last_day": "2026-12-20"}, 3, now) == (
        date(2026, 12, 1),
        date(2026, 12, 5),  # no later than the last day over
    )
    with pytest.raises(ConfigError, match="1 to 31 days in order"):
        days_to_export({"first_day": "2026-01-01", "last_day": "2026-12-01"}, 3, now)
    with pytest.raises(ConfigError, match="not over yet"):
        days_to_export({"first_day": today.isoformat()}, 3, now)
    for not_a_day in ("yesterday", "2026-W49-1", "20261201", "2026-02-30"):  # week and basic dates too
        with pytest.raises(ConfigError, match="YYYY-MM-DD"):
            days_to_export({"first_day": not_a_day}, 3, now)
    yesterday = today - timedelta(days=1)
    assert start_minute({}, yesterday, yesterday) == 0
    assert start_minute({"first_day": "2026-12-01", "first_time": "05:07"}, yesterday, yesterday) == 307
    for wrong in ("24:00", "noon", True, -1, "5:07", "05:60"):
        with pytest.raises(ConfigError, match="first_time must be HH:MM"):
            start_minute({"first_day": "2026-12-01", "first_time": wrong}, yesterday, yesterday)
    # A continue_event's first_time with its last_day: the first day goes on from it.
    assert (
        start_minute(
            {"first_day": "2026-12-01", "first_time": "01:00"}, yesterday - timedelta(days=1), yesterday
        )
        == 60
    )
    with pytest.raises(ConfigError, match="last_hour"):
        start_minute({"first_day": "2026-12-01", "last_hour": 5}, yesterday, yesterday)
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-12-06T00:20:00Z"}
    assert days_to_export(scheduled, 3, now) == days_to_export({}, 3, now)


def test_settings_and_codec_mistakes_are_one_clear_error() -> None:
    base = {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": "audit"}
    with pytest.raises(ConfigError, match="COLLECTOR_TRAIL_BUCKET is required"):
        run_async(run({}, base, NOW))
    with pytest.raises(ConfigError, match="COLLECTOR_TRAIL_LOCK_MODE"):
        run_async(run({}, {**base, "COLLECTOR_TRAIL_BUCKET": "b", "COLLECTOR_TRAIL_LOCK_MODE": "x"}, NOW))
    with pytest.raises(ConfigError, match="cannot write lzo-compressed Parquet"):
        check_codec("lzo")
