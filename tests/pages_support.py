"""The index consumer played inside a test: a stream-mode store whose writes are paged before each
read, from the table's own changes (a diff of its records since the last read), in batches of a
chosen size and, if asked, paged again in another grouping (a retried, regrouped batch).

The real consumer (collector/index_handler.py) reads the table's stream; the diff is the same
changes, collapsed between reads, with versions that grow as the stream's do. It lets every store
test that takes a `Backend` run unchanged on a table whose records the time index lists only
through pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from collector.model import Item
from collector.store import AuditStore, Query, Tally, TallyKey
from collector.store.dynamodb import DynamoDbStore, decode_item, encode_item
from collector.store.pages import Change, build_pages, changes_of, is_page
from tests.conftest import Backend

KEY = "invocationId"


@dataclass
class Consumer:
    """What the consumer has seen of one table: its records at the last read, and every change it
    paged (so a test can page some of them again)."""

    batch: int | None = None  # changes per consumer batch; None: all at once
    regroup: int | None = None  # page everything again in batches of this size (duplicates)
    seen: dict[str, Item] = field(default_factory=dict)
    paged: list[Change] = field(default_factory=list)
    reads: int = 0

    async def catch_up(self, store: DynamoDbStore) -> None:
        """Page what changed in the table since the last call."""
        now = await records(store)
        self.reads += 1
        changes: list[Change] = []
        for key in sorted(self.seen.keys() | now.keys()):
            old, new = self.seen.get(key), now.get(key)
            if old == new:
                continue
            event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
            changes += changes_of(event, new, old, (self.reads, len(changes)))
        self.seen = now
        self.paged += changes
        await put_pages(store, changes, self.batch)
        if self.regroup is not None:
            await put_pages(store, changes, self.regroup)


async def records(store: DynamoDbStore) -> dict[str, Item]:
    """Every item of the table but the pages, as stored (a Scan: test tables are small)."""
    found: dict[str, Item] = {}
    request: dict[str, Any] = {"TableName": store._table}
    while True:
        response = await store._client.scan(**request)
        for item in map(decode_item, response.get("Items", [])):
            if not is_page(item):
                found[str(item[KEY])] = item
        if "LastEvaluatedKey" not in response:
            return found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


async def put_pages(store: DynamoDbStore, changes: list[Change], batch: int | None) -> None:
    """The pages of `changes` cut into consumer batches of `batch`, each page put as the consumer
    puts it (PutItem here: the same item)."""
    size = batch or max(1, len(changes))
    for start in range(0, len(changes), size):
        for page in build_pages(changes[start : start + size]):
            await store._client.put_item(TableName=store._table, Item=encode_item(page))


class PagingStore(DynamoDbStore):
    """Writes in stream mode; each read first lets the consumer catch up."""

    consumer: Consumer

    async def query(self, query: Query) -> list[Item]:
        await self.consumer.catch_up(self)
        return await super().query(query)

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        await self.consumer.catch_up(self)
        return await super().tally(day)

    async def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        await self.consumer.catch_up(self)
        async for records_ in super().oldest_first(since, until, page):
            yield records_

    async def purge_invalid(self, since: datetime, until: datetime, *, apply: bool) -> int:
        await self.consumer.catch_up(self)
        return await super().purge_invalid(since, until, apply=apply)


@dataclass
class PagedBackend(Backend):
    """A DynamoDB Local table written in stream mode and paged by a Consumer shared by every store
    the test opens on it."""

    consumer: Consumer = field(default_factory=Consumer)

    async def open(self) -> AuditStore:
        store = await PagingStore.open(self.settings.table_name, time_index="stream")
        assert isinstance(store, PagingStore)
        store.consumer = self.consumer
        return store
