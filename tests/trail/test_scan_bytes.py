"""The scan estimate the bill reads (bench.trail_queries): which columns each named query reads,
bytes from the Parquet footers, and Athena's rounding. Figures, not timings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bench.trail_queries import MB, athena_scan_bytes, billed, column_bytes, columns_read, synthetic_records
from collector.trail.queries import NAMED_QUERIES
from collector.trail.schema import COLUMN_NAMES, KNOWN_ATTRIBUTES
from collector.trail.writer import parquet_bytes

READS = {
    "daily_volume": {"status", "source", "event_type", "direction", "recipient_count"},
    "ses_bounces_complaints": {"status", "source", "event_type", "recipient_count"},
    "top_sender_domains": {"status", "event_type", "sender", "recipient_count"},
    "message_trace": {
        "received_at", "invocation_id", "source", "event_type", "status", "direction", "message_id",
        "sender", "recipient_count", "recipients", "subject",
    },
}  # fmt: skip


def test_columns_read_leave_out_output_names_and_literals() -> None:
    for name, columns in READS.items():
        assert set(columns_read(NAMED_QUERIES[name])) == columns, name


def test_column_bytes_are_each_columns_compressed_chunks(tmp_path: Path) -> None:
    records = list(synthetic_records(date(2026, 3, 1), 500))
    assert all(set(r) <= KNOWN_ATTRIBUTES for r in records)
    path = tmp_path / "day.parquet"
    path.write_bytes(parquet_bytes(records))
    sizes, rows = column_bytes([path])
    assert rows == 500 and set(sizes) == set(COLUMN_NAMES)
    assert 0 < sum(sizes.values()) < path.stat().st_size  # the footer and headers are the rest
    assert sizes["recipients"] > sizes["status"] > 0  # list of addresses vs a two-value column


def test_athena_bills_whole_megabytes_and_ten_at_least() -> None:
    assert billed(0) == billed(10 * MB) == 10 * MB
    assert billed(10 * MB + 1) == 11 * MB
    small = athena_scan_bytes(per_day=1_000, days=1)
    assert set(small) == set(NAMED_QUERIES) and set(small.values()) == {10 * MB}
    year = athena_scan_bytes(per_day=10_000_000, days=365)
    assert all(year[n] > 10 * MB for n in NAMED_QUERIES)
    assert year["ses_bounces_complaints"] < year["daily_volume"] < year["message_trace"]
