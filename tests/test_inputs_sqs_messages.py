"""SQS messages however `aws sqs receive-message` printed them: the whole output (`{"Messages": [...]}`,
read before), `--query 'Messages[]'` (an array of message objects), `--query 'Messages[].Body'` (an
array of body strings), a lone message object, or a lone body string. Each message object was
replayed as an event and quarantined as invalid; each body string too. They now unwrap as the
messages inside `Messages` do, and nothing else changes: a string that is no JSON document stays
an invalid event, kept."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli.inputs import _holds_json, unwrap
from collector.failure_queue import failure_record
from collector.jsonutil import ascii_json
from collector.model import Invocation, Undecodable
from tests.public_samples import RECEIPT_SAMPLES, SENDING_SAMPLES, WORKMAIL_SAMPLES, load
from tests.test_cli import cli
from tests.test_inputs import EVENTS, Counted, from_file, from_stdin
from tests.test_replay_index_batches import EVENTS as PUBLIC_EVENTS

RECORD = failure_record(EVENTS[0], Invocation("req-1", "1", datetime.now(UTC)), "BudgetExceeded", "slow")


def message(body: str, n: int = 0) -> dict[str, Any]:
    """A message as the AWS CLI's receive-message example prints one (every field it shows)."""
    return {
        "Body": body,
        "ReceiptHandle": f"AQEBzbVv{n}fqNzFw==",
        "MD5OfBody": "1000f835a35411fa",
        "MD5OfMessageAttributes": "9424c49126bc3ae7",
        "MessageId": f"d6790f8d-d575-4d01-a2ff-d4a7b54ad7b{n}",
        "Attributes": {"ApproximateReceiveCount": "5", "SentTimestamp": "1442428276921"},
        "MessageAttributes": {"City": {"DataType": "String", "StringValue": "Any City"}},
    }


BODIES = [ascii_json(RECORD), orjson.dumps(EVENTS[1]).decode(), json.dumps(EVENTS[2], indent=2)]
EXPECTED = [(EVENTS[0], "req-1"), (EVENTS[1], None), (EVENTS[2], None)]


def read(tmp_path: Path, data: bytes, reader: str) -> list[tuple[object, str | None]]:
    from collector.cli.inputs import read_events
    from collector.progress import Progress

    if reader == "stdin":
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        return list(read_events(["-"], Progress(io.StringIO(), enabled=False), stdin))
    path = tmp_path / "kept.json"
    path.write_bytes(data)
    return list(read_events([str(path)], Progress(io.StringIO(), enabled=False), io.StringIO()))


@pytest.mark.parametrize("reader", ["file", "stdin"])
@pytest.mark.parametrize("indent", [None, 4])
def test_query_messages_an_array_of_message_objects_unwraps_each(
    tmp_path: Path, reader: str, indent: int | None
) -> None:
    data = json.dumps([message(b, n) for n, b in enumerate(BODIES)], indent=indent).encode()
    assert read(tmp_path, data, reader) == EXPECTED


@pytest.mark.parametrize("reader", ["file", "stdin"])
def test_query_bodies_an_array_of_strings_unwraps_each(tmp_path: Path, reader: str) -> None:
    data = json.dumps(BODIES, indent=4).encode()
    assert read(tmp_path, data, reader) == EXPECTED


@pytest.mark.parametrize("reader", ["file", "stdin"])
def test_a_lone_message_object_and_a_lone_body_string_unwrap(tmp_path: Path, reader: str) -> None:
    lone = json.dumps(message(BODIES[0]), indent=4).encode() + b"\n" + json.dumps(BODIES[1]).encode()
    assert read(tmp_path, lone, reader) == EXPECTED[:2]


def test_a_string_holding_an_array_is_its_items_and_strings_nest() -> None:
    held = json.dumps([EVENTS[0], json.dumps(EVENTS[1]), RECORD])
    assert list(unwrap(held)) == [(EVENTS[0], None), (EVENTS[1], None), (EVENTS[0], "req-1")]
    assert list(unwrap(message(held))) == list(unwrap(held))  # a body holding an array: the same
    assert list(unwrap(json.dumps(message(BODIES[0])))) == EXPECTED[:1]  # a message object as text


@pytest.mark.parametrize("text", ["not json", "", "42", '"{}"', "null", '{"a": 1', "[1,", "\udc80"])
def test_a_string_that_holds_no_json_document_stays_as_it_was(text: str) -> None:
    """An invalid event, kept whole; only a JSON object or array inside a string is unwrapped."""
    assert list(unwrap(text)) == [(text, None)]


def test_a_body_that_is_no_json_stays_undecodable_as_inside_messages() -> None:
    for value in (message("not json"), {"Messages": [message("not json")]}):
        [(kept, request_id)] = list(unwrap(value))
        assert isinstance(kept, Undecodable) and kept.text == "not json" and request_id is None
        assert kept.error is not None and kept.error.startswith("SQS message body: ")
    [(kept, _)] = list(unwrap({"Messages": [dict(message(""), Body={"a": 1})]}))
    assert isinstance(kept, Undecodable) and kept.error == "SQS message body is not a string"


def test_only_an_sqs_message_shape_is_unwrapped() -> None:
    """A string Body and a MessageId and a ReceiptHandle; anything less is left as it is (an event,
    or an invalid one kept whole). No WorkMail or SES event has any of those keys."""
    whole = message(BODIES[1])
    for key in ("MessageId", "ReceiptHandle", "Body"):
        partial = {k: v for k, v in whole.items() if k != key}
        assert list(unwrap(partial)) == [(partial, None)]
    not_text = dict(whole, Body=EVENTS[1])
    assert list(unwrap(not_text)) == [(not_text, None)]
    samples = [load(p) for p in (*WORKMAIL_SAMPLES, *RECEIPT_SAMPLES, *SENDING_SAMPLES)]
    for event in [*samples, *PUBLIC_EVENTS, *EVENTS]:
        assert list(unwrap(event)) == [(event, None)]
        assert not {"Body", "ReceiptHandle"} & event.keys()


def test_a_large_array_of_message_objects_streams() -> None:
    """The first event arrives long before the whole input is read: memory stays flat."""
    from collector.cli.inputs import _events
    from collector.cli.jsonstream import CHUNK_BYTES
    from collector.progress import Progress

    many = [message(orjson.dumps(dict(EVENTS[n % 3], n=n)).decode(), n) for n in range(5_000)]
    data = json.dumps(many, indent=2).encode()
    stream = Counted(data)
    events = _events(stream, "big", Progress(io.StringIO(), enabled=False), None, None, None)
    assert next(events) == (dict(EVENTS[0], n=0), None)
    assert stream.high <= 2 * CHUNK_BYTES < len(data)
    assert sum(1 for _ in events) == len(many) - 1


def test_a_named_file_holding_a_body_string_is_json(tmp_path: Path) -> None:
    """`--query 'Messages[0].Body'` prints one string: a JSON document inside it is no README."""
    path = tmp_path / "body.json"
    path.write_text(json.dumps(BODIES[1]) + "\n")
    assert _holds_json(path)
    path.write_text(json.dumps("a README line") + "\n")
    assert not _holds_json(path)
    assert from_file(tmp_path, json.dumps(BODIES[1]).encode(), "body.json") == [EVENTS[1]]
    assert from_stdin(json.dumps(BODIES[2]).encode()) == [EVENTS[2]]


def test_replay_records_query_outputs_as_the_events_themselves(tmp_path: Path) -> None:
    """Through the command: every message of each shape valid, none quarantined."""
    shapes = {
        "messages.json": json.dumps([message(b, n) for n, b in enumerate(BODIES)], indent=4),
        "bodies.json": json.dumps(BODIES, indent=4),
        "lone.json": json.dumps(message(BODIES[1]), indent=4),
        "body.json": json.dumps(BODIES[2]),
    }
    for name, text in shapes.items():
        (tmp_path / name).write_text(text + "\n")
    result = cli("replay", "--dry-run", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("dry run: 8 events: valid 8 "), result.stderr
    assert "invalid 0" in result.stderr
