"""Reading replay inputs: every value once, in order, from files and stdin alike, in bounded memory."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.cli.inputs import read_events
from collector.cli.jsonstream import CHUNK_BYTES, PROBE_BYTES, read_values
from collector.jsonutil import ascii_json
from collector.model import Undecodable
from collector.progress import Progress
from collector.sampling import generate_events

EVENTS = [dict(e, subject="Hello") for e in generate_events(count=3, seed=81)]
SEPARATORS = "a\u2028b\u2029c\u0085d"


class Counted(io.BytesIO):
    """A stream that remembers how far it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.high = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.high = self.tell()
        return data


def values(data: bytes) -> list[Any]:
    return list(read_values(io.BytesIO(data), "input", lambda n: None))


def jsonl(events: list[Any]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def from_stdin(data: bytes) -> list[Any]:
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    return [value for value, _ in read_events(["-"], Progress(io.StringIO(), enabled=False), stdin)]


def from_file(tmp_path: Path, data: bytes, name: str = "input.jsonl") -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data)
    return [
        value for value, _ in read_events([str(path)], Progress(io.StringIO(), enabled=False), io.StringIO())
    ]


def test_json_lines_split_only_at_newlines() -> None:
    """U+2028, U+2029 and U+0085 are legal raw inside JSON strings (orjson and jq -c write them so)."""
    events = [dict(e, subject=SEPARATORS) for e in EVENTS]
    assert values(jsonl(events)) == events
    assert values(jsonl(events).replace(b"\n", b"\r\n")) == events


@pytest.mark.parametrize("reader", ["file", "stdin"])
def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path: Path, reader: str) -> None:
    read = (lambda data: from_file(tmp_path, data)) if reader == "file" else from_stdin
    bom = b"\xef\xbb\xbf"
    assert read(bom + orjson.dumps(EVENTS[0])) == [EVENTS[0]]
    assert read(bom + json.dumps(EVENTS[1], indent=2).encode()) == [EVENTS[1]]
    assert read(bom + jsonl(EVENTS)) == EVENTS
    assert read(bom + json.dumps(EVENTS, indent=2).encode()) == EVENTS


def test_a_crashed_writers_nul_run_is_one_undecodable_line_between_good_events() -> None:
    read = values(jsonl(EVENTS[:1]) + b"\x00" * 80_000 + b"\n" + jsonl(EVENTS[1:]))
    assert read[0] == EVENTS[0] and read[2:] == EVENTS[1:]
    assert isinstance(read[1], Undecodable) and read[1].text == "\x00" * 80_000
    assert read[1].error.startswith("input line 2: ")


@pytest.mark.parametrize(
    "data",
    [
        jsonl([EVENTS[0]]).replace(b"Hello", b"H\xe9llo") + jsonl(EVENTS[1:]),
        orjson.dumps(EVENTS[0]).replace(b"Hello", b"H\xe9llo"),  # a one-line document
    ],
    ids=["json-lines", "one-line"],
)
def test_bytes_that_are_not_utf8_are_quarantined_with_the_bytes_shown_the_same_from_file_and_stdin(
    tmp_path: Path, data: bytes
) -> None:
    read, piped = from_file(tmp_path, data), from_stdin(data)
    assert isinstance(read[0], Undecodable) and isinstance(piped[0], Undecodable)
    assert read[0].text == piped[0].text and read[1:] == piped[1:]
    bad = data.index(b"\xe9")
    reason = f"not UTF-8 (invalid continuation byte at byte {bad})"
    assert read[0].error == f"{tmp_path / 'input.jsonl'} line 1: {reason}"
    assert piped[0].error == f"stdin line 1: {reason}"
    assert read[0].text == data.split(b"\n")[0].decode("latin-1").replace("\xe9", "\\xe9")
    assert read[1:] == EVENTS[1 : len(read)]


def test_a_pretty_printed_document_with_bad_bytes_keeps_every_line() -> None:
    data = json.dumps(EVENTS[0], indent=2).encode().replace(b"Hello", b"H\xe9llo")
    read = values(data)
    assert all(isinstance(v, Undecodable) for v in read)
    assert "\n".join(v.text for v in read) == data.decode("latin-1").replace("\xe9", "\\xe9")


def test_lone_surrogate_escapes_and_big_integers_read_as_the_lambda_runtime_reads_them() -> None:
    event = dict(EVENTS[0], subject="\ud83d kept", big=123456789012345678901234567891)
    written = json.dumps(event).encode()  # ASCII escapes, as the failure queue writes
    assert values(written + b"\n" + written) == [event, event]
    assert values(json.dumps([event, event], indent=1).encode()) == [event, event]
    assert values(b"[" + written + b"," + written + b"]") == [event, event]


@pytest.mark.parametrize("reader", ["file", "stdin"])
def test_failure_queue_records_and_sqs_output_unwrap_exactly(tmp_path: Path, reader: str) -> None:
    from datetime import UTC, datetime

    from collector.failure_queue import failure_record
    from collector.model import Invocation

    event = dict(EVENTS[0], subject="\udc80 lone", n=2**70 + 1)
    record = failure_record(event, Invocation("req-1", "1", datetime.now(UTC)), "BudgetExceeded", "slow")
    sqs_output = {"Messages": [{"MessageId": "1", "Body": ascii_json(record)}]}
    data = json.dumps(sqs_output, indent=4).encode()
    read = from_file(tmp_path, data, "kept.json") if reader == "file" else from_stdin(data)
    assert read == [event]


def test_every_top_level_array_is_a_list_of_events_wherever_it_is() -> None:
    """One rule, whatever the first line looks like: an array's items are the events."""
    assert values(orjson.dumps(EVENTS)) == EVENTS
    payloads = [["", ""], EVENTS[0], 7, "text", None, []]
    assert values(jsonl(payloads)) == ["", "", EVENTS[0], 7, "text", None]


def test_documents_one_after_another_are_each_read() -> None:
    data = json.dumps(EVENTS[0], indent=2) + "\n" + json.dumps(EVENTS[1:], indent=2) + "\n"
    data += "".join(json.dumps(e) + "\n" for e in EVENTS)
    assert values(data.encode()) == [*EVENTS, *EVENTS]


def test_a_broken_pretty_printed_array_quarantines_only_the_broken_item_kept_whole() -> None:
    good = json.dumps(EVENTS, indent=2)
    second = good.index("\n  {", good.index("\n  {") + 1) + 3
    third = good.index("\n  {", second) + 1
    item = good[second:third].rstrip().removesuffix(",")
    broken_item = item.replace('"truncated": false', '"truncated": false,,\n    "tail": 1')
    read = values((good[:second] + broken_item + good[second + len(item) :]).encode())
    assert read[0] == EVENTS[0] and read[2] == EVENTS[2] and len(read) == 3
    assert isinstance(read[1], Undecodable) and read[1].text == broken_item
    assert read[1].error.startswith("input line ") and "Expecting property name" in read[1].error


def test_a_truncated_array_keeps_every_whole_item_and_the_cut_one() -> None:
    whole = json.dumps(EVENTS, indent=2)
    cut = whole[: whole.rindex('"messageId"')]
    read = values(cut.encode())
    assert read[:2] == EVENTS[:2] and all(isinstance(v, Undecodable) for v in read[2:])
    assert len(read) > 2


def test_values_across_chunk_boundaries_are_exact() -> None:
    numbers = [10**25 + n for n in range(CHUNK_BYTES // 10)]
    text = json.dumps(numbers, indent=1)
    assert values(text.encode()) == numbers
    words = ["é会😀" * n for n in range(200)]
    assert values(json.dumps(words, ensure_ascii=False, indent=1).encode()) == words


def test_blank_and_empty_input_hold_no_events() -> None:
    for data in (b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b"[]", b"[\n]\n"):
        assert values(data) == []


def test_large_inputs_stream() -> None:
    """The first event arrives long before the whole input is read: memory stays flat."""
    many = list(generate_events(count=30_000, seed=82))
    for data, bound in (
        (jsonl(many), 2 * CHUNK_BYTES),
        (json.dumps(many, indent=2).encode(), 2 * CHUNK_BYTES),
        (orjson.dumps(many), PROBE_BYTES + CHUNK_BYTES),  # one line: probed as a JSON Lines line first
    ):
        stream = Counted(data)
        events = read_values(stream, "big", lambda n: None)
        assert next(events) == many[0]
        assert stream.high <= bound < len(data)
        assert list(events) == many[1:]


@pytest.mark.parametrize("shape", ["jsonl", "pretty-array", "one-line-array", "broken"])
def test_progress_counts_every_byte_once(shape: str) -> None:
    data = {
        "jsonl": jsonl(EVENTS),
        "pretty-array": json.dumps(EVENTS, indent=2).encode(),
        "one-line-array": orjson.dumps(EVENTS),
        "broken": json.dumps(EVENTS, indent=2).encode()[:-30] + b"\n",
    }[shape]
    advanced: list[int] = []
    list(read_values(io.BytesIO(data), "input", advanced.append))
    assert sum(advanced) == len(data) and all(n > 0 for n in advanced)


def test_arrays_one_after_another_are_each_read() -> None:
    """`jq -c . a.json b.json`: two one-line arrays; every item of both is an event."""
    many = list(generate_events(count=40, seed=84))
    assert values(orjson.dumps(many[:20]) + b"\n" + orjson.dumps(many[20:]) + b"\n") == many


def test_a_compact_event_then_a_pretty_printed_one_are_two_events() -> None:
    data = orjson.dumps(EVENTS[0]) + b"\n" + json.dumps(EVENTS[1], indent=2).encode() + b"\n"
    assert values(data) == EVENTS[:2]
    assert values(data + orjson.dumps(EVENTS[2])) == EVENTS


@pytest.mark.parametrize("damage", [b'"H\xe9llo"', b'"Hel\x01lo"', b"Hello"])
def test_one_bad_byte_in_a_one_line_array_quarantines_only_its_item(damage: bytes) -> None:
    """A byte that is not UTF-8, a control character, a lost pair of quotes: only that item."""
    items = [orjson.dumps(e) for e in EVENTS]
    bad = items[1].replace(b'"Hello"', damage)
    read = values(b"[" + b",".join([items[0], bad, items[2]]) + b"]\n")
    assert read[0] == EVENTS[0] and read[2] == EVENTS[2] and len(read) == 3
    assert isinstance(read[1], Undecodable)
    assert read[1].text == bad.decode("utf-8", "backslashreplace")


def test_a_cut_line_is_one_bad_region_and_the_next_line_is_read() -> None:
    cut = orjson.dumps(EVENTS[0])[:-40]
    read = values(cut + b"\n" + jsonl(EVENTS[1:]))
    assert isinstance(read[0], Undecodable) and read[0].text == cut.decode()
    assert read[0].error.startswith("input line 1: ") and read[1:] == EVENTS[1:]


def test_a_bad_region_is_kept_whole_so_repeated_fragments_stay_apart() -> None:
    """A broken pretty-printed event is one record, not a record per line (`},` twice was one)."""
    pretty = json.dumps(EVENTS[0], indent=2)
    broken = pretty.replace('"subject": "Hello"', '"subject": Hello')
    read = values(broken.encode() + b"\n" + jsonl(EVENTS[1:]))
    assert isinstance(read[0], Undecodable) and read[0].text == broken
    assert read[1:] == EVENTS[1:]


@pytest.mark.parametrize("layout", ["jsonl", "pretty", "array"])
def test_a_byte_order_mark_wherever_a_value_starts_is_accepted(layout: str) -> None:
    """`cat a.json b.json` of files saved with a BOM puts the second one at the start of a line."""
    bom = b"\xef\xbb\xbf"
    one: dict[str, bytes] = {
        "jsonl": jsonl(EVENTS[:1]),
        "pretty": json.dumps(EVENTS[0], indent=2).encode() + b"\n",
        "array": json.dumps(EVENTS[:1], indent=2).encode() + b"\n",
    }
    two = one[layout].replace(orjson.dumps(EVENTS[0]), orjson.dumps(EVENTS[1])) if layout == "jsonl" else b""
    data = bom + one[layout] + bom + (two or json.dumps(EVENTS[1:2], indent=2).encode()) + b"\n"
    assert values(data) == EVENTS[:2]


def test_an_item_whose_brackets_never_close_leaves_the_array_items_after_it_read() -> None:
    """A pretty-printed array with one item's closing `}` lost: only that item is quarantined, the
    items after it are events and the `]` closes the array (it was read at the top level: every
    later item and the `]` were quarantined)."""
    events = [dict(e, subject=f"Hello {n}") for n, e in enumerate(generate_events(count=6, seed=82))]
    lines = json.dumps(events, indent=2).split("\n")
    item_ends = [n for n, line in enumerate(lines) if line == "  },"]
    read = values("\n".join(lines[: item_ends[1]] + lines[item_ends[1] + 1 :]).encode())
    assert [v for v in read if not isinstance(v, Undecodable)] == events[:1] + events[2:]
    assert [type(v) for v in read].count(Undecodable) == 1 and isinstance(read[1], Undecodable)
    assert read[1].text == "\n".join(lines[item_ends[0] + 1 : item_ends[1]]).strip()

    small = values(b'[\n  {"a": 1,\n  {"b": 2},\n  {"c": 3}\n]\n{"d": 4}\n')
    assert isinstance(small[0], Undecodable) and small[0].text == '[\n  {"a": 1,'
    assert small[1:] == [{"b": 2}, {"c": 3}, {"d": 4}]


def test_a_document_after_a_cut_array_is_read_at_the_top_level() -> None:
    """`cat` of a cut array and a whole one: the second array's items are events, not one item."""
    read = values(b'[\n  {"a": 1,\n[\n  {"b": 2}\n]\n{"c": 3}{"d": 4}\n')
    assert isinstance(read[0], Undecodable) and read[1:] == [{"b": 2}, {"c": 3}, {"d": 4}]


@pytest.mark.parametrize(
    ("text", "json_like"),
    [
        ("[![CI](https://x/badge.svg)](https://x)\n# title\n", False),
        ("{{ template }}\n", True),  # `{` then `{`: may be JSON, kept in quarantine
        ("{ hello: 1 }\n", False),
        ('[\n  {"subject": Hello}\n]\n', True),
        ('{"subject": Hello}\n', True),
        ('[\n  {"a": 1,\n', True),
        ("[\n", True),
        ('[\n  {"a": -1,, "b": 2}\n]\n', True),
        ("[ null, }\n", True),
    ],
)
def test_a_named_file_is_json_when_its_first_value_starts_as_json(
    tmp_path: Path, text: str, json_like: bool
) -> None:
    """A damaged first value is quarantined only if it starts as JSON does after its `{` or `[`."""
    from collector.cli.inputs import _holds_json

    path = tmp_path / "input"
    path.write_text(text)
    assert _holds_json(path) is json_like
