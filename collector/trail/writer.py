"""One period's records as one deterministic Parquet object: the same records give the same bytes.

Rows are sorted (received_at, invocation_id); row groups have a fixed size; compression is zstd
at a fixed level; no Arrow schema blob or other metadata that could vary is written (Parquet's
footer names the writing library's version, nothing else about the run). So a re-export of an
unchanged day writes an identical object, and the bytes say when a day really changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collector.trail.schema import arrow_schema, columns, parse_received_at

ROW_GROUP_ROWS = 128 * 1024
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


def table(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    ordered = sorted(records, key=lambda r: (parse_received_at(str(r["receivedAt"])), str(r["invocationId"])))
    return pa.Table.from_pydict(columns(ordered), schema=arrow_schema())


def parquet_bytes(records: Iterable[Mapping[str, Any]]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(
        table(records),
        sink,
        row_group_size=ROW_GROUP_ROWS,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        store_schema=False,
        write_statistics=True,
        coerce_timestamps="ms",
    )
    return bytes(sink.getvalue().to_pybytes())
