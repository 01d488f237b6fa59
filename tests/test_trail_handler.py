"""The scheduled trail export, for real: records written by the pipeline into DynamoDB Local,
exported by the Lambda handler into S3 on moto's server (over HTTP), and read back as Parquet."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from collector.config import ConfigError, Settings
from collector.metrics import EmfWriter
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.sampling import iter_events
from collector.store import Query
from collector.trail.export import hour_key
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail_handler import Summary, check_codec, days_to_export, handler, hours_to_export, run
from tests.conftest import Backend, make_table
from tests.conftest import run as run_async
from tests.trail.seed import DAYS, FIRST_DAY, seed

pytestmark = pytest.mark.dynamodb

FIRST = FIRST_DAY.date()
LAST = FIRST + timedelta(days=DAYS - 1)
NOW = datetime(LAST.year, LAST.month, LAST.day, 23, 50, tzinfo=UTC)  # the run of the last seeded day
HOURS = 2  # the seed's records arrive in hours 0 and 1 of each day


@pytest.fixture
def deployment(
    dynamodb_local: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], Any, Backend]]:
    """A table on DynamoDB Local, a versioned bucket on moto, and the exporter's environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    table = make_table(dynamodb_local)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)  # also turns versioning on
    env = {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": table,
        "COLLECTOR_TRAIL_BUCKET": bucket,
        "COLLECTOR_TRAIL_EXPORT_DAYS": str(DAYS),
    }
    yield env, s3, Backend("dynamodb-local", Settings(store="dynamodb", table_name=table), dynamodb_local)


def rows_in(s3: Any, bucket: str) -> dict[str, list[str]]:
    """Each exported object's invocation ids, by key."""
    out = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=TRAIL_PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        out[item["Key"]] = pq.read_table(io.BytesIO(body)).column("invocation_id").to_pylist()
    return out


def versions(s3: Any, bucket: str, key: str) -> int:
    return len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []))


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
    assert (first.written, first.unchanged, first.rows) == (DAYS * HOURS, 0, len(expected))
    exported = rows_in(s3, bucket)
    assert sorted(exported) == [
        TRAIL_PREFIX + hour_key(FIRST + timedelta(n), h) for n in range(DAYS) for h in range(HOURS)
    ]
    every = [key for keys in exported.values() for key in keys]
    assert len(every) == len(set(every)) and set(every) == expected  # each record once, none missed

    # Each object was written after its hour ended: the schedule does not read those hours again.
    again = run_async(run({}, env, NOW))
    assert (again.written, again.unchanged, again.final, again.rows) == (0, 0, DAYS * HOURS, 0)
    window = {"first_day": FIRST.isoformat(), "last_day": LAST.isoformat()}
    forced = run_async(run(window, env, NOW))  # a backfill reads them: same bytes, no PUT
    assert (forced.written, forced.unchanged, forced.final) == (0, DAYS * HOURS, 0)
    assert forced.rows == len(expected)
    assert rows_in(s3, bucket) == exported
    assert all(versions(s3, bucket, key) == 1 for key in exported)

    late_day = FIRST + timedelta(days=1)  # a replayed event recorded late, in the day it first arrived

    async def late() -> str:
        store = await backend.open()
        try:
            writer = EmfWriter(backend.settings.namespace, "trail-test", lambda _line: None)
            pipeline = Pipeline(store, writer, backend.settings)
            (event,) = iter_events(count=1, direction="INBOUND", recipients=1, seed=99)
            moment = datetime(late_day.year, late_day.month, late_day.day, 0, 30, tzinfo=UTC)
            await pipeline.process(event, Invocation("late", "1", moment))
            return str(event["invocationId"])
        finally:
            await store.close()

    late_key = run_async(late())  # (the collector never writes into a past day; an import could)
    third = run_async(run(window, env, NOW))
    assert (third.written, third.unchanged, third.rows) == (1, DAYS * HOURS - 1, len(expected) + 1)
    after = rows_in(s3, bucket)
    day_key = TRAIL_PREFIX + hour_key(late_day, 0)
    assert sorted(after[day_key]) == sorted([*exported[day_key], late_key])
    assert versions(s3, bucket, day_key) == 2  # the replaced object is kept as a noncurrent version
    every = [key for keys in after.values() for key in keys]
    assert len(every) == len(set(every)) == len(expected) + 1


def test_a_stale_object_in_a_day_is_removed_and_the_handler_takes_a_backfill_range(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]

    async def one() -> None:
        store = await backend.open()
        try:
            pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
            for n, event in enumerate(iter_events(count=3, direction="OUTBOUND", recipients=2, seed=7)):
                await pipeline.process(event, Invocation(f"r{n}", "1", FIRST_DAY + timedelta(hours=n)))
        finally:
            await store.close()

    run_async(one())
    stale = f"{TRAIL_PREFIX}day={FIRST}/left-by-hand.parquet"
    s3.put_object(Bucket=bucket, Key=stale, Body=b"not the trail")
    daily = f"{TRAIL_PREFIX}day={FIRST}/audit-trail-{FIRST}.parquet"  # one object a day, before hours
    s3.put_object(Bucket=bucket, Key=daily, Body=b"the whole day")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = handler({"first_day": FIRST.isoformat(), "last_day": FIRST.isoformat()}, None)
    assert result == {
        "first_day": FIRST.isoformat(),
        "last_day": FIRST.isoformat(),
        "written": 3,
        "unchanged": 0,
        "deleted": 2,
        "rows": 3,
        "final": 0,
    }
    assert list(rows_in(s3, bucket)) == [TRAIL_PREFIX + hour_key(FIRST, h) for h in range(3)]


def test_a_busy_day_is_backfilled_a_few_hours_a_run(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]

    async def four() -> None:
        store = await backend.open()
        try:
            pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
            for n, event in enumerate(iter_events(count=4, direction="OUTBOUND", recipients=1, seed=8)):
                await pipeline.process(event, Invocation(f"h{n}", "1", FIRST_DAY + timedelta(hours=n)))
        finally:
            await store.close()

    run_async(four())
    day = FIRST.isoformat()
    first = run_async(run({"first_day": day, "first_hour": 0, "last_hour": 1}, env, NOW))
    assert (first.written, first.rows) == (2, 2)
    second = run_async(run({"first_day": day, "first_hour": 2, "last_hour": 23}, env, NOW))
    assert (second.written, second.deleted, second.rows) == (2, 0, 2)
    assert sorted(rows_in(s3, bucket)) == [TRAIL_PREFIX + hour_key(FIRST, h) for h in range(4)]
    daily = f"{TRAIL_PREFIX}day={FIRST}/audit-trail-{FIRST}.parquet"  # one object a day, before hours
    s3.put_object(Bucket=bucket, Key=daily, Body=b"the whole day")
    with pytest.raises(ConfigError, match="export the whole day"):
        run_async(run({"first_day": day, "first_hour": 3}, env, NOW))
    whole = run_async(run({"first_day": day}, env, NOW))
    assert (whole.unchanged, whole.deleted, whole.rows) == (4, 1, 4)


def test_object_lock_puts_each_written_object_under_retention(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    env, s3, backend = deployment

    async def one() -> None:
        store = await backend.open()
        try:
            pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
            (event,) = iter_events(count=1, direction="INBOUND", recipients=1, seed=5)
            await pipeline.process(event, Invocation("r", "1", FIRST_DAY))
        finally:
            await store.close()

    run_async(one())
    locked = {**env, "COLLECTOR_TRAIL_LOCK_DAYS": "7", "COLLECTOR_TRAIL_LOCK_MODE": "COMPLIANCE"}
    summary = run_async(run({"first_day": FIRST.isoformat()}, locked, NOW))
    assert summary == Summary(FIRST, FIRST, 1, 0, 0, 1)
    key = TRAIL_PREFIX + hour_key(FIRST, 0)
    head = s3.head_object(Bucket=env["COLLECTOR_TRAIL_BUCKET"], Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == NOW + timedelta(days=7)


def test_a_table_holding_many_days_is_backfilled_in_31_day_steps_each_record_once(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """docs/deploy.md's backfill: 33 days, two invocations (31 + 2), then the whole range again."""
    env, s3, backend = deployment
    today = datetime.now(UTC).date()
    first = today - timedelta(days=40)
    days = [first + timedelta(days=n) for n in range(33)]

    async def year() -> None:
        store = await backend.open()
        try:
            pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
            for n, day in enumerate(days):
                for m, event in enumerate(iter_events(count=1, recipients=1, seed=1000 + n)):
                    moment = datetime(day.year, day.month, day.day, 8 + m, tzinfo=UTC)
                    await pipeline.process(event, Invocation(f"r{n}-{m}", "1", moment))
        finally:
            await store.close()

    run_async(year())
    steps = [(days[0], days[30]), (days[31], days[-1])]
    for _ in range(2):  # the loop run twice writes nothing new
        summaries = [
            run_async(run({"first_day": a.isoformat(), "last_day": b.isoformat()}, env, NOW))
            for a, b in steps
        ]
        assert sum(s.rows for s in summaries) == 33
    assert sum(s.unchanged for s in summaries) == 33
    exported = rows_in(s3, env["COLLECTOR_TRAIL_BUCKET"])
    assert len(exported) == 33 and all(len(keys) == 1 for keys in exported.values())
    every = [key for keys in exported.values() for key in keys]
    assert len(set(every)) == 33


def test_an_hour_is_read_again_until_its_object_was_written_after_it_ended(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    """The objects are written now (S3's clock); the runs' clock is two days ahead, just after the
    hour of the records ended: that hour is exported and read again, the current hour is not."""
    env, s3, backend = deployment
    ahead = datetime.now(UTC).date() + timedelta(days=2)
    hour = datetime(ahead.year, ahead.month, ahead.day, 10, tzinfo=UTC)

    async def one(n: int, at: datetime) -> None:
        store = await backend.open()
        try:
            pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
            (event,) = iter_events(count=1, direction="INBOUND", recipients=1, seed=200 + n)
            await pipeline.process(event, Invocation(f"hour-{n}", "1", at))
        finally:
            await store.close()

    run_async(one(1, hour + timedelta(minutes=5)))
    run_async(one(2, hour + timedelta(hours=1, minutes=1)))  # the current hour: not over yet
    first = run_async(run({}, env, hour + timedelta(hours=1, minutes=5)))
    assert (first.written, first.final, first.rows) == (1, 0, 1)
    run_async(one(3, hour + timedelta(minutes=20)))  # a record of that hour written late
    second = run_async(run({}, env, hour + timedelta(hours=1, minutes=6)))
    assert (second.written, second.final, second.rows) == (1, 0, 2)
    assert [len(keys) for keys in rows_in(s3, env["COLLECTOR_TRAIL_BUCKET"]).values()] == [2]


def test_the_window_ends_today_and_a_backfill_is_bounded() -> None:
    today = date(2026, 12, 6)
    assert days_to_export({}, 3, today) == (date(2026, 12, 4), today)
    assert days_to_export({"last_day": "2026-11-02"}, 3, today) == (date(2026, 11, 2), date(2026, 11, 2))
    with pytest.raises(ConfigError, match="1 to 31 days in order"):
        days_to_export({"first_day": "2026-01-01", "last_day": "2026-12-01"}, 3, today)
    for not_a_day in ("yesterday", "2026-W49-1", "20261201", "2026-02-30"):  # week and basic dates too
        with pytest.raises(ConfigError, match="YYYY-MM-DD"):
            days_to_export({"first_day": not_a_day}, 3, today)
    assert hours_to_export({}, today, today) == range(24)
    assert hours_to_export({"first_day": "2026-12-01", "last_hour": 5}, today, today) == range(6)
    for wrong in ({"first_hour": 5, "last_hour": 4}, {"first_hour": 24}, {"first_hour": "noon"}):
        with pytest.raises(ConfigError, match="first_hour"):
            hours_to_export({"first_day": "2026-12-01", **wrong}, today, today)
    with pytest.raises(ConfigError, match="for one day"):
        hours_to_export({"first_day": "2026-12-01", "first_hour": 1}, today, today + timedelta(days=1))


def test_settings_and_codec_mistakes_are_one_clear_error() -> None:
    base = {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": "audit"}
    with pytest.raises(ConfigError, match="COLLECTOR_TRAIL_BUCKET is required"):
        run_async(run({}, base, NOW))
    with pytest.raises(ConfigError, match="COLLECTOR_TRAIL_LOCK_MODE"):
        run_async(run({}, {**base, "COLLECTOR_TRAIL_BUCKET": "b", "COLLECTOR_TRAIL_LOCK_MODE": "x"}, NOW))
    with pytest.raises(ConfigError, match="cannot write lzo-compressed Parquet"):
        check_codec("lzo")
