"""The trail's table and named queries: one schema holds every attribute a record has, and each
named query runs on DuckDB over exported files (and over an empty trail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.config import Settings
from collector.store import Query
from collector.store.sqlite import SqliteStore
from collector.trail import duck
from collector.trail.queries import NAMED_QUERIES, QueryFileError, parse
from collector.trail.schema import COLUMNS, KNOWN_ATTRIBUTES, QUALIFIED_TABLE, day_of, row
from collector.trail.writer import parquet_bytes
from tests.conftest import run
from tests.trail.seed import seed

REQUIRED = {
    "message_trace",
    "by_sender",
    "by_recipient",
    "daily_volume",
    "top_sender_domains",
    "truncated_and_invalid",
    "ses_bounces_complaints",
}
# What each parameter name takes in these tests.
SAMPLE_VALUES = {"first_day": "2026-01-01", "last_day": "2027-12-31"}


def records(tmp_path: Path) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        settings = Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3")
        store = SqliteStore(settings.sqlite_path)
        try:
            await seed(store, settings)
            found = await store.query(Query(since=Query().window()[0].replace(year=2000), limit=10**6))
            return found
        finally:
            await store.close()

    return run(go())


def test_every_attribute_of_every_record_has_a_column(tmp_path: Path) -> None:
    found = records(tmp_path)
    assert {r["status"] for r in found} == {"RECORDED", "INVALID"}
    assert {r.get("source") for r in found} >= {"WorkMail", "SES", None}
    for record in found:
        assert set(record) <= KNOWN_ATTRIBUTES, set(record) - KNOWN_ATTRIBUTES
        out = row(record)
        assert list(out) == [c.name for c in COLUMNS]
        assert out["invocation_id"] == record["invocationId"]


def test_every_named_query_runs_on_duckdb(tmp_path: Path) -> None:
    assert set(NAMED_QUERIES) >= REQUIRED
    found = records(tmp_path)
    trail = tmp_path / "trail"
    for day in sorted({day_of(r) for r in found}):
        folder = trail / f"day={day}"
        folder.mkdir(parents=True)
        (folder / "part.parquet").write_bytes(parquet_bytes(r for r in found if day_of(r) == day))
    con = duck.connect(trail)
    assert duck.run(con, f"SELECT count(*) FROM {QUALIFIED_TABLE}").rows == [(len(found),)]
    day_type = duck.run(con, f"SELECT typeof(day) FROM {QUALIFIED_TABLE} LIMIT 1").rows
    assert day_type == [("VARCHAR",)]
    for name, query in NAMED_QUERIES.items():
        assert query.description and query.sql.startswith(f"-- {query.description}")
        assert query.parameters[:2] == ("first_day", "last_day"), name
        values = [SAMPLE_VALUES.get(p, "x") for p in query.parameters]
        assert duck.run_named(con, name, values).columns, name
        empty = duck.connect(tmp_path / "nothing-here")
        assert duck.run_named(empty, name, values).rows == [], name


def test_a_query_file_must_declare_its_parameters() -> None:
    with pytest.raises(QueryFileError):
        parse("x", "-- d\n-- parameters: a\nSELECT 1 WHERE ? = ? \n")
    with pytest.raises(QueryFileError):
        parse("x", "SELECT 1\n")
