"""The time index read through pages (COLLECTOR_TIME_INDEX=stream): the store tests that every
engine passes, run unchanged on DynamoDB Local tables whose records were written in stream mode and
paged (tests/pages_support.py plays the index consumer), answer as the per-record index does; every
reader (query with each filter, limit, recipient and `full`, tally, oldest_first, purge_invalid)
gives the same answer on both tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from collector.clock import iso_millis
from collector.config import ConfigError, Settings
from collector.store import Query
from collector.store.dynamodb import DynamoDbStore, decode_item
from collector.store.schema import AUDIT_TABLE, SHARD_ATTRIBUTE
from tests import test_audit_filters as filters
from tests import test_dynamodb_shards as shards
from tests import test_store_contract as contract
from tests import test_store_oldest_first as oldest
from tests import test_trace as trace
from tests.conftest import Backend, make_table, run
from tests.pages_support import Consumer, PagedBackend, PagingStore

pytestmark = pytest.mark.dynamodb


@pytest.fixture
def paged_backend(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The consumer pages each read's changes in batches of 2, then again in batches of 3: every
    entry twice, in other pages (a retried batch, bisected), and a minute in several pages. (One
    page a minute, each entry once: test_shard_reads_and_tallies_hold_on_a_paged_table.)"""
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    settings = Settings(store="dynamodb", table_name=make_table(dynamodb_local), time_index="stream")
    return PagedBackend("paged", settings, dynamodb_local, Consumer(batch=2, regroup=3))


CONTRACT: list[Callable[[Backend], None]] = [
    contract.test_put_once_inserts_then_returns_the_stored_item,
    contract.test_query_by_message_id_sender_and_time,
    contract.test_time_ranges_with_offsets_cover_the_same_utc_instants,
    contract.test_keyed_lookups_default_to_the_last_30_days_and_listings_to_7,
    contract.test_listing_without_whole_records_reads_the_time_index_columns,
    contract.test_tally_counts_one_utc_day_by_status_source_and_direction,
    contract.test_items_without_a_received_day_stay_out_of_listings_and_tallies,
    contract.test_tally_keeps_facts_about_a_message_apart_from_messages,
    contract.test_replace_invalid_writes_only_over_an_invalid_record,
    filters.test_both_stores_filter_by_source_event_type_and_status_alike,
    oldest.test_an_empty_range_yields_no_page,
    trace.test_a_recipient_query_finds_the_records_that_name_it_on_both_stores,
    trace.test_a_recipient_query_past_one_batch_of_whole_records_keeps_every_match_in_order,
]


@pytest.mark.parametrize("test", CONTRACT, ids=lambda t: t.__name__.removeprefix("test_"))
def test_the_store_contract_holds_on_a_paged_table(
    paged_backend: Backend, test: Callable[[Backend], None]
) -> None:
    test(paged_backend)


@pytest.mark.parametrize("page", [1, 3, 1000])
def test_oldest_first_on_a_paged_table_with_minutes_across_query_pages(
    paged_backend: Backend, page: int
) -> None:
    """index_page_items = 2 (set by the test): a minute's pages and records straddle Query pages."""
    oldest.test_oldest_first_reads_each_record_once_in_order(paged_backend, page)


# -------------------------------------------------- one data set, both kinds of table, every reader

START = datetime(2026, 11, 20, 23, 40, tzinfo=UTC)


def data() -> list[dict[str, Any]]:
    """Records over a midnight, several a minute (ties at one millisecond among them), of each
    source, event type and status, some naming a recipient the others do not."""
    out = []
    for n in range(90):
        at = START + timedelta(seconds=23 * n, milliseconds=0 if n % 7 == 0 else n)
        record: dict[str, Any] = {
            "invocationId": f"k{n:03d}",
            "status": "INVALID" if n % 11 == 0 else "RECORDED",
            "direction": ("INBOUND", "OUTBOUND", "UNKNOWN")[n % 3],
            "messageId": f"m{n % 30}",
            "sender": f"s{n % 4}@example.com",
            "receivedAt": iso_millis(at),
            "receivedDay": at.date().isoformat(),
            "recipients": ["rare@example.org"] if n % 9 == 0 else ["x@example.org"],
            "recipientCount": 1 + n % 3,
            "expiresAt": 4102444800,
        }
        if n % 5:  # every fifth has no source: WorkMail's
            record["source"] = "SES" if n % 2 else "WorkMail"
        if n % 2 and n % 5:
            record["eventType"] = ("Send", "Delivery", "Received")[n % 3]
        out.append(record)
    return out


QUERIES = [
    Query(since=START, until=START + timedelta(hours=1), limit=limit, full=full)
    for limit in (1, 7, 40, 500)
    for full in (True, False)
] + [
    Query(
        since=START + timedelta(minutes=5, seconds=30),
        until=START + timedelta(minutes=9, seconds=1),
        limit=50,
    ),
    Query(message_id="m3", since=START, until=START + timedelta(hours=1)),
    Query(sender="s1@example.com", since=START, until=START + timedelta(hours=1), limit=9, full=False),
    Query(source="WorkMail", since=START, until=START + timedelta(hours=1), limit=500, full=False),
    Query(source="SES", event_type="Delivery", since=START, until=START + timedelta(hours=1), limit=500),
    Query(status="INVALID", since=START, until=START + timedelta(hours=1), limit=500, full=False),
    Query(recipient="rare@example.org", since=START, until=START + timedelta(hours=1), limit=4),
    Query(recipient="rare@example.org", since=START, until=START + timedelta(hours=1), limit=500),
]


@pytest.fixture(scope="module")
def tables(dynamodb_local: str) -> Iterator[tuple[str, str]]:
    """The data set in a per-record table and in a paged one (consumer batches of 5, every entry
    paged twice)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
        plain, paged = make_table(dynamodb_local), make_table(dynamodb_local)

        async def fill() -> None:
            record_store = await DynamoDbStore.open(plain)
            stream_store = await PagingStore.open(paged, time_index="stream")
            assert isinstance(stream_store, PagingStore)
            stream_store.consumer = Consumer(batch=5, regroup=7)
            try:
                for item in data():
                    await record_store.put_once(item)
                    await stream_store.put_once(item)
                await stream_store.consumer.catch_up(stream_store)
            finally:
                await record_store.close()
                await stream_store.close()

        run(fill())
        yield plain, paged


async def answers(table: str, page_items: int | None) -> list[Any]:
    store = await DynamoDbStore.open(table)
    store.index_page_items = page_items
    try:
        out: list[Any] = [await store.query(q) for q in QUERIES]
        out += [await store.tally(day) for day in (date(2026, 11, 20), date(2026, 11, 21))]
        since, until = START + timedelta(minutes=3, seconds=1), START + timedelta(minutes=30)
        out += [[p async for p in store.oldest_first(since, until, size)] for size in (1, 10)]
        out.append(await store.purge_invalid(START, START + timedelta(hours=1), apply=False))
        return out
    finally:
        await store.close()


def test_every_reader_answers_alike_on_the_per_record_and_the_paged_table(tables: tuple[str, str]) -> None:
    plain, paged = tables
    expected = run(answers(plain, None))
    assert run(answers(paged, None)) == expected
    assert run(answers(paged, 2)) == expected  # minutes straddle the oldest-first Query pages
    assert expected[2] and expected[-1] == 9  # not vacuous


def test_shard_reads_and_tallies_hold_on_a_paged_table(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/test_dynamodb_shards.py's reads, on its records written in stream mode and paged."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    backend = PagedBackend("paged", Settings(store="dynamodb", table_name=make_table(dynamodb_local)))

    async def fill() -> None:
        store = await backend.open()
        try:
            for item in shards.RECORDS:
                await store.put_once(item)
            assert isinstance(store, PagingStore)
            await store.consumer.catch_up(store)
        finally:
            await store.close()

    run(fill())
    for limit in (1, 17, 100):
        shards.test_reads_merge_the_shards_newest_first_with_the_same_limit(
            backend.settings.table_name, limit
        )
    shards.test_the_tally_reads_every_shard_of_the_day(backend.settings.table_name)


def test_purge_invalid_on_a_paged_table_leaves_tombstones_that_readers_honour(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    backend = PagedBackend("paged", Settings(store="dynamodb", table_name=make_table(dynamodb_local)))
    window = (START, START + timedelta(hours=1))

    async def body() -> None:
        store = await backend.open()
        assert isinstance(store, PagingStore)
        try:
            for item in data():
                await store.put_once(item)
            assert await store.purge_invalid(*window, apply=False) == 9
            assert await store.purge_invalid(*window, apply=True) == 9
            # The deletes reach the consumer as tombstones; the pages of the inserts stay.
            listed = await store.query(Query(since=window[0], until=window[1], limit=500, full=False))
            assert len(listed) == 81 and {i["status"] for i in listed} == {"RECORDED"}
            assert await store.purge_invalid(*window, apply=False) == 0
            counts = await store.tally(date(2026, 11, 20))
            assert counts and all(status != "INVALID" for status, _, _ in counts)
        finally:
            await store.close()

    run(body())


# ---------------------------------------------------------------------------- the hot path and setting


def test_stream_mode_writes_no_shard_and_record_mode_does(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collector.runtime import open_store

    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    table = make_table(dynamodb_local)
    record = contract.item("s", status="INVALID")

    async def stored(store: DynamoDbStore, key: str) -> dict[str, Any]:
        raw = await store._client.get_item(TableName=table, Key={AUDIT_TABLE.partition_key: {"S": key}})
        return decode_item(raw["Item"])

    async def body() -> None:
        stream = await open_store(Settings(store="dynamodb", table_name=table, time_index="stream"))
        plain = await open_store(Settings(store="dynamodb", table_name=table))
        assert isinstance(stream, DynamoDbStore) and isinstance(plain, DynamoDbStore)
        try:
            await stream.put_once(record)
            assert SHARD_ATTRIBUTE not in await stored(stream, "s")
            await plain.put_once(contract.item("r", status="INVALID"))
            assert SHARD_ATTRIBUTE in await stored(plain, "r")
            assert await stream.replace_invalid(contract.item("r")) is True
            assert SHARD_ATTRIBUTE not in await stored(stream, "r")  # the per-record entry leaves the index
            assert await plain.replace_invalid(contract.item("s")) is True
            assert SHARD_ATTRIBUTE in await stored(plain, "s")
            description = await stream._client.describe_table(TableName=table)
            assert description["Table"]["StreamSpecification"] == {
                "StreamEnabled": True,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
        finally:
            await stream.close()
            await plain.close()

    run(body())


def test_the_time_index_setting() -> None:
    assert Settings.from_env({"HOME": "/h"}).time_index == "record"
    assert Settings.from_env({"HOME": "/h", "AWS_LAMBDA_FUNCTION_NAME": "f"}).time_index == "record"
    assert Settings.from_env({"HOME": "/h", "COLLECTOR_TIME_INDEX": " Stream "}).time_index == "stream"
    with pytest.raises(ConfigError, match=r"COLLECTOR_TIME_INDEX must be record .* or stream"):
        Settings.from_env({"HOME": "/h", "COLLECTOR_TIME_INDEX": "pages"})
