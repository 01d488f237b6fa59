"""The exporter's side of late markers (collector/trail/late.py), for real: records in DynamoDB
Local, the trail and its markers in S3 on moto's server. A marked day that is over and in the
table's reach is read again and its markers cleared; a marker left during the export survives
for the next run; a run out of time keeps the day marked where it stopped; a day the table holds
fewer records of than the trail keeps its markers and is logged; a day beyond the table's reach
is cleared with a warning."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from collector.trail import late, layout
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail_handler import marker_minute, run
from tests.conftest import Backend
from tests.conftest import run as run_async
from tests.trail_support import deployment as trail_deployment
from tests.trail_support import process

pytestmark = pytest.mark.dynamodb

DAY = date(2026, 11, 20)
START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
NOW = START + timedelta(days=1, hours=2, minutes=20)  # the day is over and exported


@pytest.fixture
def deployment(
    dynamodb_local: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], Any, Backend]]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    monkeypatch.setattr(late, "SETTLE", timedelta(0))  # these runs' clock is not S3's
    # yesterday (DAY) and today
    yield trail_deployment(dynamodb_local, moto_endpoint, export_days=2, object_lock=False)


async def record(backend: Backend, moments: list[datetime], seed: int) -> list[str]:
    """One generated inbound event recorded at each moment, through the pipeline; their keys."""
    return await process(backend, moments, seed, direction="INBOUND")


def exported(s3: Any, bucket: str) -> list[str]:
    """Every exported record's invocation id, over all objects."""
    out: list[str] = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=TRAIL_PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        out += pq.read_table(io.BytesIO(body)).column("invocation_id").to_pylist()
    return sorted(out)


def mark(s3: Any, bucket: str, at: str, day: date = DAY) -> str:
    """A marker as the index consumer leaves one for a page of `day` at HH:MM `at`."""
    key = late.marker_key(day.isoformat(), f"page#{day}#3#{day}T{at}#{uuid.uuid4().hex[:8]}")
    s3.put_object(Bucket=bucket, Key=key, Body=b"")
    return key


def markers(s3: Any, bucket: str) -> list[str]:
    answer = s3.list_objects_v2(Bucket=bucket, Prefix=late.LATE_PREFIX)
    return sorted(str(o["Key"]) for o in answer.get("Contents", []))


class Marking:
    """Lambda's context, with plenty of time; asked before each part, it leaves a new marker
    the first time: a page written while the export runs."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket
        self.left: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.left is None:
            self.left = mark(self.s3, self.bucket, "23:00")
        return 15 * 60_000


def test_a_marked_day_is_exported_again_and_a_marker_left_during_the_export_survives(
    deployment: tuple[dict[str, str], Any, Backend],
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    first = run_async(record(backend, [START + timedelta(hours=h) for h in (1, 9, 17)], seed=1))
    assert run_async(run({}, env, NOW)).rows == 3
    # Records of the day indexed after its export: the schedule sees the day whole and skips it.
    later = run_async(record(backend, [START + timedelta(hours=10, minutes=m) for m in (1, 2)], seed=2))
    idle = run_async(run({}, env, NOW + timedelta(hours=1)))
    assert (idle.whole_days, idle.rows, idle.late_days) == (1, 0, 0)
    assert exported(s3, bucket) == sorted(first)

    listed_before = [mark(s3, bucket, "10:01"), mark(s3, bucket, "10:02")]
    marking = Marking(s3, bucket)
    again = run_async(run({}, env, NOW + timedelta(hours=2), marking))
    assert (again.late_days, again.late_cleared, again.whole_days, again.rows) == (1, 2, 0, 5)
    assert exported(s3, bucket) == sorted(first + later)
    assert marking.left is not None
    assert markers(s3, bucket) == [marking.left]  # left during the export: the next run's
    assert not set(listed_before) & set(markers(s3, bucket))

    last = run_async(run({}, env, NOW + timedelta(hours=3)))
    assert (last.late_days, last.late_cleared, last.written, last.unchanged) == (1, 1, 0, 1)
    assert markers(s3, bucket) == []
    assert exported(s3, bucket) == sorted(first + later)


def test_a_run_out_of_time_keeps_the_day_marked_where_it_stopped(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    monkeypatch.setattr(layout, "PART_ROWS", 2)
    keys = run_async(record(backend, [START + timedelta(hours=h, minutes=h) for h in (0, 1, 3, 4, 6, 20)], 3))
    assert run_async(run({}, env, NOW)).rows == 6  # parts 00:00-01:01, 01:02-04:04, 04:05-23:59
    early, late_one = mark(s3, bucket, "00:30"), mark(s3, bucket, "20:20")

    class TwoParts:
        left = 2

        def get_remaining_time_in_millis(self) -> int:
            self.left -= 1
            return 15 * 60_000 if self.left >= 0 else 0

    stopped = run_async(run({}, env, NOW + timedelta(hours=1), TwoParts()))
    assert (stopped.continue_day, stopped.first_time, stopped.late_cleared) == (DAY, "04:05", 1)
    left = markers(s3, bucket)
    assert early not in left and late_one in left
    assert sorted(marker_minute(DAY, k) for k in left) == [4 * 60 + 5, 20 * 60 + 20]

    done = run_async(run({}, env, NOW + timedelta(hours=2)))
    assert (done.late_days, done.late_cleared, done.continue_day, done.rows) == (1, 2, None, 2)
    assert markers(s3, bucket) == []
    assert exported(s3, bucket) == sorted(keys)


def test_a_day_the_table_holds_fewer_records_of_keeps_its_markers(
    deployment: tuple[dict[str, str], Any, Backend], caplog: pytest.LogCaptureFixture
) -> None:
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    keys = run_async(record(backend, [START + timedelta(hours=h) for h in (2, 3)], seed=4))
    assert run_async(run({}, env, NOW)).rows == 2
    dynamodb = boto3.client("dynamodb", endpoint_url=backend.endpoint, region_name="us-east-1")
    dynamodb.delete_item(TableName=env["COLLECTOR_TABLE_NAME"], Key={"invocationId": {"S": keys[0]}})
    kept = mark(s3, bucket, "03:00")
    with caplog.at_level(logging.ERROR, logger="workmail_collector"):
        refused = run_async(run({}, env, NOW + timedelta(hours=1)))
    assert (refused.late_cleared, refused.written, refused.deleted) == (0, 0, 0)
    assert markers(s3, bucket) == [kept]
    assert "the trail holds 2 of its records, the store 1" in caplog.text
    assert exported(s3, bucket) == sorted(keys)


def test_markers_of_a_day_not_over_wait_and_of_a_day_beyond_the_table_are_cleared(
    deployment: tuple[dict[str, str], Any, Backend], caplog: pytest.LogCaptureFixture
) -> None:
    env, s3, _backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    today = NOW.date()
    waiting = mark(s3, bucket, "01:00", today)
    mark(s3, bucket, "01:00", DAY - timedelta(days=40))
    with caplog.at_level(logging.WARNING, logger="workmail_collector"):
        summary = run_async(run({}, env | {"COLLECTOR_RETENTION_DAYS": "30"}, NOW))
    assert (summary.late_days, summary.late_cleared) == (0, 1)
    assert markers(s3, bucket) == [waiting]
    assert "2026-10-11" in caplog.text and "30 days" in caplog.text


@pytest.mark.parametrize(
    ("key", "minute"),
    [
        (late.marker_key("2026-11-20", "page#2026-11-20#3#2026-11-20T10:07#ab"), 607),
        (late.marker_key("2026-11-20", "continue#2026-11-20T23:59"), 1439),
        (late.marker_key("2026-11-20", "page#2026-11-19#3#2026-11-19T10:07#ab"), 0),  # another day's
        (late.marker_key("2026-11-20", "something by hand"), 0),
        ("late/day=2026-11-20/2026-11-20T24:00", 0),
    ],
)
def test_a_marker_names_its_minute_or_the_day_is_read_from_midnight(key: str, minute: int) -> None:
    assert marker_minute(DAY, key) == minute


def test_a_marker_younger_than_settle_waits_for_the_next_run(
    deployment: tuple[dict[str, str], Any, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer writes its marker right after its page; the time index lists the page a moment
    later. A run that took a fresh marker could read the day before the page is listed and still
    clear the marker, so a marker younger than late.SETTLE is left for the next run."""
    env, s3, backend = deployment
    bucket = env["COLLECTOR_TRAIL_BUCKET"]
    run_async(record(backend, [START + timedelta(hours=1)], seed=3))
    assert run_async(run({}, env, NOW)).rows == 1
    fresh = mark(s3, bucket, "01:00")
    monkeypatch.setattr(late, "SETTLE", timedelta(hours=1))
    waiting = run_async(run({}, env, NOW + timedelta(hours=1)))
    assert (waiting.late_days, waiting.late_cleared) == (0, 0)
    assert markers(s3, bucket) == [fresh]
    monkeypatch.setattr(late, "SETTLE", timedelta(0))
    taken = run_async(run({}, env, NOW + timedelta(hours=2)))
    assert (taken.late_days, taken.late_cleared) == (1, 1)
    assert markers(s3, bucket) == []
