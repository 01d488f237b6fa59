"""Property: whatever mix of writes, moves, deletes and consumer batches a table went through, once
the index consumer has caught up every time-index reader lists exactly the table's records.

Each example is a fresh DynamoDB Local table and a sequence of operations on a few keys over three
minutes across a midnight: puts in record mode (some made before the stream existed, so never
paged) or stream mode, replace_invalid moving a record to another minute or day, deletes by hand
(tombstones), consumer batches of any size, and old batches paged again in another grouping (a
retried, bisected batch arriving late: duplicate entries with older versions)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.store import Inserted, Query, Tally, TallyKey, tally_key
from collector.store.dynamodb import DynamoDbStore, create_table, newest_first
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE, TIME_INDEX_ATTRIBUTES
from tests.conftest import run
from tests.pages_support import Consumer, put_pages, records

pytestmark = pytest.mark.dynamodb
KEY = AUDIT_TABLE.partition_key
KEYS = [f"key-{n}" for n in range(5)]
# Three minutes across a midnight, ties at one millisecond, a minute's first and last instants.
MOMENTS = [
    "2026-11-20T23:58:59.999Z",
    "2026-11-20T23:59:00.000Z",
    "2026-11-20T23:59:30.500Z",
    "2026-11-20T23:59:59.999Z",
    "2026-11-21T00:00:00.000Z",
    "2026-11-21T00:00:30.500Z",
]
SINCE, UNTIL = datetime(2026, 11, 20, 23, 58, tzinfo=UTC), datetime(2026, 11, 21, 0, 1, tzinfo=UTC)


def record(key: str, at: str, status: str, source: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        KEY: key,
        "status": status,
        "messageId": f"m-{key}",
        "sender": "a@example.com",
        "receivedAt": at,
        "receivedDay": at[:10],
        "recipients": ["x@example.org"],
        "recipientCount": 1 + len(at) % 3 + MOMENTS.index(at),
        "expiresAt": 4102444800,
    }
    if source is not None:
        item["source"] = source
    return item


moment = st.sampled_from(MOMENTS)
source = st.sampled_from([None, "WorkMail", "SES"])
operation = st.one_of(
    st.tuples(
        st.just("put"),
        st.sampled_from(KEYS),
        moment,
        st.sampled_from(["RECORDED", "INVALID"]),
        source,
        st.sampled_from(["record", "stream", "before-stream"]),
    ),
    st.tuples(
        st.just("replace"), st.sampled_from(KEYS), moment, source, st.sampled_from(["record", "stream"])
    ),
    st.tuples(st.just("delete"), st.sampled_from(KEYS)),
    st.tuples(st.just("page"), st.integers(1, 6)),
    st.tuples(st.just("repage"), st.integers(0, 20), st.integers(1, 20), st.integers(1, 6)),
)


def shown(item: dict[str, Any], keep: tuple[str, ...] = TIME_INDEX_ATTRIBUTES) -> dict[str, Any]:
    """A record as the time index lists it."""
    return {k: v for k, v in item.items() if k in (KEY, "receivedAt", "receivedDay", *keep)}


async def play(table: str, operations: list[tuple[Any, ...]]) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """The operations, then the consumer caught up: (the table's records, the readers' answers,
    the answers the records call for)."""
    await create_table(table)
    stores = {mode: await DynamoDbStore.open(table, time_index=mode) for mode in ("record", "stream")}
    consumer = Consumer()
    try:
        for op in operations:
            if op[0] == "put":
                _, key, at, status, src, mode = op
                store = stores["record" if mode == "before-stream" else mode]
                done = await store.put_once(record(key, at, status, src))
                if mode == "before-stream" and isinstance(done, Inserted):
                    consumer.seen[key] = (await records(store))[key]  # the stream never had it
            elif op[0] == "replace":
                _, key, at, src, mode = op
                await stores[mode].replace_invalid(record(key, at, "RECORDED", src))
            elif op[0] == "delete":
                await stores["record"]._client.delete_item(TableName=table, Key={KEY: {"S": op[1]}})
            elif op[0] == "page":
                consumer.batch = op[1]
                await consumer.catch_up(stores["record"])
            else:
                _, start, size, batch = op
                await put_pages(stores["record"], consumer.paged[start : start + size], batch)
        await consumer.catch_up(stores["record"])
        stored = (await records(stores["record"])).values()
        truth = {
            r[KEY]: {k: v for k, v in r.items() if k != SHARD_ATTRIBUTE} for r in stored if "receivedDay" in r
        }
        return truth, await answers(stores["stream"]), expected(list(truth.values()))
    finally:
        for store in stores.values():
            await store.close()


QUERIES = [
    Query(since=SINCE, until=UNTIL, limit=100, full=False),
    Query(since=SINCE, until=UNTIL, limit=2, full=False),
    Query(since=SINCE, until=UNTIL, limit=100),
    Query(since=datetime(2026, 11, 20, 23, 59, 30, 500000, tzinfo=UTC), until=UNTIL.replace(minute=0)),
    Query(since=SINCE, until=UNTIL, status="INVALID", full=False),
    Query(since=SINCE, until=UNTIL, source="WorkMail", full=False),
    Query(since=SINCE, until=UNTIL, source="SES", status="RECORDED", full=False),
]
DAYS = (date(2026, 11, 20), date(2026, 11, 21))


async def answers(store: DynamoDbStore) -> list[Any]:
    store.index_page_items = 2  # minutes straddle the oldest-first Query pages
    out: list[Any] = [await store.query(q) for q in QUERIES]
    out += [await store.tally(day) for day in DAYS]
    out.append([r async for page in store.oldest_first(SINCE, UNTIL, 2) for r in page])
    out.append(await store.purge_invalid(SINCE, UNTIL, apply=False))
    return out


def expected(truth: list[dict[str, Any]]) -> list[Any]:
    def inside(q: Query) -> list[dict[str, Any]]:
        since, until = q.window()
        found = [
            r
            for r in truth
            if _in(r["receivedAt"], since, until)
            and (q.status is None or r["status"] == q.status)
            and (q.source is None or (r.get("source") or "WorkMail") == q.source)
        ]
        return newest_first(found)[: q.limit]

    out: list[Any] = [[r if q.full else shown(r) for r in inside(q)] for q in QUERIES]
    for day in DAYS:
        counts: dict[TallyKey, Tally] = {}
        for r in truth:
            if r["receivedDay"] == day.isoformat():
                counts[tally_key(r)] = counts.get(tally_key(r), Tally()) + Tally(1, r["recipientCount"])
        out.append(counts)
    window = [r for r in truth if _in(r["receivedAt"], SINCE, UNTIL)]
    out.append(sorted(window, key=lambda r: (r["receivedAt"], r[KEY])))
    out.append(sum(1 for r in window if r["status"] == "INVALID"))
    return out


def _in(at: str, since: datetime, until: datetime) -> bool:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return since <= moment <= until


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=14))
# A record moved back within its minute: its tombstone and new entry share one version.
@example(
    [
        ("put", "key-0", MOMENTS[3], "INVALID", None, "stream"),
        ("page", 1),
        ("replace", "key-0", MOMENTS[1], "SES", "stream"),
    ]
)
# Moved to the next day by a record-mode replace, its first batch paged again late.
@example(
    [
        ("put", "key-1", MOMENTS[2], "INVALID", "SES", "before-stream"),
        ("put", "key-2", MOMENTS[2], "RECORDED", None, "stream"),
        ("page", 2),
        ("replace", "key-1", MOMENTS[5], None, "record"),
        ("delete", "key-2"),
        ("page", 1),
        ("repage", 0, 5, 3),
    ]
)
def test_readers_list_exactly_the_tables_records_once_the_consumer_caught_up(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, operations: list[tuple[Any, ...]]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    truth, found, wanted = run(play(f"pages-{uuid.uuid4().hex[:12]}", operations))
    assert found == wanted, (operations, sorted(truth))
