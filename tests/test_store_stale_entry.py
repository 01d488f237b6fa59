"""A page entry left at a record's old place (the batch of the change that moved it failed, and the
repair gave the record its own index item at the new one) lists or exports the record once: its own
item wins where both list it, and a whole record fetched for an entry of another receivedAt is
left out (collector/store/dynamodb.py `_whole`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.store import Query
from collector.store.dynamodb import DynamoDbStore, encode_item, with_shard
from collector.store.pages import changes_of
from tests.conftest import make_table, run
from tests.pages_support import put_pages

pytestmark = pytest.mark.dynamodb

OLD = {
    "invocationId": "k-moved",
    "receivedDay": "2026-11-20",
    "receivedAt": "2026-11-20T10:00:30.000Z",
    "status": "INVALID",
    "source": "WorkMail",
    "direction": "INBOUND",
}
NEW = {**OLD, "receivedAt": "2026-11-20T10:07:00.000Z", "status": "RECORDED"}


def test_a_stale_entry_at_the_old_minute_lists_and_exports_the_record_once(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    table = make_table(dynamodb_local)

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        store = await DynamoDbStore.open(table)
        try:
            # The record now, with its own index item (the repair), and the INSERT's entry, stale.
            await store._client.put_item(TableName=table, Item=encode_item(with_shard(NEW)))
            await put_pages(store, changes_of("INSERT", OLD, None, (1, 1)), None)
            since = datetime(2026, 11, 20, tzinfo=UTC)
            until = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
            exported = [
                str(r["receivedAt"]) async for page in store.oldest_first(since, until, 10) for r in page
            ]
            whole = await store.query(Query(since=since, until=until, full=True))
            return exported, [str(r["receivedAt"]) for r in whole], [str(r["status"]) for r in whole]
        finally:
            await store.close()

    exported, listed, statuses = run(scenario())
    assert exported == [NEW["receivedAt"]]
    assert listed == [NEW["receivedAt"]] and statuses == ["RECORDED"]


@pytest.mark.parametrize("new_at", [OLD["receivedAt"], "2026-11-20T10:00:45.000Z"])
def test_a_filter_sees_the_records_own_item_not_the_stale_entry(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, new_at: str
) -> None:
    """A status filter matched by DynamoDB would drop the record's own item (no longer INVALID) while
    the stale INVALID entry of its page passed whole and listed it: filters apply after the dedupe."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    table = make_table(dynamodb_local)
    now = {**OLD, "receivedAt": new_at, "status": "RECORDED"}

    async def scenario() -> dict[tuple[bool, str | None], list[str]]:
        store = await DynamoDbStore.open(table)
        try:
            await store._client.put_item(TableName=table, Item=encode_item(with_shard(now)))
            await put_pages(store, changes_of("INSERT", OLD, None, (1, 1)), None)
            since = datetime(2026, 11, 20, tzinfo=UTC)
            until = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
            out = {}
            for full in (False, True):
                for status in (None, "INVALID", "RECORDED"):
                    found = await store.query(Query(since=since, until=until, status=status, full=full))
                    out[(full, status)] = [str(r["status"]) for r in found]
            return out
        finally:
            await store.close()

    for (full, status), statuses in run(scenario()).items():
        assert statuses == ([] if status == "INVALID" else ["RECORDED"]), (full, status)


def test_a_limit_counts_whole_records_not_the_entries_left_out(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record moved to an earlier minute leaves its stale entry the newest of the day: `--json
    --limit 1` fetched that entry alone, left it out (another receivedAt) and showed nothing, though
    the record and an older one exist. Whole records are counted against the limit."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    table = make_table(dynamodb_local)
    later = {**OLD, "receivedAt": "2026-11-20T10:07:00.000Z"}  # where the INSERT's page listed it
    moved = {**OLD, "status": "RECORDED"}  # the record now, at 10:00:30, with its own item
    older = {**OLD, "invocationId": "k-older", "receivedAt": "2026-11-20T09:00:00.000Z", "status": "RECORDED"}

    async def scenario() -> dict[int, list[str]]:
        store = await DynamoDbStore.open(table)
        try:
            for item in (moved, older):
                await store._client.put_item(TableName=table, Item=encode_item(with_shard(item)))
            await put_pages(store, changes_of("INSERT", later, None, (1, 1)), None)
            since = datetime(2026, 11, 20, tzinfo=UTC)
            until = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
            out = {}
            for limit in (1, 2, 3):
                found = await store.query(Query(since=since, until=until, full=True, limit=limit))
                out[limit] = [f"{r['invocationId']}@{r['receivedAt']}" for r in found]
            return out
        finally:
            await store.close()

    found = run(scenario())
    newest, second = f"k-moved@{moved['receivedAt']}", f"k-older@{older['receivedAt']}"
    assert found == {1: [newest], 2: [newest, second], 3: [newest, second]}


def test_thousands_of_entries_left_out_take_a_few_listings_not_thousands(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost batch of purges leaves its records' entries listed until their pages expire: a listing
    that grew by what it missed re-read the index ~entries/limit times (25 million reads for one
    10,000-record batch at --limit 1). It at least doubles: a handful of listings."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    table = make_table(dynamodb_local)
    gone = [
        {**OLD, "invocationId": f"k-gone-{n}", "receivedAt": f"2026-11-20T11:{n // 60:02d}:{n % 60:02d}.000Z"}
        for n in range(600)
    ]
    kept = {**OLD, "invocationId": "k-kept", "receivedAt": "2026-11-20T09:00:00.000Z", "status": "RECORDED"}

    async def scenario() -> tuple[list[str], int]:
        store = await DynamoDbStore.open(table)
        listings = 0
        listing = store._listing

        async def counted(query: Query) -> list[dict[str, object]]:
            nonlocal listings
            listings += 1
            return await listing(query)

        try:
            await store._client.put_item(TableName=table, Item=encode_item(with_shard(kept)))
            changes = [c for n, r in enumerate(gone) for c in changes_of("INSERT", r, None, (1, n))]
            await put_pages(store, changes, None)  # paged, then purged in a batch that was lost
            store._listing = counted  # type: ignore[method-assign]
            since = datetime(2026, 11, 20, tzinfo=UTC)
            until = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
            found = await store.query(Query(since=since, until=until, full=True, limit=1))
            return [str(r["invocationId"]) for r in found], listings
        finally:
            await store.close()

    found, listings = run(scenario())
    assert found == ["k-kept"]
    assert listings <= 12, listings  # 1, 2, 4, ... 1,024 entries: 11 listings
