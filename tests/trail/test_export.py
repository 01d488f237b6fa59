"""Export: one deterministic object per day; again gives the same bytes; a late record replaces
its day; redeliveries add no row; stale objects in a day's folder go."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq

from collector.config import Settings
from collector.model import Invocation
from collector.store.sqlite import SqliteStore
from collector.trail.export import object_key
from collector.trail.schema import COLUMN_NAMES, day_of
from tests.conftest import run
from tests.trail.seed import FIRST_DAY, arrival, seed
from tests.trail.trail import FIRST, LAST, all_records, export_to, seeded


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_one_object_per_day_holding_exactly_the_days_records(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    done = export_to(s.path, tmp_path / "trail")
    days = sorted({day_of(r) for r in s.records})
    assert [d.key for d in done if d.key] == [object_key(FIRST + timedelta(days=n)) for n in range(len(days))]
    assert sorted(_files(tmp_path / "trail")) == [object_key(FIRST + timedelta(days=n)) for n in range(4)]
    assert sum(d.rows for d in done) == len(s.records)
    for exported in done:
        if exported.key is None:
            continue
        table = pq.read_table(tmp_path / "trail" / exported.key)
        assert tuple(table.column_names) == COLUMN_NAMES
        keys = table.column("invocation_id").to_pylist()
        expected = [r for r in s.records if day_of(r) == exported.day.isoformat()]
        assert sorted(keys) == sorted(r["invocationId"] for r in expected)
        assert len(keys) == len(set(keys))  # redeliveries are no rows
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
    late_day = FIRST_DAY + timedelta(days=2)

    async def late() -> int:
        from collector.metrics import EmfWriter
        from collector.pipeline import Pipeline
        from collector.sampling import iter_events

        settings = Settings(store="sqlite", sqlite_path=s.path)
        store = SqliteStore(s.path)
        try:
            pipeline = Pipeline(store, EmfWriter("NS", "svc", lambda _line: None), settings)
            (event,) = iter_events(count=1, seed=99)
            await pipeline.process(event, Invocation("late", "1", late_day + timedelta(hours=23)))
            return len(await all_records(store))
        finally:
            await store.close()

    total = run(late())
    done = export_to(s.path, out)
    after = _files(out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {object_key(late_day.date())}
    assert not stray.exists()
    assert done[0].deleted == (f"day={FIRST}/left-by-hand.parquet",)
    assert sum(pq.read_metadata(out / k).num_rows for k in after) == total == len(s.records) + 1


def test_a_day_left_with_no_records_loses_its_object(tmp_path: Path) -> None:
    s = seeded(tmp_path)
    out = tmp_path / "trail"
    empty_day = LAST + timedelta(days=3)
    folder = out / f"day={empty_day}"
    folder.mkdir(parents=True)
    (folder / object_key(empty_day).split("/")[1]).write_bytes(b"old")
    done = export_to(s.path, out, FIRST, empty_day)
    assert done[-1].key is None and done[-1].rows == 0
    assert not folder.exists()


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
    table = pq.read_table(tmp_path / "trail" / object_key(FIRST))
    assert table.column("subject").to_pylist() == ["caf\\udce9"]
    assert table.column("recipients").to_pylist() == [["\\ud800"]]
