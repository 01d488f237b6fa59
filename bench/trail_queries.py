"""The audit trail at a year's scale: the named queries on DuckDB, and what Athena would scan.

`python -m bench.trail_queries` writes a synthetic year (default 10,000 records a day for 365 days,
3.65 million records) as the exporter writes it (collector.trail.writer, one object a day), times
every named query on DuckDB over the whole year, and prints the bytes Athena would scan for each:
the compressed size of the Parquet column chunks of the columns the query names, in the days it
reads. That is an upper bound: Athena may skip row groups their statistics rule out (a date
range inside a day; a message id never does). Athena bills that rounded up to a whole megabyte,
10 MB at least per query. The same figures are extrapolated to 100,000 and 10 million records a
day: bytes per record per column, measured here, times the volume (zstd and dictionaries do
better at volume, so the larger figures lean high).

Baselines in the same run: DuckDB's `SELECT count(*)` over the year (every file opened, no
column read) for time, and all columns for bytes (what a query without column pruning, or the
trail as JSON, would scan at least).

The records are real audit items: collector.audit.record_item and invalid_item on events parsed
by the collector's own adapters (WorkMail events and SES receipts, sends, deliveries, bounces,
complaints from collector.sampling / collector.sampling_ses), each made unique (key, message id,
sender, recipients, time): record_item runs once per template, each record copies one. The mix,
per 10,000 records: 5,520 WorkMail inbound (20 truncated, with 40 recipients), 2,480 outbound, 800
SES receipts, 600 sends, 480 deliveries, 80 bounces, 10 complaints, 30 invalid.

`athena_scan_bytes(per_day, days)` is the function the bill reads: each named query's billed
bytes at a daily volume over a number of days, from one measured sample day.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from collector.audit import invalid_item, record_item
from collector.clock import iso_millis
from collector.events.detect import parse
from collector.model import Invalid, Invocation, Item, MailEvent
from collector.redaction import Redactor
from collector.sampling import iter_events
from collector.sampling_ses import iter_ses_events
from collector.trail.queries import NAMED_QUERIES, NamedQuery
from collector.trail.schema import COLUMN_NAMES, QUALIFIED_TABLE
from collector.trail.writer import parquet_bytes

FIRST_DAY = date(2026, 1, 1)
PER_DAY = 10_000
DAYS = 365
SAMPLE_PER_DAY = 10_000  # the day athena_scan_bytes measures
EXTRAPOLATE_PER_DAY = (100_000, 10_000_000)
BILL_DAYS = (1, 30, 365)
MB = 1024 * 1024
ATHENA_MINIMUM_BYTES = 10 * MB
RETENTION_DAYS = 365
MIX = (  # (kind, records per 10,000)
    ("workmail-in", 5_500),
    ("workmail-out", 2_480),
    ("workmail-truncated", 20),
    ("receipt", 800),
    ("send", 600),
    ("delivery", 480),
    ("bounce", 80),
    ("complaint", 10),
    ("invalid", 30),
)
DOMAINS = 300
SENDERS = 5_000
RECIPIENTS = 20_000
TEMPLATES = 50  # parsed events per kind, varied per record


def _parsed(raw: object) -> MailEvent:
    event = parse(raw)
    assert isinstance(event, MailEvent), event
    return event


@cache
def templates() -> dict[str, list[MailEvent]]:
    """Real parsed events of each kind, to vary per record."""
    out = {
        "workmail-in": [_parsed(e) for e in iter_events(count=TEMPLATES, direction="INBOUND", seed=1)],
        "workmail-out": [_parsed(e) for e in iter_events(count=TEMPLATES, direction="OUTBOUND", seed=2)],
        "workmail-truncated": [
            _parsed(e) for e in iter_events(count=TEMPLATES, recipients=40, truncated=True, seed=3)
        ],
        "receipt": [_parsed(e) for e in iter_ses_events(count=TEMPLATES, event="receipt", seed=4)],
    }
    for kind in ("send", "delivery", "bounce", "complaint"):
        out[kind] = [_parsed(e) for e in iter_ses_events(count=TEMPLATES, event=kind, via="sns", seed=5)]
    return out


def _address(rng: random.Random, pool: int, prefix: str) -> str:
    n = rng.randrange(pool)
    return f"{prefix}{n}@domain{n % DOMAINS}.example"


@cache
def template_items() -> dict[str, list[Item]]:
    """The audit items record_item makes of the templates (once; each record copies one)."""
    at = Invocation("template", "1", datetime(2026, 1, 1, tzinfo=UTC))
    redactor = Redactor(None)
    return {
        kind: [record_item(e, at, RETENTION_DAYS, redactor) for e in events]
        for kind, events in templates().items()
    }


def synthetic_records(day: date, count: int, seed: int = 0) -> Iterator[Item]:
    """`count` audit items received on `day`, in the MIX, each unique: a template's item with its
    own key, time, message id, sender and recipients."""
    rng = random.Random(f"{day.isoformat()}/{seed}")
    pool = template_items()
    kinds = [kind for kind, share in MIX for _ in range(share)]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for n in range(count):
        kind = kinds[(n * 7919) % len(kinds)]
        at = start + timedelta(milliseconds=86_400_000 * n // count)
        invocation = Invocation(f"req-{day.isoformat()}-{n}", "1", at)
        unique = hashlib.sha256(f"{day}/{seed}/{n}".encode()).hexdigest()
        if kind == "invalid":
            invalid = Invalid(unique, "payload is not an email-flow event", {"n": n})
            yield invalid_item(invalid, invocation, RETENTION_DAYS, Redactor(None))
            continue
        item = dict(pool[kind][n % TEMPLATES])
        sender = _address(rng, SENDERS, "user")
        message_id = unique[:40]
        if item["source"] == "SES":
            suffix = {"receipt": "", "send": ":Send"}.get(kind, f":{item.get('eventType')}:{unique[40:56]}")
            key = f"ses:{message_id}{suffix}"
        else:
            key = unique[:32]
        item.update(
            invocationId=key,
            receivedAt=iso_millis(at),
            receivedDay=day.isoformat(),
            requestId=invocation.request_id,
            expiresAt=int((at + timedelta(days=RETENTION_DAYS)).timestamp()),
            fingerprint=unique,
            messageId=message_id,
            sender=sender,
            mailFrom=sender,
            recipients=[_address(rng, RECIPIENTS, "rcpt") for _ in range(max(1, len(item["recipients"])))],
        )
        yield item


def write_year(out: Path, per_day: int, days: int, first: date = FIRST_DAY) -> tuple[int, float]:
    """The year as the exporter writes it; returns (bytes written, seconds spent in the writer)."""
    from collector.trail.layout import LAST_MINUTE, part_key

    total, writing = 0, 0.0
    for d in range(days):
        day = first + timedelta(days=d)
        records = list(synthetic_records(day, per_day))
        began = time.perf_counter()
        data = parquet_bytes(records)
        writing += time.perf_counter() - began
        path = out / part_key(day, 0, LAST_MINUTE)  # a day in one part, as the exporter writes it
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    return total, writing


def columns_read(query: NamedQuery) -> tuple[str, ...]:
    """The table's columns a query names (Athena reads each of them whole for every day scanned)."""
    body = "\n".join(line for line in query.sql.splitlines() if not line.lstrip().startswith("--"))
    body = re.sub(r"'(?:[^']|'')*'", " ", body)  # string literals
    body = re.sub(r"\bAS\s+[A-Za-z_][A-Za-z0-9_]*", " ", body, flags=re.IGNORECASE)  # output names
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", body))
    return tuple(c for c in COLUMN_NAMES if c in words)


def column_bytes(files: list[Path]) -> tuple[dict[str, int], int]:
    """Compressed bytes of each top-level column over the files (from the Parquet footers), and
    the number of rows."""
    import pyarrow.parquet as pq

    sizes = dict.fromkeys(COLUMN_NAMES, 0)
    rows = 0
    for path in files:
        meta = pq.read_metadata(path)
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                sizes[chunk.path_in_schema.split(".")[0]] += chunk.total_compressed_size
    return sizes, rows


def billed(scanned: float) -> int:
    """Athena's bill for one query: whole megabytes, 10 MB at least."""
    return max(ATHENA_MINIMUM_BYTES, math.ceil(scanned / MB) * MB)


@cache
def _sample_bytes_per_record() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sample.parquet"
        path.write_bytes(parquet_bytes(synthetic_records(FIRST_DAY, SAMPLE_PER_DAY)))
        sizes, rows = column_bytes([path])
    return {name: size / rows for name, size in sizes.items()}


def scanned_bytes(query: NamedQuery, per_record: dict[str, float], records: float) -> float:
    return sum(per_record[c] for c in columns_read(query)) * records


def athena_scan_bytes(per_day: int, days: int) -> dict[str, int]:
    """Each named query's billed Athena bytes over `days` days of `per_day` records a day: the
    columns it names, at the bytes per record of a measured sample day (SAMPLE_PER_DAY records),
    rounded up to a megabyte, 10 MB at least."""
    per_record = _sample_bytes_per_record()
    return {
        name: billed(scanned_bytes(query, per_record, per_day * days))
        for name, query in NAMED_QUERIES.items()
    }


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float
    rows: int


def _parameters(query: NamedQuery, first: str, last: str, sample: Item) -> list[str]:
    keyed = {
        "message_id": str(sample.get("messageId")),
        "sender": str(sample.get("sender")),
        "recipient": str((sample.get("recipients") or [""])[0]),
    }
    return [{"first_day": first, "last_day": last}.get(p) or keyed[p] for p in query.parameters]


def time_queries(trail: Path, first: str, last: str, repeat: int) -> tuple[Timing, list[Timing]]:
    """The baseline (count(*) over every file) and each named query: median of `repeat` runs."""
    from collector.trail import duck

    connection = duck.connect(trail)
    middle = date.fromisoformat(first) + (date.fromisoformat(last) - date.fromisoformat(first)) / 2
    sample = next(r for r in synthetic_records(middle, 200) if r.get("sender"))

    def timed(name: str, sql: str, parameters: list[str]) -> Timing:
        runs, rows = [], 0
        for _ in range(repeat):
            began = time.perf_counter()
            rows = len(duck.run(connection, sql, parameters).rows)
            runs.append(time.perf_counter() - began)
        return Timing(name, statistics.median(runs), rows)

    baseline = timed("count(*)", f"SELECT count(*) FROM {QUALIFIED_TABLE}", [])
    timings = [
        timed(name, q.sql, _parameters(q, first, last, sample)) for name, q in sorted(NAMED_QUERIES.items())
    ]
    return baseline, timings


def _mb(n: float) -> str:
    return f"{n / MB:,.1f}"


def report(per_day: int, days: int, out: Path, repeat: int) -> dict[str, Any]:
    began = time.perf_counter()
    written, writing = write_year(out, per_day, days)
    generated = time.perf_counter() - began
    first, last = FIRST_DAY.isoformat(), (FIRST_DAY + timedelta(days=days - 1)).isoformat()
    records = per_day * days
    print(
        f"wrote {records:,} records ({per_day:,} a day x {days} days) in {generated:.1f} s:"
        f" {_mb(written)} MB of Parquet, {written / records:.0f} bytes a record;"
        f" the writer alone {records / writing:,.0f} records/s"
    )
    baseline, timings = time_queries(out, first, last, repeat)
    sizes, rows = column_bytes(sorted(out.rglob("*.parquet")))
    assert rows == records, (rows, records)
    per_record = {c: s / rows for c, s in sizes.items()}
    all_columns = sum(sizes.values())
    print(
        f"\nDuckDB over all {days} days, median of {repeat};"
        f" baseline {baseline.name}: {baseline.seconds * 1000:.1f} ms"
    )
    print(f"Athena scan over all {days} days: all {len(COLUMN_NAMES)} columns = {_mb(all_columns)} MB")
    header: tuple[str, ...] = (
        "query",
        "rows",
        "DuckDB ms",
        "x baseline",
        "columns",
        "scanned MB",
        "x all columns",
    )
    lines: list[tuple[str, ...]] = []
    figures: dict[str, Any] = {"per_day": per_day, "days": days, "bytes": written, "queries": {}}
    for t in timings:
        query = NAMED_QUERIES[t.name]
        scanned = sum(sizes[c] for c in columns_read(query))
        lines.append(
            (t.name, str(t.rows), f"{t.seconds * 1000:.1f}", f"{t.seconds / baseline.seconds:.1f}",
             str(len(columns_read(query))), _mb(scanned), f"{scanned / all_columns:.3f}")
        )  # fmt: skip
        figures["queries"][t.name] = {"seconds": t.seconds, "scanned_bytes": scanned}
    _table(header, lines)

    print("\nAthena billed MB per query (columns named x days scanned; 10 MB minimum, whole MB), from the")
    print(f"bytes per record measured above; {per_day:,}/day measured, larger volumes extrapolated:")
    volumes = (per_day, *EXTRAPOLATE_PER_DAY)
    header = ("query", "records/day", *(f"{d} day{'s' if d > 1 else ''}" for d in BILL_DAYS))
    lines = [
        (name, f"{v:,}", *(f"{billed(scanned_bytes(q, per_record, v * d)) // MB:,}" for d in BILL_DAYS))
        for name, q in sorted(NAMED_QUERIES.items())
        for v in volumes
    ]
    _table(header, lines)
    return figures


def _table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(line[n]) for line in lines)) for n, h in enumerate(header)]
    for line in (header, *lines):
        print(
            "  ".join(
                cell.rjust(w) if n else cell.ljust(w)
                for n, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trail_queries", description=__doc__.split("\n")[0])
    p.add_argument("--per-day", type=int, default=PER_DAY, help=f"records a day (default {PER_DAY:,})")
    p.add_argument("--days", type=int, default=DAYS, help=f"days (default {DAYS})")
    p.add_argument("--repeat", type=int, default=3, help="runs of each query; the median is shown")
    p.add_argument("--out", type=Path, help="keep the year in this folder (default: a temporary one)")
    args = p.parse_args(argv)
    if args.per_day < 1 or args.days < 1 or args.repeat < 1:
        p.error("--per-day, --days and --repeat must be at least 1")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        report(args.per_day, args.days, args.out, args.repeat)
        return 0
    with tempfile.TemporaryDirectory(prefix="trail-bench-") as folder:
        report(args.per_day, args.days, Path(folder), args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
