"""Properties of the writer over any records a store can hold: the bytes do not depend on the
order the store returned them in, and reading the file back gives `row` of each record."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.clock import iso_millis
from collector.trail.schema import COLUMNS, UNINDEXED, row
from collector.trail.writer import parquet_bytes

DAY = datetime(2026, 12, 1, tzinfo=UTC)
# Records can hold lone surrogates (a subject escaped as "\\ud800" in the event's JSON): the store
# keeps them (collector.jsonutil), Parquet's strings are UTF-8.
text = st.one_of(st.text(max_size=12), st.builds(lambda t: t + "\ud800", st.text(max_size=4)))
VALUES = {
    "string": text,
    "bigint": st.integers(-(2**63), 2**63 - 1),
    "boolean": st.booleans(),
    "array<string>": st.lists(text, max_size=3),
}
OPTIONAL = [c for c in COLUMNS if c.attribute not in ("receivedAt", "invocationId", "status")]


@st.composite
def record(draw: st.DrawFn, n: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "invocationId": f"key-{n}",
        "receivedAt": iso_millis(DAY + timedelta(milliseconds=draw(st.integers(0, 86_399_999)))),
        "status": draw(st.sampled_from(["RECORDED", "INVALID"])),
    }
    for column in draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=12)):
        item[column.attribute] = draw(VALUES[column.glue_type])
    if "messageId" not in item and draw(st.booleans()):
        item[UNINDEXED["messageId"]] = draw(text)  # moved aside: too long or empty for DynamoDB's index
    return item


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(record(n)) for n in range(draw(st.integers(1, 8)))]


@settings(max_examples=60, deadline=None)
@given(records(), st.randoms(use_true_random=False))
def test_same_records_any_order_same_bytes_and_rows(found: list[dict[str, Any]], rng: Any) -> None:
    data = parquet_bytes(found)
    shuffled = list(found)
    rng.shuffle(shuffled)
    assert parquet_bytes(shuffled) == data
    read = pq.read_table(io.BytesIO(data)).to_pylist()
    expected = sorted((row(r) for r in found), key=lambda r: (r["received_at"], r["invocation_id"]))
    assert read == expected
