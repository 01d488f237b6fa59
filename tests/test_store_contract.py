"""One contract, every engine: SQLite, DynamoDB Local (AWS's engine) and moto's server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.clock import iso_millis
from collector.store import AuditStore, Duplicate, Inserted, Query
from tests.conftest import Backend, run


def item(key: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "invocationId": key,
        "status": "RECORDED",
        "messageId": f"msg-{key}",
        "sender": "a@example.com",
        "receivedAt": "2026-11-20T10:00:00.000Z",
        "receivedDay": "2026-11-20",
        "recipients": ["x@example.org", "y@example.org"],
        "recipientCount": 2,
        "truncated": False,
        "expiresAt": 4102444800,
    }
    base.update(fields)
    return base


async def with_store(backend: Backend, body: Any) -> Any:
    store: AuditStore = await backend.open()
    try:
        return await body(store)
    finally:
        await store.close()


def test_put_once_inserts_then_returns_the_stored_item(backend: Backend) -> None:
    async def body(store: AuditStore) -> None:
        first = item("k1")
        assert isinstance(await store.put_once(first), Inserted)
        again = await store.put_once(item("k1", subject="changed"))
        assert isinstance(again, Duplicate)
        assert again.existing == first  # the original, untouched, from the same call
        assert await store.get("k1") == first

    run(with_store(backend, body))


def test_types_round_trip(backend: Backend) -> None:
    record = item(
        "types",
        subject="Grüße 🚀",
        recipients=[],
        truncated=True,
        recipientCount=0,
        extra='{"nested":[1,2]}',
        redacted=False,
    )

    async def body(store: AuditStore) -> None:
        await store.put_once(record)
        assert await store.get("types") == record
        assert await store.get("missing") is None

    run(with_store(backend, body))


def test_query_by_message_id_sender_and_time(backend: Backend) -> None:
    base = datetime(2026, 11, 20, 10, tzinfo=UTC)
    records = []
    for i in range(6):
        at = base + timedelta(hours=12 * i)
        records.append(
            item(
                f"q{i}",
                messageId="shared" if i < 2 else f"m{i}",
                sender="s@example.com" if i % 2 else "t@example.com",
                receivedAt=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                receivedDay=at.strftime("%Y-%m-%d"),
            )
        )

    async def body(store: AuditStore) -> None:
        for r in records:
            await store.put_once(r)
        by_message = await store.query(Query(message_id="shared", since=base))
        assert [r["invocationId"] for r in by_message] == ["q1", "q0"]  # newest first
        by_sender = await store.query(Query(sender="s@example.com", since=base))
        assert [r["invocationId"] for r in by_sender] == ["q5", "q3", "q1"]
        window = await store.query(Query(since=base + timedelta(hours=11), until=base + timedelta(hours=37)))
        assert [r["invocationId"] for r in window] == ["q3", "q2", "q1"]
        limited = await store.query(
            Query(since=base - timedelta(days=1), until=base + timedelta(days=5), limit=4)
        )
        assert [r["invocationId"] for r in limited] == ["q5", "q4", "q3", "q2"]

    run(with_store(backend, body))


@pytest.mark.parametrize("count", [501, 10_000, 20_000])
def test_large_recipient_lists_fit_one_item(backend: Backend, count: int) -> None:
    from collector.audit import fit, record_item
    from collector.events.workmail import parse
    from collector.model import Invocation, MailEvent
    from collector.redaction import Redactor
    from collector.sampling import generate_events

    parsed = parse(generate_events(recipients=count, truncated=True, seed=count)[0])
    assert isinstance(parsed, MailEvent)
    record = fit(record_item(parsed, Invocation("r", "1", datetime.now(UTC)), 30, Redactor(None)))
    assert record["recipientCount"] == count

    async def body(store: AuditStore) -> None:
        assert isinstance(await store.put_once(record), Inserted)
        stored = await store.get(record["invocationId"])
        assert stored is not None and stored["recipientCount"] == count
        if count > 10_000:
            assert stored["trimmedFields"] == ["recipients"]
            assert 0 < len(stored["recipients"]) < count
        else:
            assert len(stored["recipients"]) == count

    run(with_store(backend, body))


def test_time_ranges_with_offsets_cover_the_same_utc_instants(backend: Backend) -> None:
    from datetime import timezone

    late = item("late", receivedAt="2026-11-20T23:30:00.000Z", receivedDay="2026-11-20")
    early = item("early", receivedAt="2026-11-21T00:30:00.000Z", receivedDay="2026-11-21")
    plus5, minus5 = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))

    async def body(store: AuditStore) -> None:
        for record in (late, early):
            await store.put_once(record)
        # 2026-11-21 04:00 +05:00 is 2026-11-20 23:00 UTC: the UTC day before the local date.
        east = await store.query(
            Query(
                since=datetime(2026, 11, 21, 4, tzinfo=plus5), until=datetime(2026, 11, 21, 6, tzinfo=plus5)
            )
        )
        assert [r["invocationId"] for r in east] == ["early", "late"]
        # 2026-11-20 18:00 -05:00 is 2026-11-20 23:00 UTC: the range runs into the next UTC day.
        west = await store.query(
            Query(
                since=datetime(2026, 11, 20, 18, tzinfo=minus5),
                until=datetime(2026, 11, 20, 20, tzinfo=minus5),
            )
        )
        assert [r["invocationId"] for r in west] == ["early", "late"]
        day = datetime(2026, 11, 20, tzinfo=UTC)
        both = await store.query(Query(message_id="msg-late", sender="a@example.com", since=day))
        assert [r["invocationId"] for r in both] == ["late"]
        assert await store.query(Query(message_id="msg-late", sender="nobody@example.com", since=day)) == []

    run(with_store(backend, body))


def test_keyed_lookups_default_to_the_last_30_days_and_listings_to_7(backend: Backend) -> None:
    now = datetime.now(UTC)

    def at(days: float) -> dict[str, str]:
        moment = now - timedelta(days=days)
        return {"receivedAt": iso_millis(moment), "receivedDay": moment.strftime("%Y-%m-%d")}

    async def body(store: AuditStore) -> None:
        for key, days in (("d1", 1), ("d10", 10), ("d40", 40)):
            await store.put_once(item(key, messageId="same", **at(days)))
        keyed = await store.query(Query(message_id="same"))
        assert [r["invocationId"] for r in keyed] == ["d1", "d10"]
        listed = await store.query(Query(until=now))
        assert [r["invocationId"] for r in listed] == ["d1"]
        older = await store.query(Query(message_id="same", since=now - timedelta(days=60)))
        assert [r["invocationId"] for r in older] == ["d1", "d10", "d40"]

    run(with_store(backend, body))


def test_listing_without_whole_records_reads_the_time_index_columns(backend: Backend) -> None:
    async def body(store: AuditStore) -> None:
        record = item("cols", subject="only in the whole record", source="WorkMail", direction="INBOUND")
        await store.put_once(record)
        (short,) = await store.query(Query(since=datetime(2026, 11, 20, tzinfo=UTC), full=False))
        for column in ("invocationId", "receivedAt", "status", "sender", "messageId", "recipientCount"):
            assert short[column] == record[column], column
        (whole,) = await store.query(Query(since=datetime(2026, 11, 20, tzinfo=UTC), full=True))
        assert whole == record

    run(with_store(backend, body))


def test_tally_counts_one_utc_day_by_status_source_and_direction(backend: Backend) -> None:
    from collector.store import Tally

    rows = [
        ("t1", "2026-11-20T00:00:00.000Z", "RECORDED", "INBOUND", None, 2),
        ("t2", "2026-11-20T12:30:00.000Z", "RECORDED", "INBOUND", "WorkMail", 3),
        ("t3", "2026-11-20T23:59:59.999Z", "RECORDED", "OUTBOUND", "SES", 1),
        ("t4", "2026-11-20T08:00:00.000Z", "INVALID", "UNKNOWN", None, 0),
        ("t5", "2026-11-21T00:00:00.000Z", "RECORDED", "INBOUND", "WorkMail", 9),  # the next day
        ("t6", "2026-11-19T23:59:59.999Z", "RECORDED", "INBOUND", "WorkMail", 9),  # the day before
    ]

    async def body(store: AuditStore) -> None:
        for key, at, status, direction, source, recipients in rows:
            fields: dict[str, Any] = {
                "receivedAt": at,
                "receivedDay": at[:10],
                "status": status,
                "direction": direction,
                "recipientCount": recipients,
            }
            if source is not None:
                fields["source"] = source
            await store.put_once(item(key, **fields))
        counts = await store.tally(datetime(2026, 11, 20).date())
        assert counts == {
            ("RECORDED", "WorkMail", "INBOUND"): Tally(2, 5),  # a record without source is WorkMail's
            ("RECORDED", "SES", "OUTBOUND"): Tally(1, 1),
            ("INVALID", "WorkMail", "UNKNOWN"): Tally(1, 0),
        }

    run(with_store(backend, body))


def test_items_without_a_received_day_stay_out_of_listings_and_tallies(backend: Backend) -> None:
    """Bookkeeping items (a reconcile ledger, say) share the table but are not audit records."""

    async def body(store: AuditStore) -> None:
        await store.put_once(item("record"))
        bookkeeping = {k: v for k, v in item("ledger:1").items() if k != "receivedDay"}
        await store.put_once(bookkeeping)
        listed = await store.query(Query(since=datetime(2026, 11, 20, tzinfo=UTC), full=False))
        assert [r["invocationId"] for r in listed] == ["record"]
        counts = await store.tally(datetime(2026, 11, 20).date())
        assert sum(t.records for t in counts.values()) == 1
        assert await store.get("ledger:1") == bookkeeping

    run(with_store(backend, body))


def test_a_table_with_the_old_indexes_records_and_says_how_to_read_it(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table made by an older version (three ALL indexes, no time index) still takes every write;
    a listing or lookup names the missing index and where the migration is described."""
    import uuid

    from collector.store import StoreError
    from collector.store.dynamodb import DynamoDbStore
    from collector.store.schema import ORIGINAL_INDEXES, TableSpec

    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    old = TableSpec("invocationId", "expiresAt", ORIGINAL_INDEXES)
    name = f"old-{uuid.uuid4().hex[:10]}"

    async def body() -> None:
        store = await DynamoDbStore.open(name)
        try:
            await store._client.create_table(**old.create_table_request(name))
            await store._client.get_waiter("table_exists").wait(TableName=name)
            assert isinstance(await store.put_once(item("legacy")), Inserted)
            with pytest.raises(
                StoreError, match=r"has no time index byDayShard \(nor byReceivedDay\).*docs/deploy\.md"
            ):
                await store.query(Query(sender="a@example.com"))
            with pytest.raises(StoreError, match="has no time index byDayShard"):
                await store.tally(datetime(2026, 11, 20, tzinfo=UTC).date())
        finally:
            await store.close()

    run(body())


def test_a_backfilling_time_index_is_named_with_the_command_that_shows_its_status() -> None:
    """DynamoDB's own answer while a new index backfills (a ValidationException), as the CLI shows it."""
    from botocore.exceptions import ClientError

    from collector.store.dynamodb import time_index_unavailable

    error = ClientError(
        {
            "Error": {
                "Code": "ValidationException",
                "Message": "Cannot read from backfilling global secondary index: byReceivedDay",
            }
        },
        "Query",
    )
    message = time_index_unavailable(error, "audit")
    assert message is not None
    assert "still being built" in message and "describe-table --table-name audit" in message
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "bad filter"}}, "Query")
    assert time_index_unavailable(other, "audit") is None


def test_tally_keeps_facts_about_a_message_apart_from_messages(backend: Backend) -> None:
    """An SES Delivery or Bounce is recorded, but is no message: the tally files it under EVENT."""
    from collector.store import EVENT, Tally

    async def body(store: AuditStore) -> None:
        rows = [("s1", "Send"), ("s2", "Received"), ("s3", "Delivery"), ("s4", "Bounce"), ("w1", None)]
        for key, event_type in rows:
            fields: dict[str, Any] = {"source": "SES" if event_type else "WorkMail", "direction": "OUTBOUND"}
            if event_type is not None:
                fields["eventType"] = event_type
            await store.put_once(item(key, **fields))
        counts = await store.tally(datetime(2026, 11, 20).date())
        assert counts == {
            ("RECORDED", "SES", "OUTBOUND"): Tally(2, 4),
            (EVENT, "SES", "OUTBOUND"): Tally(2, 4),
            ("RECORDED", "WorkMail", "OUTBOUND"): Tally(1, 2),
        }

    run(with_store(backend, body))


def test_replace_invalid_writes_only_over_an_invalid_record(backend: Backend) -> None:
    async def body(store: AuditStore) -> None:
        await store.put_once(item("old", status="INVALID", reason="messageId is missing"))
        await store.put_once(item("kept"))
        assert await store.replace_invalid(item("old", subject="the event itself")) is True
        assert await store.get("old") == item("old", subject="the event itself")
        assert await store.replace_invalid(item("old", subject="again")) is False  # RECORDED now
        assert await store.replace_invalid(item("kept", subject="other")) is False
        assert await store.replace_invalid(item("absent")) is False
        assert await store.get("kept") == item("kept") and await store.get("absent") is None
        # The event that took the quarantine's place is read like any record: listed, tallied, exported.
        since, until = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
        listed = await store.query(Query(since=since, until=until))
        assert sorted(r["invocationId"] for r in listed) == ["kept", "old"]
        counts = await store.tally(since.date())
        assert sum(t.records for t in counts.values()) == 2
        exported = [r["invocationId"] async for page in store.oldest_first(since, until, 10) for r in page]
        assert sorted(exported) == ["kept", "old"]

    run(with_store(backend, body))
