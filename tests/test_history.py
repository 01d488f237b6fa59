"""`audit list` and `audit query` across the hot window's edge: a store holding only the hot window
plus the exported trail answer exactly as the store that kept every day answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from collector.history import DuckDbTrail, HistoryStore, hot_window_start
from collector.store import Query
from collector.store.sqlite import SqliteStore
from collector.trail.schema import NOT_COLUMNS
from tests.conftest import run
from tests.trail.trail import FIRST, export_to, seeded

EDGE = datetime(2026, 11, 30, tzinfo=UTC)  # the seed's days: 11-28 to 12-02
SINCE = datetime(2026, 11, 27, tzinfo=UTC)
UNTIL = datetime(2026, 12, 3, tzinfo=UTC)


@dataclass
class Split:
    full: Path  # every day
    hot: Path  # only the days from EDGE on
    trail: Path  # every day, exported
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Split:
    return build_split(tmp_path_factory.mktemp("history"))


def build_split(folder: Path) -> Split:
    """The seeded store, its export, and a copy holding only the days from EDGE on."""
    seed = seeded(folder)
    export_to(seed.path, folder / "trail")
    hot = folder / "hot.sqlite3"

    async def keep_hot() -> None:
        store = SqliteStore(hot)
        try:
            for record in seed.records:
                if record["receivedAt"] >= EDGE.strftime("%Y-%m-%dT%H:%M:%S.000Z"):
                    await store.put_once(record)
        finally:
            await store.close()

    run(keep_hot())
    return Split(seed.path, hot, folder / "trail", seed.records)


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without the writers' bookkeeping, which the trail does not keep."""
    return [{k: v for k, v in r.items() if k not in NOT_COLUMNS - {"receivedDay"}} for r in records]


def queries(records: list[dict[str, Any]]) -> list[Query]:
    old = next(r for r in records if r["receivedAt"] < "2026-11-30" and r.get("sender"))
    both_sides = [r.get("sender") for r in records]
    sender = max(set(s for s in both_sides if s), key=both_sides.count)
    return [
        Query(since=SINCE, until=UNTIL, limit=1000),
        Query(since=SINCE, until=UNTIL, limit=1000, full=False),
        Query(since=SINCE, until=UNTIL, limit=3),  # the hot window alone fills it
        Query(since=SINCE, until=EDGE + timedelta(hours=20), limit=len(records) // 2),  # crosses
        Query(since=SINCE, until=EDGE - timedelta(hours=1), limit=1000),  # the trail alone
        Query(since=EDGE + timedelta(days=1), until=UNTIL, limit=1000),  # the store alone
        Query(sender=sender, since=SINCE, until=UNTIL, limit=1000),
        Query(message_id=old["messageId"], since=SINCE, until=UNTIL),
        Query(sender="nobody@example.com", since=SINCE, until=UNTIL),
    ]


def test_the_hot_window_and_the_trail_answer_as_the_whole_store(split: Split) -> None:
    async def body() -> None:
        full = SqliteStore(split.full, read_only=True)
        history = HistoryStore(SqliteStore(split.hot, read_only=True), DuckDbTrail(split.trail), EDGE)
        try:
            assert any(r["receivedAt"] < "2026-11-30" for r in split.records)  # both sides hold some
            for query in queries(split.records):
                expected = await full.query(query)
                got = await history.query(query)
                assert comparable(got) == comparable(expected), query
        finally:
            await full.close()
            await history.close()

    run(body())


def test_the_hot_window_starts_at_midnight_utc_of_its_first_day() -> None:
    now = datetime(2026, 12, 6, 13, 5, tzinfo=UTC)
    assert hot_window_start(now, 1) == datetime(2026, 12, 6, tzinfo=UTC)
    assert hot_window_start(now, 30) == datetime(2026, 11, 7, tzinfo=UTC)


def test_audit_list_and_query_with_trail_print_what_the_whole_store_prints(
    split: Split, capsys: pytest.CaptureFixture[str]
) -> None:
    hot_days = str((datetime.now(UTC).date() - EDGE.date()).days + 1)
    window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--limit", "500"]
    sender = next(
        r["sender"] for r in split.records if r.get("sender") and r["receivedDay"] == FIRST.isoformat()
    )
    for command in (["list", *window], ["list", "--json", *window], ["query", "--sender", sender, *window]):
        assert main(["audit", *command, "--db", str(split.full)]) == 0
        whole = capsys.readouterr().out
        assert (
            main(
                [
                    "audit",
                    *command,
                    "--db",
                    str(split.hot),
                    "--trail",
                    str(split.trail),
                    "--hot-days",
                    hot_days,
                ]
            )
            == 0
        )
        joined = capsys.readouterr().out
        if "--json" in command:
            import orjson

            assert comparable([orjson.loads(line) for line in joined.splitlines()]) == comparable(
                [orjson.loads(line) for line in whole.splitlines()]
            )
        else:
            assert joined == whole
        assert main(["audit", *command, "--db", str(split.hot)]) == 0
        assert capsys.readouterr().out != whole  # the hot window alone lacks the older days


def test_a_missing_trail_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "list", "--db", str(tmp_path / "x.sqlite3"), "--trail", str(tmp_path / "nope")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"workmail-collector: --trail {tmp_path / 'nope'}: no such folder"
    ]


def test_the_trails_time_bounds_are_inclusive_to_the_millisecond(split: Split) -> None:
    """The trail's part ends 1 ms before the edge: its last record is found at its own instant and
    no later window before the edge holds it."""
    last_old = max(r["receivedAt"] for r in split.records if r["receivedAt"] < "2026-11-30")
    moment = datetime.fromisoformat(last_old.replace("Z", "+00:00"))

    async def body() -> None:
        trail = DuckDbTrail(split.trail)
        found = await trail.query(Query(since=moment, until=moment, limit=10))
        assert [r["receivedAt"] for r in found] == [last_old]
        after = Query(since=moment + timedelta(milliseconds=1), until=EDGE - timedelta(milliseconds=1))
        assert await trail.query(after) == []

    run(body())
