"""Property: after index-consumer batches are lost and repaired, whole-record readers answer exactly.

A lost batch (the consumer gave it up: its description went to the failure queue) leaves its
records without an index entry, and a move in it leaves the record's old page entry behind, stale.
The repair (`table backfill-shards` over the window, the real code) gives each record its own
entry. Listings of index entries may then show a moved record at both minutes until the old page
expires (docs/deploy.md, "Index consumer failures"), but whatever reads records whole must not:
`audit list --json --limit N` (`query(full=True)`) shows the newest N records that exist, and the
export (`oldest_first`) each record once. A stale entry newer than every record once made
`--limit 1` show nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.store import Query
from collector.store.backfill import Window, backfill_shards
from collector.store.dynamodb import DynamoDbStore, create_table, newest_first
from tests.conftest import run
from tests.pages_support import Consumer, records
from tests.reliability.test_props_pages import KEY, KEYS, MOMENTS, SINCE, UNTIL, record

pytestmark = pytest.mark.dynamodb
LIMITS = (1, 2, 3, 5)

operation = st.one_of(
    st.tuples(
        st.just("put"),
        st.sampled_from(KEYS),
        st.sampled_from(MOMENTS),
        st.sampled_from(["RECORDED", "INVALID"]),
    ),
    st.tuples(st.just("move"), st.sampled_from(KEYS), st.sampled_from(MOMENTS)),
    st.tuples(st.just("page"), st.just(0)),
    st.tuples(st.just("lose"), st.just(0)),
)


async def play(table: str, operations: list[tuple[Any, ...]]) -> tuple[list[Any], list[Any]]:
    """The operations on a stream-mode table, then the repair and the consumer caught up: (what
    the whole-record readers answer, what the table's records call for)."""
    await create_table(table)
    store = await DynamoDbStore.open(table, time_index="stream")
    consumer = Consumer()
    try:
        for op in operations:
            if op[0] == "put":
                _, key, at, status = op
                await store.put_once(record(key, at, status, None))
            elif op[0] == "move":  # a replay replacing an invalid record, at another receivedAt
                _, key, at = op
                await store.replace_invalid(record(key, at, "RECORDED", None))
            elif op[0] == "page":
                await consumer.catch_up(store)
            else:  # the batch is given up: its changes are never paged
                consumer.seen = await records(store)
        await backfill_shards(table, window=Window.of(SINCE, UNTIL))
        await consumer.catch_up(store)
        truth = [r for r in (await records(store)).values() if "receivedDay" in r]
        found: list[Any] = [
            [r[KEY] for r in await store.query(Query(since=SINCE, until=UNTIL, limit=n))] for n in LIMITS
        ]
        found.append([r[KEY] async for page in store.oldest_first(SINCE, UNTIL, 2) for r in page])
        wanted: list[Any] = [[r[KEY] for r in newest_first(truth)[:n]] for n in LIMITS]
        wanted.append([r[KEY] for r in sorted(truth, key=lambda r: (r["receivedAt"], r[KEY]))])
        return found, wanted
    finally:
        await store.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=10))
# The defect: a record moved to an earlier minute in a lost batch; its stale entry is the newest.
@example(
    [
        ("put", "key-0", MOMENTS[5], "INVALID"),
        ("put", "key-1", MOMENTS[0], "RECORDED"),
        ("page", 0),
        ("move", "key-0", MOMENTS[2]),
        ("lose", 0),
    ]
)
def test_whole_record_readers_are_exact_after_lost_batches_and_the_repair(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, operations: list[tuple[Any, ...]]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    found, wanted = run(play(f"lost-{uuid.uuid4().hex[:12]}", operations))
    assert found == wanted, operations
