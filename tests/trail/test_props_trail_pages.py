"""Properties of the streamed writer: however the store cut its answer into pages, the same
records give the same bytes (row groups are cut at fixed rows), and records out of order or a key
twice are refused rather than written in an order the bytes would depend on."""

from __future__ import annotations

import io
import itertools
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.trail.writer import OrderError, TrailFile, ordered, parquet_bytes
from tests.trail.test_props_trail import records


def streamed(found: list[dict[str, Any]], cuts: list[int], row_group_rows: int) -> bytes:
    sink = pa.BufferOutputStream()
    out = TrailFile(sink, row_group_rows)
    rows = ordered(found)
    edges = sorted({0, len(rows), *(c % (len(rows) + 1) for c in cuts)})
    for start, end in itertools.pairwise(edges):
        out.add(rows[start:end])
    assert out.close() == len(rows)
    return bytes(sink.getvalue().to_pybytes())


@settings(max_examples=60, deadline=None)
@given(records(), st.lists(st.integers(0, 8), max_size=6), st.integers(1, 4))
def test_any_pages_give_the_bytes_of_the_records(
    found: list[dict[str, Any]], cuts: list[int], rows: int
) -> None:
    data = streamed(found, cuts, rows)
    assert data == parquet_bytes(found, rows) == streamed(found, [], rows)
    groups = pq.ParquetFile(io.BytesIO(data)).metadata
    assert [groups.row_group(g).num_rows for g in range(groups.num_row_groups)] == [
        min(rows, len(found) - start) for start in range(0, len(found), rows)
    ]


@settings(max_examples=30, deadline=None)
@given(records())
def test_out_of_order_or_twice_is_refused(found: list[dict[str, Any]]) -> None:
    rows = ordered(found)
    out = TrailFile(pa.BufferOutputStream())
    with pytest.raises(OrderError):
        out.add([*rows, rows[0]])  # the first again: a key twice, or an earlier time
