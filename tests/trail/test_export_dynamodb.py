"""`export --store dynamodb` reads DynamoDB through the same store protocol: the same events,
replayed into DynamoDB Local and into SQLite, export to the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main
from collector.config import Settings
from collector.store.sqlite import SqliteStore
from collector.trail.export import FolderSink, export
from tests.conftest import Backend, run
from tests.trail.seed import seed
from tests.trail.trail import FIRST, LAST


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.mark.dynamodb
def test_dynamodb_and_sqlite_export_the_same_bytes(dynamodb_backend: Backend, tmp_path: Path) -> None:
    async def seed_dynamodb() -> None:
        store = await dynamodb_backend.open()
        try:
            await seed(store, dynamodb_backend.settings)
        finally:
            await store.close()

    run(seed_dynamodb())
    table = dynamodb_backend.settings.table_name
    days = ["--since", str(FIRST), "--until", str(LAST)]
    assert (
        main(["export", "--store", "dynamodb", "--table", table, "--out", str(tmp_path / "dynamodb"), *days])
        == 0
    )

    sqlite = Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3")

    async def from_sqlite() -> None:
        store = SqliteStore(sqlite.sqlite_path)
        try:
            await seed(store, sqlite)
            await export(store, FolderSink(tmp_path / "sqlite"), FIRST, LAST)
        finally:
            await store.close()

    run(from_sqlite())
    assert len(_files(tmp_path / "sqlite")) == 4  # one object on each of four days
    assert _files(tmp_path / "dynamodb") == _files(tmp_path / "sqlite")
