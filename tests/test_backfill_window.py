"""The repair after a failed index-consumer batch, on DynamoDB Local: `table backfill-shards
--since --until` gives only the window's unlisted records their per-record index entry (in stream
mode every record lacks one; the others are listed through pages and keep no dayShard), and the
checkpoint never mixes a pass of one window with a pass of another or of none."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.cli import main
from collector.clock import iso_millis
from collector.store import Query
from collector.store.backfill import CHECKPOINT_KEY, OtherPassUnfinished, Window, backfill_shards
from collector.store.dynamodb import DynamoDbStore
from collector.store.pages import PAGE_PREFIX, changes_of
from collector.store.schema import SHARD_ATTRIBUTE
from tests.conftest import make_table, run
from tests.pages_support import put_pages, records

pytestmark = pytest.mark.dynamodb
START = datetime(2026, 11, 20, 23, tzinfo=UTC)
STEP = timedelta(minutes=3)
FAILED = (START + 20 * STEP, START + 29 * STEP)  # the failed batch's first and last arrival: 10 records
WIDENED = (FAILED[0] - STEP, FAILED[1] + STEP)  # the neighbours exactly: both bounds included
FLAGS = ["--since", iso_millis(WIDENED[0]), "--until", iso_millis(WIDENED[1])]
ALL = Query(since=START - timedelta(hours=1), until=START + timedelta(days=1), limit=5000, full=False)


def record(n: int) -> dict[str, Any]:
    at = START + n * STEP  # 60 records over three hours, across midnight
    return {
        "invocationId": uuid.uuid5(uuid.NAMESPACE_URL, f"window-{n}").hex,
        "status": "RECORDED",
        "source": "WorkMail",
        "direction": "INBOUND",
        "messageId": f"msg-{n}",
        "sender": "s@example.com",
        "receivedAt": iso_millis(at),
        "receivedDay": at.strftime("%Y-%m-%d"),
        "recipientCount": 1,
    }


RECORDS = [record(n) for n in range(60)]
IN_WINDOW = {
    r["invocationId"] for r in RECORDS if iso_millis(WIDENED[0]) <= r["receivedAt"] <= iso_millis(WIDENED[1])
}


async def stream_table(table: str) -> str:
    """A table in stream mode whose consumer paged every record but the failed batch's."""
    store = await DynamoDbStore.open(table, time_index="stream")
    try:
        for item in RECORDS:
            await store.put_once(item)
        stored = await records(store)
        changes = [
            change
            for n, key in enumerate(sorted(stored))
            if key not in IN_WINDOW
            for change in changes_of("INSERT", stored[key], None, (1, n))
        ]
        await put_pages(store, changes, 10_000)
    finally:
        await store.close()
    return table


async def listed(table: str) -> set[str]:
    store = await DynamoDbStore.open(table)
    try:
        return {str(r["invocationId"]) for r in await store.query(ALL)}
    finally:
        await store.close()


async def sharded(table: str) -> set[str]:
    store = await DynamoDbStore.open(table)
    try:
        return {
            k for k, item in (await records(store)).items() if SHARD_ATTRIBUTE in item and k != CHECKPOINT_KEY
        }
    finally:
        await store.close()


async def count(table: str) -> int:
    store = await DynamoDbStore.open(table)
    try:
        return len(await records(store)) + len(await pages(store))
    finally:
        await store.close()


async def pages(store: DynamoDbStore) -> list[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": store._table, "FilterExpression": "begins_with(invocationId, :p)"}
    request["ExpressionAttributeValues"] = {":p": {"S": PAGE_PREFIX}}
    found: list[dict[str, Any]] = []
    while True:
        response = await store._client.scan(**request)
        found += response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@pytest.fixture
def table(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    return run(stream_table(make_table(dynamodb_local)))


def test_the_window_lists_the_failed_batch_and_writes_no_other_record(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(IN_WINDOW) == 12  # the batch's 10 records and the widening's one each side
    everyone = {r["invocationId"] for r in RECORDS}
    assert run(listed(table)) == everyone - IN_WINDOW  # the failed batch: in the table, unlisted
    assert run(sharded(table)) == set()
    total = run(count(table))  # records and pages, before the checkpoint item exists
    assert total > len(RECORDS)

    assert main(["table", "backfill-shards", "--table", table, *FLAGS]) == 0
    out = capsys.readouterr().out
    assert f"12 records received {FLAGS[1]} .. {FLAGS[3]} given their shard" in out and "; complete" in out
    scanned = int(re.search(r"([\d,]+) items scanned", out)[1].replace(",", ""))  # type: ignore[index]
    assert scanned >= total  # the whole table is read, though only the window is written
    assert run(sharded(table)) == IN_WINDOW  # ... and only the window written
    assert run(listed(table)) == everyone

    assert main(["table", "backfill-shards", "--table", table, *FLAGS]) == 0  # again: nothing to do
    assert "0 records received" in capsys.readouterr().out


def test_a_pass_of_another_window_is_refused_until_the_unfinished_one_is_finished(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    window = Window.of(*WIDENED)
    first = run(backfill_shards(table, segments=2, max_pages=1, page_items=10, window=window))
    assert not first.complete and first.window == window
    before = run(sharded(table))
    assert before <= IN_WINDOW

    other = ["--since", "2026-11-20T23:00:00Z", "--until", "2026-11-20T23:30:00Z"]
    for flags in (other, []):  # another window, or none (the migration's whole table)
        assert main(["table", "backfill-shards", "--table", table, *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"run again with --since {window.since} --until {window.until}" in err[0]
        assert run(sharded(table)) == before  # refused before any write

    assert main(["table", "backfill-shards", "--table", table, *FLAGS]) == 0  # the same window resumes
    out = capsys.readouterr().out
    assert "resumed the pass" in out and "; complete" in out
    assert run(sharded(table)) == IN_WINDOW

    assert main(["table", "backfill-shards", "--table", table, *other]) == 0  # finished: a new pass
    out = capsys.readouterr().out
    assert "pass started" in out and "resumed" not in out and "; complete" in out
    assert run(sharded(table)) == IN_WINDOW | {r["invocationId"] for r in RECORDS[:11]}


def test_an_unfinished_pass_without_a_window_refuses_a_window_and_resumes_without(table: str) -> None:
    first = run(backfill_shards(table, segments=2, max_pages=1, page_items=10))
    assert not first.complete and first.window is None
    with pytest.raises(OtherPassUnfinished, match=r"the whole table .*\(run again without --since/--until\)"):
        run(backfill_shards(table, window=Window.of(*WIDENED)))
    done = run(backfill_shards(table))
    assert done.resumed and done.complete
    assert run(sharded(table)) == {r["invocationId"] for r in RECORDS}  # the migration: every record


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--since", "2026-11-21T00:00:00Z"], "give both --since and --until"),
        (["--until", "2026-11-21"], "give both --since and --until"),
        (
            ["--since", "2026-11-22", "--until", "2026-11-21"],
            "--since 2026-11-22 is after --until 2026-11-21",
        ),
        (["--since", "yesterday", "--until", "2026-11-21"], "not an ISO 8601 time: 'yesterday'"),
    ],
)
def test_a_bad_window_is_one_line_and_exit_2_before_any_request(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no request is made
    assert main(["table", "backfill-shards", "--table", "absent", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
