"""Export: a day's records as deterministic parts of whole minutes (one object for a day under
PART_ROWS) in its folder; again gives the same bytes; a late record replaces its part;
redeliveries add no row; stale objects in a day's folder (hourly objects of earlier versions,
other parts) go right after the part that replaces them, so a stopped or failed export never
leaves a record twice for good; the last part reaches 23:59 and a day with no records is one
empty part, so the folder says the day is done."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from collector.config import Settings
from collector.model import Invocation
from collector.store.sqlite import SqliteStore
from collector.trail import layout
from collector.trail.export import FolderSink, export_day
from collector.trail.layout import part_key
from collector.trail.schema import COLUMN_NAMES, day_of
from tests.conftest import run
from tests.trail.seed import FIRST_DAY, arrival, seed
from tests.trail.trail import FIRST, LAST, all_records, export_to, seeded


def key_of(record: dict[str, object]) -> str:
    """The object of a record's day: the whole day in one part, as every seeded day is small."""
    return part_key(date.fromisoformat(day_of(record)), 0, 1439)


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_one_object_per_day_holding_exactly_the_days_records(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    done = export_to(s.path, tmp_path / "trail")
    expected_keys = sorted({key_of(r) for r in s.records})
    assert len(expected_keys) == 4  # one object on each of the four days
    assert sorted(p.key for d in done for p in d.parts) == expected_keys
    assert sorted(_files(tmp_path / "trail")) == expected_keys
    assert sum(d.rows for d in done) == len(s.records)
    for exported in done:
        assert exported.continues is None and exported.start == 0
        for part in exported.parts:
            table = pq.read_table(tmp_path / "trail" / part.key)
            assert tuple(table.column_names) == COLUMN_NAMES
            keys = table.column("invocation_id").to_pylist()
            expected = [r for r in s.records if key_of(r) == part.key]
            assert sorted(keys) == sorted(r["invocationId"] for r in expected)
            assert len(keys) == len(set(keys)) == part.rows  # redeliveries are no rows
            times = table.column("received_at").to_pylist()
            assert list(zip(times, keys, strict=True)) == sorted(zip(times, keys, strict=True))


def test_exporting_again_writes_the_same_bytes(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    export_to(s.path, tmp_path / "one")
    first = _files(tmp_path / "one")
    export_to(s.path, tmp_path / "one")
    export_to(s.path, tmp_path / "two")
    assert _files(tmp_path / "one") == first == _files(tmp_path / "two")


def test_a_late_record_replaces_its_day_and_stale_objects_go(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    out = tmp_path / "trail"
    export_to(s.path, out)
    before = _files(out)
    stray = out / f"day={FIRST}" / "left-by-hand.parquet"
    stray.write_bytes(b"not ours")
    old_layout = out / f"day={FIRST}" / f"audit-trail-{FIRST}.parquet"  # one object a day, before hours
    old_layout.write_bytes(b"the whole day")
    old_hour = out / f"day={FIRST}" / f"audit-trail-{FIRST}-00.parquet"  # one object an hour, before parts
    old_hour.write_bytes(b"hour 0")
    late_day = FIRST_DAY + timedelta(days=2)
    late_at = late_day + timedelta(hours=23)

    async def late() -> int:
        from collector.metrics import EmfWriter
        from collector.pipeline import Pipeline
        from collector.sampling import iter_events

        settings = Settings(store="sqlite", sqlite_path=s.path)
        store = SqliteStore(s.path)
        try:
            pipeline = Pipeline(store, EmfWriter("NS", "svc", lambda _line: None), settings)
            (event,) = iter_events(count=1, seed=99)
            await pipeline.process(event, Invocation("late", "1", late_at))
            return len(await all_records(store))
        finally:
            await store.close()

    total = run(late())
    done = export_to(s.path, out)
    after = _files(out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {part_key(late_day.date(), 0, 1439)}
    assert not stray.exists() and not old_layout.exists() and not old_hour.exists()
    assert done[0].deleted == (
        f"day={FIRST}/audit-trail-{FIRST}-00.parquet",
        f"day={FIRST}/audit-trail-{FIRST}.parquet",
        f"day={FIRST}/left-by-hand.parquet",
    )
    assert sum(pq.read_metadata(out / k).num_rows for k in after) == total == len(s.records) + 1


def test_a_day_left_with_no_records_or_other_parts_loses_its_objects(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    out = tmp_path / "trail"
    empty_day = LAST + timedelta(days=3)
    folder = out / f"day={empty_day}"
    folder.mkdir(parents=True)
    (out / part_key(empty_day, 300, 1439)).write_bytes(b"old")
    other = out / part_key(FIRST, 0, 300)  # a part with other boundaries (another PART_ROWS)
    other.parent.mkdir(parents=True)
    other.write_bytes(b"old")
    done = export_to(s.path, out, FIRST, empty_day)
    assert done[-1].parts == () and done[-1].rows == 0
    assert done[-1].deleted == (part_key(empty_day, 300, 1439),)
    assert not folder.exists() and not other.exists()
    assert done[0].deleted == (part_key(FIRST, 0, 300),)


def test_pages_and_row_groups_do_not_change_the_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups are cut at fixed rows, whatever pages the store returned."""
    from collector.trail import export as export_module
    from collector.trail import writer

    s = seeded(tmp_path)
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 3)
    monkeypatch.setattr(writer.TrailFile.__init__, "__defaults__", (3,))
    export_to(s.path, tmp_path / "one")
    monkeypatch.setattr(export_module, "PAGE_RECORDS", 2)
    export_to(s.path, tmp_path / "two")
    monkeypatch.setattr(export_module, "PAGE_RECORDS", 1)
    export_to(s.path, tmp_path / "three")
    one = _files(tmp_path / "one")
    assert one == _files(tmp_path / "two") == _files(tmp_path / "three")
    groups = [pq.read_metadata(tmp_path / "one" / k).num_row_groups for k in one]
    assert max(groups) > 1


def test_seeding_twice_adds_no_row(tmp_path: Path) -> None:
    """Every event delivered again (a whole second replay) leaves the same export."""
    s = seeded(tmp_path)
    export_to(s.path, tmp_path / "one")

    async def again() -> None:
        store = SqliteStore(s.path)
        try:
            await seed(store, Settings(store="sqlite", sqlite_path=s.path))
        finally:
            await store.close()

    run(again())
    export_to(s.path, tmp_path / "two")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert arrival(0).date() == FIRST


def test_a_stored_lone_surrogate_is_exported_as_its_escape(tmp_path: Path) -> None:
    """The adapters replace lone surrogates in what they read, but a store keeps whatever its
    records hold (collector.jsonutil writes them as JSON escapes): one must not stop an export,
    whose strings are UTF-8."""
    db = tmp_path / "audit.sqlite3"

    async def go() -> None:
        store = SqliteStore(db)
        try:
            item = {"invocationId": "k", "receivedAt": "2026-11-28T10:00:00.000Z", "receivedDay": str(FIRST)}
            await store.put_once(
                {**item, "status": "RECORDED", "subject": "caf\udce9", "recipients": ["\ud800"]}
            )
            assert (await store.get("k") or {})["subject"] == "caf\udce9"
        finally:
            await store.close()

    run(go())
    export_to(db, tmp_path / "trail", FIRST, FIRST)
    table = pq.read_table(tmp_path / "trail" / part_key(FIRST, 0, 1439))
    assert table.column("subject").to_pylist() == ["caf\\udce9"]
    assert table.column("recipients").to_pylist() == [["\\ud800"]]


HOURLY = [3, 0, 4, 1, 0, 0, 6, 2, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1]  # records per hour
# Record n of hour h is at h:n (minute h*60+n): with PART_ROWS 5 the rule's parts, by minute.
PARTS = [(0, 121, 5), (122, 361, 5), (362, 420, 5), (421, 663, 5), (664, 1439, 5)]


def minute_counts(hourly: list[int]) -> list[int]:
    counts = [0] * layout.MINUTES
    for hour, count in enumerate(hourly):
        for n in range(count):
            counts[hour * 60 + n] += 1
    return counts


def hours_db(tmp_path: Path, hourly: list[int] = HOURLY) -> Path:
    """A store holding hourly[h] records in hour h of FIRST (record n at minute n), written as
    records are."""
    db = tmp_path / "hours.sqlite3"

    async def go() -> None:
        store = SqliteStore(db)
        try:
            for hour, count in enumerate(hourly):
                for n in range(count):
                    at = f"{FIRST}T{hour:02d}:{n:02d}:00.{n:03d}Z"
                    item = {"invocationId": f"h{hour:02d}-{n}", "receivedAt": at, "receivedDay": str(FIRST)}
                    await store.put_once({**item, "status": "RECORDED", "subject": f"hour {hour}"})
        finally:
            await store.close()

    run(go())
    return db


Exported = tuple[int | None, list[tuple[int, int, int]], tuple[str, ...]]


def export_hours(
    db: Path, out: Path, start: int = 0, parts_allowed: int | None = None, sink: FolderSink | None = None
) -> Exported:
    """export_day of FIRST from minute `start`, starting at most `parts_allowed` parts (None: no
    budget)."""
    started: list[int] = []

    def may_start() -> bool:
        started.append(1)
        return parts_allowed is None or len(started) <= parts_allowed

    async def go() -> Exported:
        store = SqliteStore(db, read_only=True)
        try:
            done = await export_day(store, sink or FolderSink(out), FIRST, start, may_start=may_start)
            return done.continues, [(p.first, p.last, p.rows) for p in done.parts], done.deleted
        finally:
            await store.close()

    return run(go())


def ids_in(out: Path) -> list[str]:
    """Every invocation id the folder's objects hold (a record twice: twice)."""
    found: list[str] = []
    for path in sorted(out.rglob("*.parquet")):
        found += pq.read_table(path).column("invocation_id").to_pylist()
    return found


def every_id(hourly: list[int] = HOURLY) -> list[str]:
    return sorted(f"h{h:02d}-{n}" for h in range(24) for n in range(hourly[h]))


def write_hourly(db: Path, out: Path, hours: list[int]) -> None:
    """The objects an earlier version wrote: one an hour, `D-HH`, holding that hour's records."""
    from collector.trail.writer import parquet_bytes

    async def hour(h: int) -> list[dict[str, object]]:
        store = SqliteStore(db, read_only=True)
        try:
            return [r for r in await all_records(store) if str(r["receivedAt"])[11:13] == f"{h:02d}"]
        finally:
            await store.close()

    (out / f"day={FIRST}").mkdir(parents=True, exist_ok=True)
    for h in hours:
        (out / f"day={FIRST}" / f"audit-trail-{FIRST}-{h:02d}.parquet").write_bytes(
            parquet_bytes(run(hour(h)))
        )


def test_parts_close_at_the_first_minute_reaching_part_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    continues, written, deleted = export_hours(db, tmp_path / "one")
    expected = [(p.first, p.last, p.rows) for p in layout.parts(minute_counts(HOURLY))]
    assert written == expected == PARTS
    assert continues is None and deleted == ()
    files = _files(tmp_path / "one")
    assert sorted(files) == [part_key(FIRST, a, b) for a, b, _ in expected]
    assert part_key(FIRST, 122, 361) == f"day={FIRST}/audit-trail-{FIRST}-0202-0601.parquet"
    for first, last, rows in expected:  # each part holds exactly the records of its minutes
        keys = pq.read_table(tmp_path / "one" / part_key(FIRST, first, last)).column("invocation_id")
        assert sorted(keys.to_pylist()) == sorted(
            f"h{h:02d}-{n}" for h in range(24) for n in range(HOURLY[h]) if first <= h * 60 + n <= last
        )
        assert len(keys) == rows
    export_hours(db, tmp_path / "two")
    assert _files(tmp_path / "two") == files  # the same records, the same parts and bytes


def test_one_busy_hour_is_cut_at_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An hour holding many times PART_ROWS is several parts, none above PART_ROWS plus the
    minute that closes it (whole hours made it one part without bound)."""
    monkeypatch.setattr(layout, "PART_ROWS", 3)
    db = hours_db(tmp_path, [0] * 5 + [40] + [0] * 18)  # hour 5: 40 records, one a minute
    _, written, _ = export_hours(db, tmp_path / "trail")
    assert len(written) == 14 and max(rows for _, _, rows in written) == 3
    assert written[0] == (0, 302, 3) and written[-1] == (339, 1439, 1)
    assert sorted(ids_in(tmp_path / "trail")) == every_id([0] * 5 + [40] + [0] * 18)


def test_a_stop_at_a_part_boundary_then_going_on_gives_the_uninterrupted_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    export_hours(db, tmp_path / "whole")
    out = tmp_path / "stopped"
    write_hourly(db, out, [6, 16])  # objects of an earlier version: 06:00-06:59, 16:00-16:59
    continues, written, deleted = export_hours(db, out, parts_allowed=2)
    assert (continues, written) == (362, PARTS[:2])
    # The hour 06 object meets the second part (02:02-06:01): deleted right after it, so its
    # records 06:02-06:05 are missing until the next part, never there twice.
    assert deleted == (f"day={FIRST}/audit-trail-{FIRST}-06.parquet",)
    assert len(ids_in(out)) == len(set(ids_in(out)))
    assert layout.walk(FIRST, _files(out)).start == 362  # what the schedule's LIST says
    continues, written, deleted = export_hours(db, out, start=362, parts_allowed=1)
    assert (continues, written) == (421, PARTS[2:3])
    continues, written, deleted = export_hours(db, out, start=421)
    assert (continues, written, deleted) == (
        None,
        PARTS[3:],
        (f"day={FIRST}/audit-trail-{FIRST}-16.parquet",),
    )
    assert _files(out) == _files(tmp_path / "whole")


def test_a_backfill_stopped_next_to_a_straddling_object_leaves_no_record_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hourly objects of an earlier version, then a backfill from 00:00 stopped after one part
    (00:00-02:01): the hour 02 object reaches past the part; it goes with the part, and the walk
    says to go on from 02:02 (before: it stayed, its records twice, and the day counted whole)."""
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    out = tmp_path / "trail"
    write_hourly(db, out, [h for h in range(24) if HOURLY[h]])
    assert layout.walk(FIRST, _files(out)).start == 60  # no object for the empty hour 01
    continues, written, deleted = export_hours(db, out, parts_allowed=1)
    assert (continues, written) == (122, PARTS[:1])
    assert deleted == (
        f"day={FIRST}/audit-trail-{FIRST}-00.parquet",
        f"day={FIRST}/audit-trail-{FIRST}-02.parquet",
    )
    assert len(ids_in(out)) == len(set(ids_in(out)))
    assert layout.walk(FIRST, _files(out)).start == 122
    export_hours(db, out, start=122)
    assert sorted(ids_in(out)) == every_id()
    assert layout.walk(FIRST, _files(out)).start is None


class FailingDeletes(FolderSink):
    async def delete(self, key: str) -> None:
        raise OSError("SlowDown (503) on DeleteObject")


def test_a_failure_between_a_put_and_its_deletes_is_repaired_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part is written, the delete of the objects it replaces fails: the folder holds records
    twice; the walk sees the overlap, the next export rewrites the part (same bytes) and deletes
    them (before: the day counted whole, the records twice for good)."""
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    out = tmp_path / "trail"
    write_hourly(db, out, [0, 2, 3])
    with pytest.raises(OSError, match="SlowDown"):
        export_hours(db, out, sink=FailingDeletes(out))
    assert len(ids_in(out)) > len(set(ids_in(out)))  # doubled, for now
    start = layout.walk(FIRST, _files(out)).start
    assert start == 0  # the part 00:00-02:01 and the hour 00 object start together: an overlap
    export_hours(db, out, start=start)
    assert sorted(ids_in(out)) == every_id()
    assert sorted(_files(out)) == [part_key(FIRST, a, b) for a, b, _ in PARTS]
    assert layout.walk(FIRST, _files(out)).start is None


def test_a_day_whose_records_end_early_has_its_last_part_reach_2359(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path, [2, 3, *[0] * 22])  # PART_ROWS reached at 01:02, no record after it
    continues, written, _ = export_hours(db, tmp_path / "trail")
    assert (continues, written) == (None, [(0, 1439, 5)])
    assert sorted(_files(tmp_path / "trail")) == [part_key(FIRST, 0, 1439)]
    assert layout.walk(FIRST, _files(tmp_path / "trail")).start is None


def test_a_day_with_no_records_is_one_empty_part_that_duckdb_reads_with_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.trail import duck
    from collector.trail.schema import arrow_schema

    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    out = tmp_path / "trail"
    export_hours(db, out)

    async def empty_day() -> tuple[tuple[int, int, int], ...]:
        store = SqliteStore(db, read_only=True)
        try:
            done = await export_day(store, FolderSink(out), FIRST + timedelta(days=1))
            return tuple((p.first, p.last, p.rows) for p in done.parts)
        finally:
            await store.close()

    assert run(empty_day()) == ((0, 1439, 0),)
    empty = out / part_key(FIRST + timedelta(days=1), 0, 1439)
    assert pq.read_table(empty).num_rows == 0
    assert pq.read_schema(empty).names == arrow_schema().names
    assert (
        layout.walk(FIRST + timedelta(days=1), [part_key(FIRST + timedelta(days=1), 0, 1439)]).start is None
    )
    found = duck.run(duck.connect(out), "SELECT invocation_id, day FROM workmail_collector.audit_trail").rows
    assert sorted(k for k, _ in found) == every_id() and {d for _, d in found} == {str(FIRST)}
    before = empty.read_bytes()
    run(empty_day())
    assert empty.read_bytes() == before  # the same bytes: the ETag check skips it


def test_duckdb_reads_hourly_objects_of_an_earlier_version_and_parts_alike_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day an earlier version began (hours 0-2, one object each) and this one went on with
    (parts from 03:00): the view reads every record once, whatever the objects' names."""
    from collector.trail import duck

    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    out = tmp_path / "trail"
    write_hourly(db, out, [0, 2])  # hour 1 had no record: no object
    assert layout.walk(FIRST, _files(out)).start == 60
    continues, _, deleted = export_hours(db, out, start=180)
    assert (continues, deleted) == (None, ())
    con = duck.connect(out)
    found = duck.run(con, "SELECT invocation_id, day FROM workmail_collector.audit_trail").rows
    assert sorted(k for k, _ in found) == every_id()
    assert {d for _, d in found} == {str(FIRST)}
