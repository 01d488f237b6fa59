"""Export: a day's records as deterministic parts (one object for a day under PART_ROWS) in its
folder; again gives the same bytes; a late record replaces its part; redeliveries add no row;
stale objects in a day's folder (hourly objects of earlier versions, other parts) go."""

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
    return part_key(date.fromisoformat(day_of(record)), 0, 23)


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
    assert changed == {part_key(late_day.date(), 0, 23)}
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
    (out / part_key(empty_day, 5, 23)).write_bytes(b"old")
    other = out / part_key(FIRST, 0, 5)  # a part with other boundaries (another PART_ROWS)
    other.parent.mkdir(parents=True)
    other.write_bytes(b"old")
    done = export_to(s.path, out, FIRST, empty_day)
    assert done[-1].parts == () and done[-1].rows == 0
    assert done[-1].deleted == (part_key(empty_day, 5, 23),)
    assert not folder.exists() and not other.exists()
    assert done[0].deleted == (part_key(FIRST, 0, 5),)


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
    table = pq.read_table(tmp_path / "trail" / part_key(FIRST, 0, 23))
    assert table.column("subject").to_pylist() == ["caf\\udce9"]
    assert table.column("recipients").to_pylist() == [["\\ud800"]]


HOURLY = [3, 0, 4, 1, 0, 0, 6, 2, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1]  # records per hour


def hours_db(tmp_path: Path, hourly: list[int] = HOURLY) -> Path:
    """A store holding hourly[h] records in hour h of FIRST, written as records are."""
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


def export_hours(db: Path, out: Path, start: int = 0, parts_allowed: int | None = None) -> Exported:
    """export_day of FIRST from `start`, starting at most `parts_allowed` parts (None: no budget)."""
    started: list[int] = []

    def may_start() -> bool:
        started.append(1)
        return parts_allowed is None or len(started) <= parts_allowed

    async def go() -> Exported:
        store = SqliteStore(db, read_only=True)
        try:
            done = await export_day(store, FolderSink(out), FIRST, start, may_start=may_start)
            return done.continues, [(p.first, p.last, p.rows) for p in done.parts], done.deleted
        finally:
            await store.close()

    return run(go())


def test_parts_close_at_the_first_hour_reaching_part_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    continues, written, deleted = export_hours(db, tmp_path / "one")
    expected = [(p.first, p.last, p.rows) for p in layout.parts(HOURLY) if p.rows]
    assert written == expected == [(0, 2, 7), (3, 6, 7), (7, 11, 7), (12, 23, 4)]
    assert continues is None and deleted == ()
    files = _files(tmp_path / "one")
    assert sorted(files) == [part_key(FIRST, a, b) for a, b, _ in expected]
    for first, last, rows in expected:  # each part holds exactly the records of its hours
        keys = pq.read_table(tmp_path / "one" / part_key(FIRST, first, last)).column("invocation_id")
        assert sorted(keys.to_pylist()) == sorted(
            f"h{h:02d}-{n}" for h in range(first, last + 1) for n in range(HOURLY[h])
        )
        assert len(keys) == rows
    export_hours(db, tmp_path / "two")
    assert _files(tmp_path / "two") == files  # the same records, the same parts and bytes


def test_a_stop_at_a_part_boundary_then_going_on_gives_the_uninterrupted_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    export_hours(db, tmp_path / "whole")
    out = tmp_path / "stopped"
    for name in (f"audit-trail-{FIRST}-06.parquet", f"audit-trail-{FIRST}-16.parquet"):  # earlier hourly
        (out / f"day={FIRST}").mkdir(parents=True, exist_ok=True)
        (out / f"day={FIRST}" / name).write_bytes(b"old")
    continues, written, deleted = export_hours(db, out, parts_allowed=2)
    assert (continues, written) == (7, [(0, 2, 7), (3, 6, 7)])
    assert deleted == (f"day={FIRST}/audit-trail-{FIRST}-06.parquet",)  # inside the hours written only
    continues, written, deleted = export_hours(db, out, start=7, parts_allowed=1)
    assert (continues, written) == (12, [(7, 11, 7)])
    continues, written, deleted = export_hours(db, out, start=12)
    assert (continues, written, deleted) == (
        None,
        [(12, 23, 4)],
        (f"day={FIRST}/audit-trail-{FIRST}-16.parquet",),
    )
    assert _files(out) == _files(tmp_path / "whole")


def test_a_day_whose_records_end_early_has_no_object_for_its_empty_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path, [2, 4, *[0] * 22])
    continues, written, _ = export_hours(db, tmp_path / "trail")
    assert (continues, written) == (None, [(0, 1, 6)])
    assert sorted(_files(tmp_path / "trail")) == [part_key(FIRST, 0, 1)]


def test_duckdb_reads_hourly_objects_of_an_earlier_version_and_parts_alike_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day an earlier version began (hours 0-2, one object each) and this one went on with
    (parts from hour 3): the view reads every record once, whatever the objects' names."""
    from collector.trail import duck
    from collector.trail.writer import parquet_bytes

    monkeypatch.setattr(layout, "PART_ROWS", 5)
    db = hours_db(tmp_path)
    out = tmp_path / "trail"

    async def hour(h: int) -> list[dict[str, object]]:
        store = SqliteStore(db, read_only=True)
        try:
            return [r for r in await all_records(store) if str(r["receivedAt"])[11:13] == f"{h:02d}"]
        finally:
            await store.close()

    for h in (0, 2):  # hour 1 had no record: no object
        (out / f"day={FIRST}").mkdir(parents=True, exist_ok=True)
        (out / f"day={FIRST}" / f"audit-trail-{FIRST}-{h:02d}.parquet").write_bytes(
            parquet_bytes(run(hour(h)))
        )
    continues, written, deleted = export_hours(db, out, start=3)
    assert (continues, written, deleted) == (None, [(3, 6, 7), (7, 11, 7), (12, 23, 4)], ())
    con = duck.connect(out)
    found = duck.run(con, "SELECT invocation_id, day FROM workmail_collector.audit_trail").rows
    assert sorted(k for k, _ in found) == sorted(f"h{h:02d}-{n}" for h in range(24) for n in range(HOURLY[h]))
    assert {d for _, d in found} == {str(FIRST)}
