"""The sharded time index on DynamoDB Local: a day's records spread over DAY_SHARDS partition keys,
a redelivery lands on its record's shard, and reads merge the shards into one newest-first answer
with the same limits as one partition a day gave."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from collector.clock import iso_millis
from collector.store import Duplicate, Query, Tally
from collector.store.dynamodb import DynamoDbStore, decode_item
from collector.store.schema import DAY_SHARDS, SHARD_ATTRIBUTE, TIME_INDEX, day_shard, day_shards, shard_of
from tests.conftest import make_table, run

pytestmark = pytest.mark.dynamodb
START = datetime(2026, 11, 20, 8, tzinfo=UTC)
T = TypeVar("T")


def record(n: int, at: datetime, sender: str = "a@example.com") -> dict[str, Any]:
    return {
        "invocationId": f"key-{n:03d}",
        "status": "RECORDED",
        "source": "WorkMail",
        "direction": "INBOUND" if n % 3 else "OUTBOUND",
        "messageId": f"msg-{n}",
        "sender": sender,
        "receivedAt": iso_millis(at),
        "receivedDay": at.strftime("%Y-%m-%d"),
        "recipientCount": 1 + n % 4,
    }


# 60 records over two days, a minute apart, every fifth from another sender; two share an instant.
RECORDS = [
    record(n, START + timedelta(minutes=n * 37), "b@example.com" if n % 5 == 0 else "a@example.com")
    for n in range(60)
] + [record(60, START + timedelta(minutes=37))]


def newest(records: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(records, key=lambda r: r["invocationId"])
    return [r["invocationId"] for r in sorted(ordered, key=lambda r: r["receivedAt"], reverse=True)]


@pytest.fixture(scope="module")
def table(dynamodb_local: str) -> Iterator[str]:
    """One table holding RECORDS, written through the store, for the module's read-only tests (each
    opens its own client: a client belongs to the event loop it was opened on)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
        name = make_table(dynamodb_local)

        async def fill(store: DynamoDbStore) -> None:
            for item in RECORDS:
                await store.put_once(item)

        run(with_store(name, fill))
        yield name


async def with_store(table: str, body: Callable[[DynamoDbStore], Awaitable[T]]) -> T:
    store = await DynamoDbStore.open(table)
    try:
        return await body(store)
    finally:
        await store.close()


def test_shards_are_stable_and_a_days_partition_keys_are_all_of_them() -> None:
    assert shard_of("key-001") == shard_of("key-001")  # CRC-32: the same in every process
    assert day_shard("2026-11-20", "key-001") == f"2026-11-20#{shard_of('key-001')}"
    assert day_shards("2026-11-20") == [f"2026-11-20#{n}" for n in range(DAY_SHARDS)]
    spread = Counter(shard_of(f"{n:032x}") for n in range(8000))  # keys are hashes of the event
    assert set(spread) == set(range(DAY_SHARDS))
    assert max(spread.values()) < 1.1 * 8000 / DAY_SHARDS


def test_a_days_records_spread_over_the_shards_in_the_one_write(table: str) -> None:
    async def body(store: DynamoDbStore) -> None:
        client = store._client
        per_partition: Counter[str] = Counter()
        for day in ("2026-11-20", "2026-11-21"):
            for partition in day_shards(day):
                page = await client.query(
                    TableName=table,
                    IndexName=TIME_INDEX.name,
                    KeyConditionExpression="#p = :p",
                    ExpressionAttributeNames={"#p": SHARD_ATTRIBUTE},
                    ExpressionAttributeValues={":p": {"S": partition}},
                )
                per_partition[partition] = len(page["Items"])
        assert sum(per_partition.values()) == len(RECORDS)
        first_day = [per_partition[p] for p in day_shards("2026-11-20")]
        assert sum(1 for n in first_day if n) >= DAY_SHARDS - 1, first_day  # 26 records, 8 shards
        raw = await client.get_item(TableName=table, Key={"invocationId": {"S": "key-007"}})
        stored = decode_item(raw["Item"])
        assert stored[SHARD_ATTRIBUTE] == day_shard(stored["receivedDay"], "key-007")
        again = await store.put_once({**RECORDS[7], "receivedAt": "2026-11-22T00:00:00.000Z"})
        assert isinstance(again, Duplicate) and again.existing == RECORDS[7]  # shard not shown

    run(with_store(table, body))


@pytest.mark.parametrize("limit", [1, 17, 100])
def test_reads_merge_the_shards_newest_first_with_the_same_limit(table: str, limit: int) -> None:
    async def body(store: DynamoDbStore) -> None:
        since, until = START, START + timedelta(days=2)
        short = await store.query(Query(since=since, until=until, limit=limit, full=False))
        assert [r["invocationId"] for r in short] == newest(RECORDS)[:limit]
        assert {r["receivedDay"] for r in short} <= {"2026-11-20", "2026-11-21"}
        assert all(SHARD_ATTRIBUTE not in r for r in short)
        whole = await store.query(Query(since=since, until=until, limit=limit))
        by_key = {r["invocationId"]: r for r in RECORDS}
        assert whole == [by_key[r["invocationId"]] for r in short]
        sender = await store.query(Query(sender="b@example.com", since=since, until=until, limit=limit))
        expected = newest([r for r in RECORDS if r["sender"] == "b@example.com"])[:limit]
        assert [r["invocationId"] for r in sender] == expected
        one = await store.query(Query(message_id="msg-33", since=since, until=until))
        assert [r["invocationId"] for r in one] == ["key-033"]
        narrow = await store.query(
            Query(since=START + timedelta(hours=3), until=START + timedelta(hours=9), limit=limit)
        )
        inside = [r for r in RECORDS if iso_millis(START + timedelta(hours=3)) <= r["receivedAt"]]
        inside = [r for r in inside if r["receivedAt"] <= iso_millis(START + timedelta(hours=9))]
        assert [r["invocationId"] for r in narrow] == newest(inside)[:limit]

    run(with_store(table, body))


def test_the_tally_reads_every_shard_of_the_day(table: str) -> None:
    async def body(store: DynamoDbStore) -> None:
        for day in (date(2026, 11, 20), date(2026, 11, 21)):
            expected: dict[tuple[str, str, str], Tally] = {}
            for r in RECORDS:
                if r["receivedDay"] == day.isoformat():
                    key = ("RECORDED", "WorkMail", r["direction"])
                    expected[key] = expected.get(key, Tally()) + Tally(1, r["recipientCount"])
            assert await store.tally(day) == expected

    run(with_store(table, body))
