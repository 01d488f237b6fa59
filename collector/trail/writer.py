"""One period's records as one deterministic Parquet object: the same records give the same bytes.

Rows come in (received_at, invocation_id) order, the store's `oldest_first` read, a page at a
time; they are cut into row groups of exactly ROW_GROUP_ROWS (the last one smaller) whatever the
pages were, each row group's columns made one contiguous array before it is written (so Parquet's
data pages are cut at the same rows too), compressed with zstd at a fixed level, and no Arrow
schema blob or other metadata that could vary is written (Parquet's footer names the writing
library's version, nothing else about the run). So a re-export of an unchanged period writes an
identical object, and the bytes say when a period really changed.

Memory is bounded by one row group (as Arrow columns) plus one page of records, not by the period:
the file is written as it goes (bench/trail_memory.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collector.trail.schema import arrow_schema, columns

ROW_GROUP_ROWS = 32 * 1024
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3


class OrderError(ValueError):
    """Records came out of (receivedAt, key) order, or one key twice: the bytes would not be the
    same for the same records."""


class TrailFile:
    """A Parquet file written row group by row group from ordered pages of records."""

    def __init__(self, where: str | Path | pa.NativeFile, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self._where = str(where) if isinstance(where, Path) else where
        self._row_group_rows = row_group_rows
        self._schema = arrow_schema()
        self._writer: pq.ParquetWriter | None = None
        self._batches: list[pa.RecordBatch] = []
        self._buffered = 0
        self._last: tuple[str, str] | None = None
        self.rows = 0

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append records that follow every record added before, in order."""
        if not records:
            return
        for record in records:
            key = (str(record["receivedAt"]), str(record["invocationId"]))
            if self._last is not None and key <= self._last:
                raise OrderError(f"record {key} does not follow {self._last}")
            self._last = key
        self._batches.append(pa.RecordBatch.from_pydict(columns(records), schema=self._schema))
        self._buffered += len(records)
        self.rows += len(records)
        while self._buffered >= self._row_group_rows:
            self._flush(self._row_group_rows)

    def close(self, empty: bool = False) -> int:
        """Write what is left and the footer; returns the rows written. With no rows no file is
        made, unless `empty`: then a valid file of no row group (the schema and the footer), what
        the export writes for a part with no records (a day with none)."""
        if self._buffered:
            self._flush(self._buffered)
        if self._writer is None and empty:
            self._writer = self._open()
        if self._writer is not None:
            self._writer.close()
        return self.rows

    def _flush(self, count: int) -> None:
        buffered = pa.Table.from_batches(self._batches, schema=self._schema)
        group = buffered.slice(0, count).combine_chunks()
        rest = buffered.slice(count)
        self._batches = [b for b in rest.to_batches() if b.num_rows]
        self._buffered = rest.num_rows
        del buffered, rest
        if self._writer is None:
            self._writer = self._open()
        self._writer.write_table(group, row_group_size=count)

    def _open(self) -> pq.ParquetWriter:
        return pq.ParquetWriter(
            self._where,
            self._schema,
            compression=COMPRESSION,
            compression_level=COMPRESSION_LEVEL,
            store_schema=False,
            write_statistics=True,
            coerce_timestamps="ms",
        )


def ordered(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records in the trail's row order, as the stores' `oldest_first` returns them."""
    return sorted(records, key=lambda r: (str(r["receivedAt"]), str(r["invocationId"])))


def parquet_bytes(records: Iterable[Mapping[str, Any]], row_group_rows: int = ROW_GROUP_ROWS) -> bytes:
    """Records already in memory (a test, a bench) as the bytes the export writes for them."""
    sink = pa.BufferOutputStream()
    out = TrailFile(sink, row_group_rows)
    rows = ordered(records)
    for start in range(0, len(rows), 1000):
        out.add(rows[start : start + 1000])
    if not out.close():  # no rows: a footer and the schema, nothing else
        pq.write_table(pa.Table.from_batches([], schema=arrow_schema()), sink, store_schema=False)
    return bytes(sink.getvalue().to_pybytes())
