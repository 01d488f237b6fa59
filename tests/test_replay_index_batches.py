"""A failed index batch in replay's input: the record Lambda keeps when the index consumer gives up
on a batch of the audit table's stream. It holds no event (no `requestPayload`), so replay
quarantined it as an invalid record; it is now told by shape, never stored, and answered with the
repair command over the batch's arrival window widened by 5 minutes (docs/deploy.md)."""

from __future__ import annotations

import copy
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli.index_batches import FailedBatches, index_batch
from collector.events.detect import parse
from collector.model import MailEvent
from tests.public_samples import PUBLIC, RECEIPT_SAMPLES, SENDING_SAMPLES, WORKMAIL_SAMPLES, load
from tests.test_cli import cli

SAMPLE = PUBLIC / "dynamodb" / "powertools-python-dynamoStreamLambdaInvocationEvent.json"
COMMAND = "workmail-collector table backfill-shards --table {table} --since {since} --until {until}"
SAMPLE_COMMAND = COMMAND.format(
    table="<TableName output>", since="2019-11-14T00:08:19Z", until="2019-11-14T00:18:19Z"
)


def distinct_events() -> list[dict[str, Any]]:
    """Valid events of each source as AWS documents them, one per key (some samples share one)."""
    found: dict[str, dict[str, Any]] = {}
    for path in (*WORKMAIL_SAMPLES, *RECEIPT_SAMPLES, *SENDING_SAMPLES):
        parsed = parse(event := load(path))
        if isinstance(parsed, MailEvent):
            found.setdefault(parsed.dedupe_key, event)
    return list(found.values())[:8]


EVENTS = distinct_events()


def batch(**info: Any) -> dict[str, Any]:
    """The public sample with these `DDBStreamBatchInfo` fields (None: the field left out)."""
    record: dict[str, Any] = load(SAMPLE)
    for name, value in info.items():
        if value is None:
            del record["DDBStreamBatchInfo"][name]
        else:
            record["DDBStreamBatchInfo"][name] = value
    return record


def sqs_output(*bodies: object) -> dict[str, Any]:
    """`aws sqs receive-message` output, each value a message body."""
    return {
        "Messages": [
            {"MessageId": f"m-{n}", "ReceiptHandle": f"h-{n}", "Body": orjson.dumps(b).decode()}
            for n, b in enumerate(bodies)
        ]
    }


def jsonl(values: list[Any]) -> bytes:
    return b"".join(orjson.dumps(v) + b"\n" for v in values)


def stored(db: Path) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        rows = connection.execute("select invocation_id, item from audit order by invocation_id")
        return [(str(key), str(item)) for key, item in rows]


def block(stderr: str) -> list[str]:
    """The failed-batch block: from its first line to the end."""
    lines = stderr.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("found ") and "failed index batch" in line]
    assert len(starts) == 1, stderr
    return lines[starts[0] :]


def test_the_public_sample_alone_is_a_failed_batch_answered_with_its_repair(tmp_path: Path) -> None:
    """It was quarantined as an invalid event (and the run said so: "invalid 1")."""
    db = tmp_path / "audit.sqlite3"
    result = cli("replay", str(SAMPLE), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "invalid" not in result.stderr and "no events" not in result.stderr
    assert block(result.stderr) == [
        "found 1 failed index batch of the audit table's stream (RetryAttemptsExhausted): not events,"
        " nothing was replayed for it",
        "  its 1 record is in the audit table but missing from the time index (audit list and query,"
        " reconcile, the trace widget and the trail's export miss them); once the index consumer's"
        " error is fixed, repair with:",
        f"  {SAMPLE_COMMAND}",
        "  (the batch's first arrival - 5 min to its last arrival + 5 min)",
        "  with the audit trail on, the days of that window already exported must be exported again;"
        " delete the batch messages from the queue only after the repair"
        " (docs/deploy.md#index-consumer-failures)",
    ]
    assert result.stdout == ""  # no EMF document: nothing was replayed
    assert not db.exists()  # no store was needed, none was opened

    dry = cli("replay", "--dry-run", str(SAMPLE))
    assert dry.returncode == 0, dry.stderr
    assert block(dry.stderr) == block(result.stderr)


def test_in_sqs_output_among_real_events_only_the_events_are_replayed(tmp_path: Path) -> None:
    first, *rest = EVENTS
    other = batch(
        approximateArrivalOfFirstRecord="2019-11-13T23:59:58Z",
        approximateArrivalOfLastRecord="2019-11-14T00:01:02Z",
        batchSize=100,
        shardId="shardId-2",
    )
    other["requestContext"]["condition"] = "RecordAgeExceeded"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(jsonl([first, sqs_output(rest[0], load(SAMPLE), *rest[1:]), sqs_output(other)]))
    alone = tmp_path / "events.jsonl"
    alone.write_bytes(jsonl(EVENTS))
    db, baseline = tmp_path / "mixed.sqlite3", tmp_path / "events.sqlite3"
    result = cli("replay", str(mixed), "--db", str(db))
    expected = cli("replay", str(alone), "--db", str(baseline))
    assert result.returncode == expected.returncode == 0, result.stderr
    summary = [line for line in result.stderr.splitlines() if line not in block(result.stderr)]
    assert summary == [line.replace(str(baseline), str(db)) for line in expected.stderr.splitlines()]
    assert f"processed {len(EVENTS)}: recorded {len(EVENTS)}," in result.stderr
    assert result.stdout.count("\n") == expected.stdout.count("\n") == len(EVENTS)
    assert [key for key, _ in stored(db)] == [key for key, _ in stored(baseline)]
    assert not any("DDBStreamBatchInfo" in item or "shardId" in item for _, item in stored(db))
    lines = block(result.stderr)
    assert lines[0].startswith(
        "found 2 failed index batches of the audit table's stream (RecordAgeExceeded 1,"
        " RetryAttemptsExhausted 1): not events, nothing was replayed for them"
    )
    assert lines[1].startswith("  their 101 records are in the audit table")
    since, until = "2019-11-13T23:54:58Z", "2019-11-14T00:18:19Z"  # earliest first, latest last
    assert lines[2] == "  " + COMMAND.format(table="<TableName output>", since=since, until=until)
    assert "earliest first arrival - 5 min to their latest last arrival + 5 min" in lines[3]

    dry = cli("replay", "--dry-run", str(mixed))
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.startswith(f"dry run: {len(EVENTS)} events: valid {len(EVENTS)} ")
    assert "invalid 0" in dry.stderr and block(dry.stderr) == lines


def test_the_command_names_the_configured_table_when_the_store_is_dynamodb(tmp_path: Path) -> None:
    env = {"AWS_DEFAULT_REGION": "us-east-2", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    command = COMMAND.format(table="prod-audit", since="2019-11-14T00:08:19Z", until="2019-11-14T00:18:19Z")
    only = cli("replay", "--store", "dynamodb", "--table", "prod-audit", str(SAMPLE), env=env)
    assert only.returncode == 0, only.stderr  # no events: no table was needed
    assert f"  {command}" in block(only.stderr)
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl([EVENTS[0], load(SAMPLE)]))
    configured = {**env, "COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": "env-audit"}
    dry = cli("replay", "--dry-run", str(events), env=configured)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: 1 events: valid 1" in dry.stderr
    assert f"  {command.replace('prod-audit', 'env-audit')}" in block(dry.stderr)
    sqlite = cli("replay", "--dry-run", "--table", "prod-audit", str(SAMPLE))
    assert f"  {SAMPLE_COMMAND}" in block(sqlite.stderr)  # the SQLite store has no table to name


def test_a_batch_whose_arrival_times_cannot_be_read_still_counts_and_shows_its_shard(tmp_path: Path) -> None:
    missing = batch(approximateArrivalOfFirstRecord=None, batchSize=7, shardId="shardId-missing")
    garbled = batch(
        approximateArrivalOfLastRecord="yesterday", startSequenceNumber=12, endSequenceNumber=None
    )
    path = tmp_path / "batches.json"
    path.write_bytes(orjson.dumps(sqs_output(missing, garbled)))
    alone = cli("replay", str(path), "--db", str(tmp_path / "a.sqlite3"))
    assert alone.returncode == 0, alone.stderr
    lines = block(alone.stderr)
    assert lines[0].startswith("found 2 failed index batches")
    assert lines[1].startswith("  their 8 records are")
    assert lines[2] == "  " + COMMAND.format(
        table="<TableName output>", since="<first arrival - 5 min>", until="<last arrival + 5 min>"
    )
    assert lines[3] == (
        "  the window of 2 batches could not be read (their arrival times are missing or not ISO 8601"
        " times); widen the window to cover when their records arrived:"
    )
    assert (
        lines[4]
        == "    shard shardId-missing, sequence numbers 800000000003126276362 to 800000000003126276362"
    )
    assert lines[5] == "    shard shardId-00000001573689847184-864758bb, sequence numbers 12 to (missing)"

    path.write_bytes(jsonl([missing, load(SAMPLE)]))
    both = block(cli("replay", "--dry-run", str(path)).stderr)
    assert both[2] == f"  {SAMPLE_COMMAND}"  # the readable one's window
    assert both[4].startswith("  the window of 1 batch could not be read (its arrival times")
    assert both[5].startswith("    shard shardId-missing,")


def test_an_event_is_never_taken_for_a_batch() -> None:
    """Told by shape: a dict DDBStreamBatchInfo and no requestPayload (a record that carries its
    payload is an event's), in a record that is no WorkMail or SES event."""
    assert index_batch(load(SAMPLE)) is not None
    for event in EVENTS:
        assert index_batch(event) is None
        assert index_batch(dict(event, unknownKey={"a": 1})) is None
        assert index_batch(dict(event, DDBStreamBatchInfo={})) is None  # an event, whatever it adds
        assert index_batch(dict(event, DDBStreamBatchInfo=load(SAMPLE)["DDBStreamBatchInfo"])) is None
    with_payload = dict(load(SAMPLE), requestPayload=EVENTS[0])  # an on-failure record of an event
    assert index_batch(with_payload) is None
    assert index_batch(dict(load(SAMPLE), DDBStreamBatchInfo="text")) is None
    from collector.failure_queue import failure_record
    from collector.model import Invocation
    from tests.test_inputs import EVENTS as GENERATED

    payloads: list[object] = [*EVENTS, *GENERATED, None, "text", {}]
    for payload in payloads:  # the collector's own failure records
        record = failure_record(payload, Invocation("r", "1", datetime.now(UTC)), "BudgetExceeded", "slow")
        assert index_batch(record) is None


def test_a_batch_record_without_its_request_context_is_still_a_batch(tmp_path: Path) -> None:
    """A hand-edited record (its requestContext cut) slipped through as an event, quarantined."""
    bare = load(SAMPLE)
    del bare["requestContext"]
    found = index_batch(bare)
    assert found is not None and found.condition is None and found.size == 1
    assert index_batch({"DDBStreamBatchInfo": {}}) is not None  # its window unreadable: listed
    edited = index_batch(dict(load(SAMPLE), requestContext="edited"))
    assert edited is not None and edited.condition is None
    path = tmp_path / "batches.jsonl"
    another = {**bare, "DDBStreamBatchInfo": {**bare["DDBStreamBatchInfo"], "startSequenceNumber": "900"}}
    path.write_bytes(jsonl([EVENTS[0], bare, sqs_output(another)]))
    result = cli("replay", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("dry run: 1 events: valid 1 "), result.stderr
    lines = block(result.stderr)
    assert lines[0].startswith("found 2 failed index batches of the audit table's stream (unknown condition)")
    assert lines[2] == f"  {SAMPLE_COMMAND}"


def test_an_event_with_an_unknown_key_is_still_replayed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl([dict(e, unknownKey={"DDBStreamBatchInfo": {}}) for e in EVENTS]))
    result = cli("replay", "--dry-run", str(path))
    assert result.returncode == 0, result.stderr
    assert f"valid {len(EVENTS)} " in result.stderr and "failed index batch" not in result.stderr


@pytest.mark.parametrize(
    ("first", "last", "since", "until"),
    [
        ("2026-12-01T10:15:00Z", "2026-12-01T10:22:00Z", "2026-12-01T10:10:00Z", "2026-12-01T10:27:00Z"),
        ("2026-12-01T10:22:00Z", "2026-12-01T10:15:00Z", "2026-12-01T10:10:00Z", "2026-12-01T10:27:00Z"),
        (
            "2026-12-01T12:15:00.5+02:00",
            "2026-12-01T10:22:00.25Z",
            "2026-12-01T10:10:00Z",
            "2026-12-01T10:27:01Z",
        ),
        ("2026-12-01T23:58:00", "2026-12-01T23:58:00", "2026-12-01T23:53:00Z", "2026-12-02T00:03:00Z"),
        ("0001-01-01T00:01:00Z", "9999-12-31T23:59:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_the_window_is_whole_seconds_outward_in_utc(first: str, last: str, since: str, until: str) -> None:
    from collector.cli.index_batches import command_time

    record = copy.deepcopy(load(SAMPLE))
    record["DDBStreamBatchInfo"].update(
        approximateArrivalOfFirstRecord=first, approximateArrivalOfLastRecord=last
    )
    found = index_batch(record)
    assert found is not None
    batches = FailedBatches()
    batches.add(found)
    window = batches.window()
    assert window is not None
    assert (command_time(window[0]), command_time(window[1])) == (since, until)


PARTIAL = (
    "  input not fully read (the replay stopped): this covers only the batches read before the stop;"
    " replay the same input again to find the others"
)


def stopping_input(tmp_path: Path) -> Path:
    """A batch, then more events than a replay reads ahead of its first result, then another batch."""
    from collector.sampling import generate_events

    late = batch(shardId="shardId-late", approximateArrivalOfLastRecord="2030-01-01T00:00:00Z")
    path = tmp_path / "input.jsonl"
    path.write_bytes(jsonl([load(SAMPLE), *generate_events(count=200, seed=7), late]))
    return path


def test_a_replay_that_stops_early_says_its_window_covers_only_the_batches_read(tmp_path: Path) -> None:
    """The block covered the batches read before the stop without saying so: a later batch's
    window was missing from the command."""
    result = cli("replay", str(stopping_input(tmp_path)), "--emf-out", "/dev/full", "--concurrency", "1")
    assert result.returncode == 1, result.stderr
    assert "replay stopped early" in result.stderr
    lines = block(result.stderr)
    assert lines[0].startswith("found 1 failed index batch of the audit table's stream")
    assert lines[2:5] == [
        f"  {SAMPLE_COMMAND}",
        "  (the batch's first arrival - 5 min to its last arrival + 5 min)",
        PARTIAL,
    ]
    assert "shardId-late" not in result.stderr
    whole = cli("replay", str(stopping_input(tmp_path)), "--db", str(tmp_path / "whole.sqlite3"))
    assert whole.returncode == 0, whole.stderr
    assert block(whole.stderr)[0].startswith("found 2 failed index batches") and PARTIAL not in whole.stderr


def test_batches_found_before_a_user_mistake_are_said_before_its_one_line(tmp_path: Path) -> None:
    """Nothing replayed (no credentials for the table): the mistake was the only line, and the
    batch already found was never mentioned."""
    env = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    result = cli("replay", str(stopping_input(tmp_path)), "--store", "dynamodb", "--table", "audit", env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("workmail-collector: no AWS credentials"), result.stderr
    assert block(result.stderr)[:-1] == [
        "found 1 failed index batch of the audit table's stream (RetryAttemptsExhausted): not events,"
        " nothing was replayed for it",
        "  its 1 record is in the audit table but missing from the time index (audit list and query,"
        " reconcile, the trace widget and the trail's export miss them); once the index consumer's"
        " error is fixed, repair with:",
        "  " + COMMAND.format(table="audit", since="2019-11-14T00:08:19Z", until="2019-11-14T00:18:19Z"),
        "  (the batch's first arrival - 5 min to its last arrival + 5 min)",
        PARTIAL,
        "  with the audit trail on, the days of that window already exported must be exported again;"
        " delete the batch messages from the queue only after the repair"
        " (docs/deploy.md#index-consumer-failures)",
    ]
    assert len(lines) == len(block(result.stderr))  # the block, then the one line: nothing else


def test_a_batch_received_twice_counts_once() -> None:
    """A queue read again after its visibility timeout hands out the same message twice: the same
    shard and sequence numbers are one batch (its records counted once); another batch still adds."""
    found = FailedBatches()
    one = index_batch(batch(batchSize=7))
    other = index_batch(batch(batchSize=3, startSequenceNumber="900", endSequenceNumber="905"))
    assert one is not None and other is not None
    for b in (one, one, other, one):
        found.add(b)
    assert (found.count, found.records) == (2, 10)
    # Without sequence numbers nothing tells two descriptions apart: each counts.
    bare = index_batch(batch(startSequenceNumber=None))
    assert bare is not None
    found.add(bare)
    found.add(bare)
    assert found.count == 4
