"""Failed index batches among replayed events, as properties.

Hypothesis mixes real events (AWS's public WorkMail and SES samples) with the index consumer's
failed-batch records (AWS's documented one, with any arrival times, sizes and conditions, some
times missing or unreadable, some without their requestContext as a hand-edited record is), each
at top level, in a JSON array, in `aws sqs receive-message` output, or as its `--query` options
print messages: an array of message objects, an array of body strings, a lone message object, a
lone body string, or one string holding an array. Replayed into SQLite, every event is recorded and
counted exactly as when the input held the events alone; nothing of a batch record reaches the
store; the block counts every batch by its condition; and the repair command's window covers
every readable batch's arrival window widened by 5 minutes (by less than a second more), while a
batch without one is listed by its shard.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cli import main
from tests.public_samples import load
from tests.reliability.test_fuzz import FUZZ
from tests.test_replay_index_batches import EVENTS, SAMPLE, sqs_output

MARGIN = timedelta(minutes=5)
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
WINDOW = re.compile(r"--since (\S+) --until (\S+)$")


@dataclass(frozen=True)
class Batch:
    record: dict[str, Any]
    arrivals: tuple[datetime, datetime] | None  # None: the record's times cannot be read
    size: int | None
    condition: str  # as the block names it


@st.composite
def arrival(draw: st.DrawFn) -> tuple[str, datetime]:
    """An arrival time as Lambda writes it (whole seconds, Z) or as a person might: fractions, offsets."""
    moment = draw(st.datetimes(datetime(2019, 1, 1), datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)))
    if draw(st.booleans()):
        moment = moment.replace(microsecond=0, tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment
    return moment.isoformat(), moment


UNREADABLE = st.sampled_from([None, "", "yesterday", 1573690399, "2019-13-01T00:00:00Z"])


@st.composite
def batches(draw: st.DrawFn, number: int) -> Batch:
    record: dict[str, Any] = load(SAMPLE)
    info = record["DDBStreamBatchInfo"]
    info["shardId"] = f"shardId-prop-{number}"
    condition = draw(st.sampled_from(["RetryAttemptsExhausted", "RecordAgeExceeded", None]))
    if condition is None:  # a hand-edited record: its requestContext cut
        del record["requestContext"]
    else:
        record["requestContext"]["condition"] = condition
    size = draw(st.one_of(st.integers(0, 10_000), st.sampled_from([None, "3", -1])))
    info["batchSize"] = size
    readable = draw(st.integers(0, 4)) > 0
    (first_text, first), (last_text, last) = draw(arrival()), draw(arrival())
    info["approximateArrivalOfFirstRecord"] = first_text
    info["approximateArrivalOfLastRecord"] = last_text
    if not readable:
        info[draw(st.sampled_from(["approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"]))] = (
            draw(UNREADABLE)
        )
    sized = size if isinstance(size, int) and size >= 0 else None
    return Batch(record, (first, last) if readable else None, sized, condition or "unknown condition")


def message(draw: st.DrawFn, body: str, n: int) -> dict[str, Any]:
    """An SQS message object as `aws sqs receive-message` prints it: the fields it always has,
    and some of those it may."""
    found: dict[str, Any] = {"MessageId": f"m-{n}", "ReceiptHandle": f"h-{n}", "Body": body}
    if draw(st.booleans()):
        found["MD5OfBody"] = "1000f835a35411fa"
    if draw(st.booleans()):
        found["Attributes"] = {"ApproximateReceiveCount": "2", "SentTimestamp": "1442428276921"}
    return dict(draw(st.permutations(list(found.items()))))  # in any order


def text(draw: st.DrawFn, value: object) -> str:
    """A JSON document as a message body: compact, or pretty as a person may have sent it."""
    return json.dumps(value, indent=2) if draw(st.booleans()) else orjson.dumps(value).decode()


HOW = ["alone", "array", "sqs", "messages", "bodies", "message", "body", "text-array"]


@st.composite
def inputs(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]], list[Batch]]:
    """JSON Lines of documents: a value alone, an array of values, or SQS output of message bodies."""
    values: list[tuple[str, Any]] = []
    for number in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            values.append(("batch", draw(batches(number))))
        else:
            values.append(("event", draw(st.sampled_from(EVENTS))))
    documents: list[Any] = []
    rest = list(values)
    while rest:
        take = draw(st.integers(1, len(rest)))
        group, rest = rest[:take], rest[take:]
        raw = [v.record if kind == "batch" else v for kind, v in group]
        how = draw(st.sampled_from(HOW))
        if how == "sqs":
            documents.append(sqs_output(*raw))
        elif how == "array":
            documents.append(raw)
        elif how == "messages":  # --query 'Messages[]'
            documents.append([message(draw, text(draw, r), n) for n, r in enumerate(raw)])
        elif how == "bodies":  # --query 'Messages[].Body'
            documents.append([text(draw, r) for r in raw])
        elif how == "message":  # --query 'Messages[0]', one by one
            documents.extend(message(draw, text(draw, r), n) for n, r in enumerate(raw))
        elif how == "body":  # --query 'Messages[0].Body', one by one
            documents.extend(text(draw, r) for r in raw)
        elif how == "text-array":  # one body holding an array
            documents.append(text(draw, raw))
        else:
            documents.extend(raw)
    data = b"".join(orjson.dumps(d) + b"\n" for d in documents)
    return data, [v for kind, v in values if kind == "event"], [v for kind, v in values if kind == "batch"]


def replay(folder: Path, name: str, data: bytes) -> tuple[int, list[str], list[tuple[str, str, str]]]:
    """`replay` in-process into a new SQLite file: exit code, stderr lines, stored rows."""
    path, db = folder / f"{name}.jsonl", folder / f"{name}.sqlite3"
    path.write_bytes(data)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(
            ["replay", str(path), "--store", "sqlite", "--db", str(db), "--emf-out", str(folder / "emf")]
        )
    rows: list[tuple[str, str, str]] = []
    if db.exists():
        with contextlib.closing(sqlite3.connect(db)) as connection:
            query = "select invocation_id, coalesce(count_state, ''), item from audit order by invocation_id"
            # The count state without the run's own id (EMITTED:<run>): counted, or not yet.
            rows = [(str(a), str(b).split(":")[0], str(c)) for a, b, c in connection.execute(query)]
    return code, [line.replace(str(db), "<db>") for line in stderr.getvalue().splitlines()], rows


def split(lines: list[str]) -> tuple[list[str], list[str]]:
    """The summary, and the failed-batch block (from its first line to the end)."""
    for n, line in enumerate(lines):
        if line.startswith("found ") and "failed index batch" in line:
            return lines[:n], lines[n:]
    return lines, []


@settings(FUZZ, max_examples=100)
@given(inputs())
def test_events_replay_as_without_the_batches_and_the_window_covers_every_batch(
    mix: tuple[bytes, list[dict[str, Any]], list[Batch]],
) -> None:
    data, events, found = mix
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        code, lines, rows = replay(folder, "mixed", data)
        summary, block = split(lines)
        if events:
            alone_code, alone, alone_rows = replay(
                folder, "alone", b"".join(orjson.dumps(e) + b"\n" for e in events)
            )
            assert (code, summary) == (alone_code, alone)
            assert [row[:2] for row in rows] == [row[:2] for row in alone_rows]
        else:
            assert (code, summary, rows) == (0, [], [])  # nothing to replay, and no store opened
    assert not any("DDBStreamBatchInfo" in item or "shardId-prop-" in item for _, _, item in rows)

    if not found:
        assert block == []
        return
    plural = "es" if len(found) != 1 else ""
    tally = Counter(b.condition for b in found)
    conditions = ", ".join(c if k == len(found) else f"{c} {k}" for c, k in sorted(tally.items()))
    assert block[0].startswith(
        f"found {len(found)} failed index batch{plural} of the audit table's stream ({conditions}):"
    ), block[0]
    records = sum(b.size or 0 for b in found)
    unsized = sum(b.size is None for b in found)
    said = f"{records} record{'s' if records != 1 else ''}"
    if unsized:
        said += (
            f" (and those of {unsized} batch{'es' if unsized != 1 else ''} whose batchSize could not be read)"
        )
    assert re.match(rf"  (its|their) {re.escape(said)} (is|are) in the audit table", block[1]), block[1]
    assert block[2].startswith(
        "  workmail-collector table backfill-shards --table <TableName output> --since "
    )
    windows = [b.arrivals for b in found if b.arrivals is not None]
    if windows:
        match = WINDOW.search(block[2])
        assert match is not None
        since = datetime.fromisoformat(match[1])
        until = datetime.fromisoformat(match[2])
        earliest = min(min(w) for w in windows) - MARGIN
        latest = max(max(w) for w in windows) + MARGIN
        assert earliest - timedelta(seconds=1) < since <= earliest
        assert latest <= until < latest + timedelta(seconds=1)
    else:  # no window was readable: placeholders
        assert block[2].endswith(" --since <first arrival - 5 min> --until <last arrival + 5 min>")
    unreadable = [b for b in found if b.arrivals is None]
    listed = [line for line in block if line.startswith("    shard ")]
    assert listed == [
        f"    shard {b.record['DDBStreamBatchInfo']['shardId']}, sequence numbers"
        " 800000000003126276362 to 800000000003126276362"
        for b in unreadable
    ]
