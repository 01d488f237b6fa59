"""The move from the unsharded time index to the sharded one, on DynamoDB Local, in the documented
order (docs/deploy.md, "Migrating to the sharded time index"): a table of the old layout holding
records without a shard, then the new version's writes, `table backfill-shards` (interrupted and
resumed, then run again), then the sharded index. At every step the readers list the same records
in the same order and tally the same counts, and no record is lost, added or changed but for its
shard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bench.dynamodb_local import dynamodb_local as dynamodb_local_server
from collector.cli import main
from collector.clock import iso_millis
from collector.store import Query, StoreError
from collector.store.backfill import CHECKPOINT_KEY, backfill_shards
from collector.store.dynamodb import DynamoDbStore, decode_item, encode_item
from collector.store.schema import (
    AUDIT_TABLE,
    SHARD_ATTRIBUTE,
    TIME_INDEX,
    UNSHARDED_TIME_INDEX,
    TableSpec,
    day_shard,
)
from tests.conftest import run

pytestmark = pytest.mark.dynamodb
START = datetime(2026, 11, 20, 9, tzinfo=UTC)
OLD_LAYOUT = TableSpec(AUDIT_TABLE.partition_key, AUDIT_TABLE.ttl_attribute, (UNSHARDED_TIME_INDEX,))


def record(n: int) -> dict[str, Any]:
    at = START + timedelta(minutes=59 * n)
    return {
        "invocationId": f"{uuid.uuid5(uuid.NAMESPACE_URL, str(n)).hex}",
        "status": "RECORDED",
        "source": "WorkMail",
        "direction": "INBOUND",
        "messageId": f"msg-{n}",
        "sender": f"s{n % 3}@example.com",
        "receivedAt": iso_millis(at),
        "receivedDay": at.strftime("%Y-%m-%d"),
        "recipientCount": 1,
        "subject": f"subject {n}",
    }


OLD = [record(n) for n in range(150)]  # written by the old version: no shard
NEW = [record(n) for n in range(150, 160)]  # by this version, before the backfill
PAGE = 25  # items a scan page evaluates: several pages per segment
LEDGER = {"invocationId": "reconcile:2026-11-20", "receivedAt": "2026-11-21T00:00:00.000Z"}
WINDOW = Query(since=START, until=START + timedelta(days=8), limit=5000, full=False)


async def listing(table: str) -> tuple[str, list[str], dict[Any, Any]]:
    store = await DynamoDbStore.open(table)
    try:
        index = (await store.time_index()).name
        found = await store.query(WINDOW)
        tally = await store.tally(date(2026, 11, 21))
        return index, [r["invocationId"] for r in found], tally
    finally:
        await store.close()


async def raw_items(table: str) -> dict[str, dict[str, Any]]:
    store = await DynamoDbStore.open(table)
    try:
        items: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {"TableName": table}
        while True:
            page = await store._client.scan(**request)
            items.update({i["invocationId"]: i for i in map(decode_item, page["Items"])})
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    finally:
        await store.close()


async def old_table(table: str) -> None:
    store = await DynamoDbStore.open(table)
    try:
        client = store._client
        await client.create_table(**OLD_LAYOUT.create_table_request(table))
        await client.get_waiter("table_exists").wait(TableName=table)
        for item in [*OLD, LEDGER]:  # as the old version's PutItem wrote them
            await client.put_item(TableName=table, Item=encode_item(item))
        for item in NEW:  # deploy 1: this version's function, on the old table
            await store.put_once(item)
    finally:
        await store.close()


async def add_sharded_index(table: str) -> None:
    store = await DynamoDbStore.open(table)
    try:
        (create,) = AUDIT_TABLE.create_table_request(table)["GlobalSecondaryIndexes"]
        await store._client.update_table(
            TableName=table,
            AttributeDefinitions=AUDIT_TABLE.attribute_definitions(),
            GlobalSecondaryIndexUpdates=[{"Create": create}],
        )
        for _ in range(600):  # as the docs say: wait until the new index is ACTIVE
            described = (await store._client.describe_table(TableName=table))["Table"]
            status = {i["IndexName"]: i["IndexStatus"] for i in described["GlobalSecondaryIndexes"]}
            if status[TIME_INDEX.name] == "ACTIVE":
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{TIME_INDEX.name} never became ACTIVE: {status}")
    finally:
        await store.close()


@pytest.fixture(scope="module")
def own_dynamodb_local() -> Iterator[str]:
    """A DynamoDB Local of this module's own: one that already holds the session's many tables can
    leave a new index CREATING for minutes (it builds them one after another)."""
    with dynamodb_local_server() as endpoint:
        yield endpoint


def test_the_documented_order_keeps_every_record_readable_and_unchanged(
    own_dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", own_dynamodb_local)
    table = f"migrate-{uuid.uuid4().hex[:10]}"
    run(old_table(table))
    before = run(raw_items(table))
    index, listed, tally = run(listing(table))
    assert index == UNSHARDED_TIME_INDEX.name  # no sharded index yet: the old one lists everything
    expected = [r["invocationId"] for r in sorted(OLD + NEW, key=lambda r: r["receivedAt"], reverse=True)]
    assert listed == expected
    assert sum(t.records for t in tally.values()) == sum(r["receivedDay"] == "2026-11-21" for r in OLD + NEW)

    first = run(backfill_shards(table, segments=2, max_pages=1, page_items=PAGE))  # stopped after a page
    assert not first.complete and not first.resumed and 0 < first.updated < len(OLD)
    assert main(["table", "backfill-shards", "--table", table]) == 0  # resumes, 1,000 items a page
    out = capsys.readouterr().out
    assert "resumed the pass" in out and "; complete" in out
    assert f"{len(OLD) - first.updated:,} records given their shard" in out
    again = run(backfill_shards(table, page_items=PAGE))  # a new pass over a finished table: nothing to do
    assert again.complete and not again.resumed and again.updated == 0

    after = run(raw_items(table))
    checkpoint = after.pop(CHECKPOINT_KEY)
    assert checkpoint["complete"] is True and "receivedDay" not in checkpoint
    assert set(after) == set(before)
    for key, item in after.items():
        if "receivedDay" not in item:
            assert item == before[key]  # bookkeeping items get no shard
            continue
        assert item[SHARD_ATTRIBUTE] == day_shard(item["receivedDay"], key)
        assert {k: v for k, v in item.items() if k != SHARD_ATTRIBUTE} == {
            k: v for k, v in before[key].items() if k != SHARD_ATTRIBUTE
        }
    assert run(listing(table))[1:] == (listed, tally)  # still the old index, the same answers

    run(add_sharded_index(table))  # deploy 2: the index is complete from the start
    index, sharded, sharded_tally = run(listing(table))
    assert index == TIME_INDEX.name
    assert (sharded, sharded_tally) == (listed, tally)
    assert run(reader_across_deploy_3(table)) == listed


async def reader_across_deploy_3(table: str) -> list[str]:
    """A reader that chose the old index (a warm process) before deploy 3 removed it: its next read
    names the missing index, the one after chooses again and reads the sharded index."""
    store = await DynamoDbStore.open(table)
    try:
        store._time_index = UNSHARDED_TIME_INDEX  # as chosen before deploy 2
        await store._client.update_table(
            TableName=table,
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": UNSHARDED_TIME_INDEX.name}}],
        )
        for _ in range(600):  # until DynamoDB Local has dropped it (it fails queries meanwhile)
            described = (await store._client.describe_table(TableName=table))["Table"]
            if len(described["GlobalSecondaryIndexes"]) == 1:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(StoreError, match=f"has no time index {UNSHARDED_TIME_INDEX.name}"):
            await store.query(WINDOW)
        return [r["invocationId"] for r in await store.query(WINDOW)]
    finally:
        await store.close()
