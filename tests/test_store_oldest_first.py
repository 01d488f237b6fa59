"""The contract of `oldest_first`, the trail export's read, on SQLite and DynamoDB Local: every
record of the range once, in (receivedAt, key) order, in pages no larger than asked, whatever the
page size and however records sharing a millisecond fall across the store's own pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.clock import iso_millis
from collector.store import AuditStore
from collector.store.dynamodb import DynamoDbStore
from tests.conftest import Backend, run

START = datetime(2026, 11, 20, 22, tzinfo=UTC)


def record(key: str, at: datetime) -> dict[str, Any]:
    return {
        "invocationId": key,
        "status": "RECORDED",
        "receivedAt": iso_millis(at),
        "receivedDay": at.date().isoformat(),
        "recipients": ["x@example.org"],
        "expiresAt": 4102444800,
    }


def moments() -> list[dict[str, Any]]:
    """Ties at one millisecond (keys deliberately out of order), a day boundary, and records just
    outside the range on both sides."""
    out = [record(f"tie-{k}", START + timedelta(minutes=30)) for k in "qcxambz"]
    out += [record(f"r{n:02}", START + timedelta(minutes=7 * n, milliseconds=n)) for n in range(30)]
    out += [record(f"late-{k}", START + timedelta(hours=3)) for k in "ba"]
    out.append(record("before", START - timedelta(milliseconds=1)))
    out.append(record("after", START + timedelta(hours=4, milliseconds=1)))
    return out


@pytest.mark.parametrize("page", [1, 3, 1000])
def test_oldest_first_reads_each_record_once_in_order(store_backend: Backend, page: int) -> None:
    records = moments()
    since, until = START, START + timedelta(hours=4)

    async def go() -> list[list[dict[str, Any]]]:
        store: AuditStore = await store_backend.open()
        try:
            for r in reversed(records):
                await store.put_once(r)
            await store.put_once({"invocationId": "bookkeeping", "receivedAt": iso_millis(START)})
            if isinstance(store, DynamoDbStore):
                store.index_page_items = 2  # ties straddle the index's pages
            return [p async for p in store.oldest_first(since, until, page)]
        finally:
            await store.close()

    pages = run(go())
    inside = [r for r in records if since <= datetime.fromisoformat(r["receivedAt"]) <= until]
    expected = sorted(inside, key=lambda r: (r["receivedAt"], r["invocationId"]))
    assert [r for p in pages for r in p] == expected
    assert all(0 < len(p) <= page for p in pages)
    assert START.date() != (START + timedelta(hours=3)).date()  # the range crosses midnight


def test_an_empty_range_yields_no_page(store_backend: Backend) -> None:
    async def go() -> list[list[dict[str, Any]]]:
        store: AuditStore = await store_backend.open()
        try:
            await store.put_once(record("k", START))
            return [
                p
                async for p in store.oldest_first(START + timedelta(hours=1), START + timedelta(hours=2), 10)
            ]
        finally:
            await store.close()

    assert run(go()) == []
