"""Export reads DynamoDB through the same store protocol: the same events, replayed into DynamoDB
Local and into SQLite, export to the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import Settings
from collector.store.sqlite import SqliteStore
from collector.trail.export import FolderSink, export
from tests.conftest import Backend, run
from tests.trail.seed import seed
from tests.trail.trail import FIRST, LAST


def _export(store_settings: Settings, backend: Backend | None, out: Path) -> dict[str, bytes]:
    async def go() -> None:
        store = await backend.open() if backend else SqliteStore(store_settings.sqlite_path)
        try:
            await seed(store, store_settings)
            await export(store, FolderSink(out), FIRST, LAST)
        finally:
            await store.close()

    run(go())
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.mark.dynamodb
def test_dynamodb_and_sqlite_export_the_same_bytes(dynamodb_backend: Backend, tmp_path: Path) -> None:
    from_dynamodb = _export(dynamodb_backend.settings, dynamodb_backend, tmp_path / "dynamodb")
    sqlite = Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3")
    from_sqlite = _export(sqlite, None, tmp_path / "sqlite")
    assert len(from_sqlite) == 4
    assert from_dynamodb == from_sqlite
