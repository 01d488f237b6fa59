"""A day replaced from 00:00 keeps the records its trail holds: the table keeps a few days (TTL),
the trail the year, so a backfill (or a local export again) of a day the table has partly or
wholly forgotten is refused, naming the day and both counts, unless forced; a day whose folder
holds no more than the store (the schedule repairing an overlap within its window) goes on.
Real parts: SQLite, FolderSink, the handler's S3 sink on moto's server."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from collector.aws import open_client
from collector.cli import main
from collector.config import ConfigError
from collector.store import utc_day_bounds
from collector.store.sqlite import SqliteStore
from collector.trail.export import FolderSink, TrailWouldShrink, export_day
from collector.trail.layout import Part, most_rows
from collector.trail.s3 import TRAIL_PREFIX, S3Sink
from collector.trail.writer import parquet_bytes
from collector.trail_handler import run as run_handler
from tests.conftest import Backend, run
from tests.trail.seed import DAYS, FIRST_DAY, seed
from tests.trail.trail import seeded

DAY = date(2026, 3, 1)
NEXT = date(2026, 3, 2)


def _record(day: date, n: int) -> dict[str, Any]:
    return {
        "invocationId": f"{day}-{n}",
        "receivedAt": f"{day}T{n:02d}:{n:02d}:00.000Z",
        "receivedDay": str(day),
        "status": "RECORDED" if n % 3 else "INVALID",
    }


def _store(db: Path, day: date, count: int) -> None:
    async def go() -> None:
        store = SqliteStore(db)
        try:
            for n in range(count):
                await store.put_once(_record(day, n))
        finally:
            await store.close()

    run(go())


def _expire(db: Path, day: date, keep: int) -> None:
    """TTL's work: the day's records past the first `keep` leave the table."""
    with sqlite3.connect(db) as connection:
        gone = [f"{day}-{n}" for n in range(keep, 24)]
        connection.execute(f"DELETE FROM audit WHERE invocation_id IN ({','.join('?' * len(gone))})", gone)


def _export(db: Path, out: Path, day: date = DAY, *, force: bool = False) -> int:
    async def go() -> int:
        store = SqliteStore(db, read_only=True)
        try:
            return (await export_day(store, FolderSink(out), day, force=force)).rows
        finally:
            await store.close()

    return run(go())


def _rows(out: Path) -> dict[str, int]:
    return {p.name: pq.read_metadata(p).num_rows for p in sorted(out.rglob("*.parquet"))}


def test_a_day_the_store_holds_fewer_records_of_is_refused_unless_forced(tmp_path: Path) -> None:
    db, out = tmp_path / "audit.sqlite3", tmp_path / "trail"
    _store(db, DAY, 4)
    assert _export(db, out) == 4
    before = _rows(out)
    assert _export(db, out) == 4  # the same records: replaced by itself
    _expire(db, DAY, 1)
    with pytest.raises(TrailWouldShrink) as refused:
        _export(db, out)
    said = str(refused.value)
    assert "2026-03-01" in said and "holds 4 " in said and "store 1 " in said and "TTL" in said
    assert '"force": true' in said and "--force" in said and "\n" not in said
    assert isinstance(refused.value, ConfigError)
    assert _rows(out) == before  # nothing touched
    assert _export(db, out, force=True) == 1
    assert _rows(out) == {f"audit-trail-{DAY}-0000-2359.parquet": 1}


def test_a_continuation_from_a_later_minute_is_refused_too(tmp_path: Path) -> None:
    """A backfill's `first_time` (or a continue_event sent after TTL caught up with a stalled
    backfill) deletes the objects its parts replace as well: the same whole-day counts refuse it."""
    db, out = tmp_path / "audit.sqlite3", tmp_path / "trail"
    _store(db, DAY, 4)
    _export(db, out)
    folder = out / f"day={DAY}"
    (folder / f"audit-trail-{DAY}-0000-2359.parquet").unlink()
    for n in range(4):  # an earlier version's hourly objects: every hour is a boundary
        (folder / f"audit-trail-{DAY}-{n:02d}.parquet").write_bytes(parquet_bytes([_record(DAY, n)]))
    before = _rows(out)
    _expire(db, DAY, 1)

    async def go(start: int, force: bool) -> int:
        store = SqliteStore(db, read_only=True)
        try:
            return (await export_day(store, FolderSink(out), DAY, start, force=force)).rows
        finally:
            await store.close()

    with pytest.raises(TrailWouldShrink, match=r"holds 4 .*store 1 "):
        run(go(60, False))
    assert _rows(out) == before  # nothing touched
    assert run(go(60, True)) == 0
    assert _rows(out) == {f"audit-trail-{DAY}-00.parquet": 1, f"audit-trail-{DAY}-0100-2359.parquet": 0}


def test_the_local_export_refuses_in_one_line_and_force_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, out = tmp_path / "audit.sqlite3", tmp_path / "trail"
    _store(db, DAY, 3)
    days = ["--db", str(db), "--out", str(out), "--since", str(DAY), "--until", str(DAY)]
    assert main(["export", *days]) == 0
    _expire(db, DAY, 0)
    capsys.readouterr()
    assert main(["export", *days]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds 3 " in err and "--force" in err
    assert sum(_rows(out).values()) == 3
    assert main(["export", *days, "--force"]) == 0
    assert _rows(out) == {}  # the local export writes no file for a day with no records


def test_overlapping_objects_count_once_so_a_repair_from_0000_goes_on(tmp_path: Path) -> None:
    """Objects whose minutes overlap may hold the same records: the guard counts the most a
    set of objects whose minutes do not meet holds, so a day whose store holds every record is
    repaired (here an hourly and a one-a-day object of earlier versions over the day's part)."""
    db, out = tmp_path / "audit.sqlite3", tmp_path / "trail"
    _store(db, DAY, 5)
    _export(db, out)
    folder = out / f"day={DAY}"
    (folder / f"audit-trail-{DAY}-01.parquet").write_bytes(parquet_bytes([_record(DAY, 1)]))
    (folder / f"audit-trail-{DAY}.parquet").write_bytes(parquet_bytes([_record(DAY, n) for n in range(5)]))
    (folder / "not-parquet.parquet").write_bytes(b"left by hand")
    assert _export(db, out) == 5
    assert _rows(out) == {f"audit-trail-{DAY}-0000-2359.parquet": 5}
    assert most_rows([Part(0, 1439, 5), Part(60, 119, 1), Part(0, 59, 1), Part(120, 1439, 3)]) == 5
    assert most_rows([Part(0, 1439, 3), Part(0, 59, 2), Part(60, 1439, 2)]) == 4


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"guard-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield s3, name


def test_the_s3_sink_reads_a_parts_rows_from_its_footer(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    objects = {
        "a.parquet": parquet_bytes([_record(DAY, n) for n in range(7)]),
        "empty-part.parquet": parquet_bytes([]),
        "zero-bytes.parquet": b"",
        "short.parquet": b"PAR1",
        "text.parquet": b"not a parquet file, long enough to have a tail",
        "lying.parquet": b"x" * 20 + (1000).to_bytes(4, "little") + b"PAR1",  # a footer longer than it
    }
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=TRAIL_PREFIX + key, Body=body)

    async def rows() -> dict[str, int | None]:
        async with contextlib.AsyncExitStack() as stack:
            sink = S3Sink(await open_client("s3", stack), name, datetime.now(UTC))
            return {key: await sink.rows(key) for key in objects}

    assert run(rows()) == {
        "a.parquet": 7,
        "empty-part.parquet": 0,
        "zero-bytes.parquet": None,
        "short.parquet": None,
        "text.parquet": None,
        "lying.parquet": None,
    }


def _rows_in(s3: Any, name: str, day: date) -> dict[str, int]:
    found = {}
    for item in s3.list_objects_v2(Bucket=name, Prefix=f"{TRAIL_PREFIX}day={day}/").get("Contents", []):
        body = s3.get_object(Bucket=name, Key=item["Key"])["Body"].read()
        found[item["Key"].rpartition("/")[2]] = pq.read_metadata(io.BytesIO(body)).num_rows
    return found


def test_a_backfill_of_a_day_ttl_expired_is_refused_and_the_schedules_repair_goes_on(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, name = bucket
    db = tmp_path / "audit.sqlite3"
    env = {"COLLECTOR_STORE": "sqlite", "COLLECTOR_SQLITE_PATH": str(db), "COLLECTOR_TRAIL_BUCKET": name}
    _store(db, DAY, 4)
    _store(db, NEXT, 2)
    schedule = datetime(2026, 3, 3, 0, 20, tzinfo=UTC)
    assert run(run_handler({}, env, schedule)).rows == 6
    # Within the window the table holds the day: an overlap (a leftover of an earlier version) is
    # repaired from 00:00, and the guard lets it.
    leftover = f"{TRAIL_PREFIX}day={DAY}/audit-trail-{DAY}-00-11.parquet"
    s3.put_object(Bucket=name, Key=leftover, Body=parquet_bytes([_record(DAY, n) for n in range(4)]))
    repaired = run(run_handler({}, env, schedule.replace(hour=1)))
    assert repaired.rows == 4 and repaired.deleted == 1
    assert _rows_in(s3, name, DAY) == {f"audit-trail-{DAY}-0000-2359.parquet": 4}
    _expire(db, DAY, 1)  # months later: TTL took three of the day's records
    later = datetime(2026, 6, 2, 0, 20, tzinfo=UTC)
    with pytest.raises(TrailWouldShrink, match=r"2026-03-01 is not replaced: the trail holds 4 .* store 1 "):
        run(run_handler({"first_day": str(DAY), "last_day": str(NEXT)}, env, later))
    assert _rows_in(s3, name, DAY) == {f"audit-trail-{DAY}-0000-2359.parquet": 4}
    with pytest.raises(ConfigError, match="force must be true or false"):
        run(run_handler({"first_day": str(DAY), "force": "yes"}, env, later))
    forced = run(run_handler({"first_day": str(DAY), "force": True}, env, later))
    assert forced.rows == 1
    assert _rows_in(s3, name, DAY) == {f"audit-trail-{DAY}-0000-2359.parquet": 1}


async def _tally_and_read(store: Any) -> list[tuple[int, int, int]]:
    """For each seeded day: what `tally` counts, what `oldest_first` yields, and its INVALID ones."""
    found = []
    for n in range(DAYS + 1):
        day = FIRST_DAY.date() + timedelta(days=n)
        counted = sum(t.records for t in (await store.tally(day)).values())
        read = [r async for page in store.oldest_first(*utc_day_bounds(day), 7) for r in page]
        found.append((counted, len(read), sum(r.get("status") == "INVALID" for r in read)))
    return found


def test_the_stores_tally_counts_what_the_export_reads_invalid_records_included(tmp_path: Path) -> None:
    """The guard's count (tally) and the export's read (oldest_first) agree on SQLite."""
    s = seeded(tmp_path)

    async def go() -> list[tuple[int, int, int]]:
        store = SqliteStore(s.path, read_only=True)
        try:
            return await _tally_and_read(store)
        finally:
            await store.close()

    found = run(go())
    assert all(counted == read for counted, read, _ in found)
    assert sum(read for _, read, _ in found) == len(s.records)
    assert sum(invalid for _, _, invalid in found) > 0


@pytest.mark.dynamodb
def test_the_tally_counts_what_the_export_reads_on_dynamodb(dynamodb_backend: Backend) -> None:
    async def go() -> list[tuple[int, int, int]]:
        store = await dynamodb_backend.open()
        try:
            await seed(store, dynamodb_backend.settings)
            return await _tally_and_read(store)
        finally:
            await store.close()

    found = run(go())
    assert all(counted == read for counted, read, _ in found)
    assert sum(invalid for _, _, invalid in found) > 0
