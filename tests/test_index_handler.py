"""The index consumer, for real: records written as the store writes them in stream mode (no
dayShard) to a stream-enabled table on DynamoDB Local, the table's own stream read with the
`dynamodbstreams` client and handed to the Lambda handler in Lambda's event shape; the pages it
writes, expanded, list exactly the records, however often and however split a batch arrives.
Late markers go to S3 on moto's server over HTTP. A public sample event pages nothing."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import orjson
import pytest

import collector.handler as handler_module
import collector.index_handler as index_handler
from collector.index_handler import (
    BATCH_WRITE_ITEMS,
    TTL_IDENTITY,
    StreamEventError,
    handler,
    write_pages,
)
from collector.store import pages
from collector.store.dynamodb import decode_item, encode_item
from collector.store.schema import AUDIT_TABLE, TIME_INDEX_ATTRIBUTES
from collector.trail import late
from tests.conftest import run
from tests.public_samples import PUBLIC, render_sam
from tests.trail_support import new_bucket

pytestmark = pytest.mark.dynamodb

KEY = AUDIT_TABLE.partition_key
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
OLD_DAY = TODAY - timedelta(days=3)  # over long ago: its pages are late
SAMPLE = PUBLIC / "dynamodb" / "sam-cli-dynamodb-update.template.json"
SAMPLE_MAPPING = PUBLIC / "dynamodb" / "sam-cli-event-mapping.dynamodb.EXTRACT.json"


def stream_table(dynamodb: Any) -> str:
    """A new audit table whose stream carries new and old images, as the stack's does."""
    table = f"audit-{uuid.uuid4().hex[:12]}"
    request = AUDIT_TABLE.create_table_request(table)
    request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    dynamodb.create_table(**request)
    return table


@pytest.fixture(autouse=True)
def cold_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test a cold start of the consumer: no loop, no clients left from another test."""
    monkeypatch.setattr(handler_module, "_loop", None)
    monkeypatch.setattr(index_handler, "_clients", None)
    yield
    clients, loop = index_handler._clients, handler_module._loop
    if clients is not None and not clients.loop.is_closed():
        clients.loop.run_until_complete(clients.stack.aclose())
    if loop is not None:
        loop.close()


@pytest.fixture
def deployment(
    dynamodb_local: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, str, str]]:
    """A stream-enabled audit table on DynamoDB Local, a bucket on moto, the consumer's env."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_local, region_name="us-east-1")
    table = stream_table(dynamodb)
    s3, bucket = new_bucket(moto_endpoint)
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    monkeypatch.setenv("COLLECTOR_TABLE_NAME", table)
    monkeypatch.setenv("COLLECTOR_TRAIL_BUCKET", bucket)
    yield dynamodb, s3, table, bucket
    dynamodb.delete_table(TableName=table)


def record(n: int, at: datetime) -> dict[str, Any]:
    """An audit record as the store writes it in stream mode: no dayShard."""
    return {
        KEY: f"rec-{n:03d}",
        "receivedAt": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "receivedDay": at.strftime("%Y-%m-%d"),
        "requestId": f"req-{n}",
        "status": "RECORDED",
        "source": "workmail",
        "direction": "INBOUND" if n % 2 else "OUTBOUND",
        "messageId": f"<m{n}@example.com>",
        "sender": f"s{n}@example.com",
        "recipients": [f"r{n}@example.com"],
        "recipientCount": 1,
        "subject": "x" * 200,
        "expiresAt": int(at.timestamp()) + 86400 * 30,
    }


def entry_of(item: dict[str, Any]) -> dict[str, Any]:
    """What the time index lists of a record."""
    kept = (KEY, "receivedAt", "receivedDay", "expiresAt", *TIME_INDEX_ATTRIBUTES)
    return {k: v for k, v in item.items() if k in kept}


def lambda_value(value: Any) -> Any:
    """The SDK's decoded stream value as Lambda's JSON carries it: binary as base64, times as
    epoch seconds."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: lambda_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lambda_value(v) for v in value]
    return value


def stream_event(dynamodb: Any, table: str, endpoint: str) -> dict[str, Any]:
    """Every record of the table's stream so far, from its start, as Lambda's event."""
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            if not answer["Records"]:
                break
            records += answer["Records"]
            iterator = answer.get("NextShardIterator")
    for item in records:
        item["eventSourceARN"] = arn
    event: dict[str, Any] = orjson.loads(orjson.dumps(lambda_value({"Records": records})))
    return event


def page_items(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for raw in page["Items"]:
            item = decode_item(raw)
            if pages.is_page(item):
                found[str(item[KEY])] = item
    return found


def listed(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    """What the pages list, as a reader sees them: expanded, and within each minute the latest
    entry of each key (a record moved to another minute is listed at its new one only)."""
    minutes: dict[str, list[dict[str, Any]]] = {}
    for page in page_items(dynamodb, table).values():
        minutes.setdefault(str(page["receivedAt"]), []).extend(pages.expand(page))
    found: dict[str, dict[str, Any]] = {}
    for entries in minutes.values():
        for entry in pages.latest(entries):
            assert entry[KEY] not in found, f"{entry[KEY]} listed at two minutes"
            found[str(entry[KEY])] = entry
    return found


def markers(s3: Any, bucket: str) -> list[str]:
    answer = s3.list_objects_v2(Bucket=bucket, Prefix=late.LATE_PREFIX)
    return sorted(str(o["Key"]) for o in answer.get("Contents", []))


def test_a_batch_pages_every_record_once_whatever_its_deliveries(
    deployment: tuple[Any, Any, str, str], dynamodb_local: str
) -> None:
    dynamodb, s3, table, bucket = deployment
    moments = [TODAY + timedelta(seconds=7 * n, milliseconds=n) for n in range(24)]
    moments += [OLD_DAY + timedelta(hours=5, seconds=13 * n) for n in range(6)]
    records = [record(n, at) for n, at in enumerate(moments)]
    for item in records:
        dynamodb.put_item(TableName=table, Item=encode_item(item))
    # An item that is no record (the store's own state): the consumer leaves it alone.
    dynamodb.put_item(TableName=table, Item=encode_item({KEY: "count-state#x", "count": 3}))
    event = stream_event(dynamodb, table, dynamodb_local)
    assert len(event["Records"]) == len(records) + 1

    summary = handler(event, None)
    kept = index_handler._clients  # the container's loop and clients, for every later batch
    assert kept is not None and sorted(kept.opened) == ["dynamodb", "s3"]
    clients = dict(kept.opened)
    written = page_items(dynamodb, table)
    assert summary == {
        "records": len(records) + 1,
        "entries": len(records),
        "pages": len(written),
        "marked": summary["marked"],
    }
    expected = {str(r[KEY]): entry_of(r) for r in records}
    assert listed(dynamodb, table) == expected
    # One marker a page of the day over long ago; none for today's (its export is still to come).
    old_pages = [k for k, p in written.items() if str(p["dayShard"]).startswith(OLD_DAY.date().isoformat())]
    assert old_pages and summary["marked"] == len(old_pages)
    assert markers(s3, bucket) == sorted(late.marker_key(OLD_DAY.date().isoformat(), k) for k in old_pages)

    # The same batch again: the same page items, the same markers.
    assert handler(event, None)["pages"] == len(written)
    assert index_handler._clients is kept and kept.opened == clients  # warm: nothing opened again
    assert kept.loop is handler_module._loop
    assert page_items(dynamodb, table) == written
    assert len(markers(s3, bucket)) == len(old_pages)
    # The batch bisected (the event source mapping's retry): other pages, no other listing.
    half = len(event["Records"]) // 2
    for part in (event["Records"][:half], event["Records"][half:]):
        handler({"Records": part}, None)
    assert len(page_items(dynamodb, table)) > len(written)
    assert listed(dynamodb, table) == expected

    # The stream now holds the pages' own inserts: skipped by their key, before any decoding.
    again = stream_event(dynamodb, table, dynamodb_local)
    page_records = [r for r in again["Records"] if r["dynamodb"]["Keys"][KEY]["S"].startswith("page#")]
    assert page_records
    assert handler({"Records": page_records}, None) == {
        "records": len(page_records),
        "entries": 0,
        "pages": 0,
        "marked": 0,
    }


def test_a_change_and_a_deletion_by_hand_are_paged_and_a_deletion_by_ttl_is_not(
    deployment: tuple[Any, Any, str, str], dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb, _s3, table, _bucket = deployment
    monkeypatch.delenv("COLLECTOR_TRAIL_BUCKET")  # no trail: no marker, no S3 call
    records = [record(n, TODAY + timedelta(minutes=n)) for n in range(4)]
    for item in records:
        dynamodb.put_item(TableName=table, Item=encode_item(item))
    moved = {**records[1], "status": "INVALID", "receivedAt": records[3]["receivedAt"]}  # replace_invalid
    dynamodb.put_item(TableName=table, Item=encode_item(moved))
    dynamodb.delete_item(TableName=table, Key={KEY: {"S": records[2][KEY]}})  # purge-invalid
    dynamodb.delete_item(TableName=table, Key={KEY: {"S": records[0][KEY]}})  # as if by TTL, below
    event = stream_event(dynamodb, table, dynamodb_local)
    assert [r["eventName"] for r in event["Records"]] == ["INSERT"] * 4 + ["MODIFY", "REMOVE", "REMOVE"]
    event["Records"][-1]["userIdentity"] = dict(TTL_IDENTITY)

    summary = handler(event, None)
    # 4 inserts, the move (a tombstone at the old minute and the new entry), the purge's tombstone.
    assert (summary["entries"], summary["marked"]) == (4 + 2 + 1, 0)
    assert listed(dynamodb, table) == {
        str(records[0][KEY]): entry_of(records[0]),  # deleted by TTL: left to expire with its page
        str(moved[KEY]): entry_of(moved),
        str(records[3][KEY]): entry_of(records[3]),
    }
    # The TTL deletion alone changes nothing.
    assert handler({"Records": event["Records"][-1:]}, None)["entries"] == 0


def test_the_public_sample_event_goes_through_and_pages_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SAM CLI's `generate-event dynamodb update` (tests/data/public/dynamodb/SOURCES.md): an
    INSERT, MODIFY and REMOVE of an item that is no audit record. No table is touched."""
    tags = orjson.loads(SAMPLE_MAPPING.read_bytes())["dynamodb"]["update"]["tags"]
    defaults = {name.replace("-", "_"): str(spec["default"]) for name, spec in tags.items()}
    event = orjson.loads(render_sam(SAMPLE.read_text(), defaults))
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    monkeypatch.setenv("COLLECTOR_TABLE_NAME", "no-such-table")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # a request would fail
    assert handler(event, None) == {"records": 3, "entries": 0, "pages": 0, "marked": 0}


@pytest.mark.parametrize(
    "event",
    [None, [], {"Records": {}}, {"Records": [{"eventName": "INSERT"}]}],
)
def test_an_event_that_is_no_stream_batch_is_refused(event: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    with pytest.raises(StreamEventError):
        handler(event, None)


def test_a_record_without_its_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    image = encode_item(record(1, TODAY))
    event = {"Records": [{"eventName": "INSERT", "dynamodb": {"Keys": {KEY: image[KEY]}, "NewImage": image}}]}
    with pytest.raises(StreamEventError, match="ApproximateCreationDateTime"):
        handler(event, None)


class Unprocessing:
    """DynamoDB's BatchWriteItem answer under throttling: the first `left` requests leave their
    last item unprocessed (DynamoDB Local never does, so this one answer is played here)."""

    def __init__(self, left: int) -> None:
        self.left = left
        self.sent: list[int] = []

    async def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.sent.append(len(requests))
        if self.left > 0:
            self.left -= 1
            return {"UnprocessedItems": {table: requests[-1:]}}
        return {"UnprocessedItems": {}}


def test_unprocessed_pages_are_sent_again_and_in_the_end_fail_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("collector.index_handler.BACKOFF_FIRST", 0.001)
    items = pages.build_pages(
        c
        for n in range(30)
        for c in pages.changes_of("INSERT", record(n, TODAY + timedelta(minutes=n)), None, (n, n))
    )
    assert len(items) == 30
    client = Unprocessing(left=2)
    run(write_pages(client, "t", items))
    assert client.sent == [BATCH_WRITE_ITEMS, 1, 1, 5]
    with pytest.raises(RuntimeError, match="unprocessed"):
        run(write_pages(Unprocessing(left=100), "t", items))


def test_a_purge_of_a_day_already_exported_leaves_no_marker(
    deployment: tuple[Any, Any, str, str], dynamodb_local: str
) -> None:
    """A page of tombstones cannot add rows to a day the trail holds: marking its day would have the
    exporter read it again, find fewer records than the trail (check_kept) and refuse every hour."""
    dynamodb, s3, table, bucket = deployment
    kept, purged = record(1, OLD_DAY + timedelta(hours=3)), record(2, OLD_DAY + timedelta(hours=4))
    for item in (kept, purged):
        dynamodb.put_item(TableName=table, Item=encode_item(item))
    inserts = stream_event(dynamodb, table, dynamodb_local)["Records"]
    dynamodb.delete_item(TableName=table, Key={KEY: {"S": purged[KEY]}})
    removal = stream_event(dynamodb, table, dynamodb_local)["Records"][len(inserts) :]
    assert [r["eventName"] for r in removal] == ["REMOVE"]
    assert handler({"Records": removal}, None) == {"records": 1, "entries": 1, "pages": 1, "marked": 0}
    assert markers(s3, bucket) == []
    # The inserts, paged as late, do mark their day.
    assert handler({"Records": inserts}, None)["marked"] == 2
