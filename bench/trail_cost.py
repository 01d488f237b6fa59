"""The trail's bill: a deployment with `-c trail=true`, a hot window in DynamoDB and a year in S3.

`python -m bench.bill` prints it after the main bill, and `python -m bench.bill --json` ends with
its totals. It starts from the main bill's month for the synthesized `trail=true` stack (bench/bill.py
`month`: the same measured items, outcomes and log lines, the template's table class and alarms),
then:

* DynamoDB storage and point-in-time recovery: the hot window (the stack's `retentionDays` with the
  trail, 30 days) instead of the year the main bill keeps;
* adds the trail: S3 storage of a year of Parquet (bytes per record measured here from the trail
  writer on bench/trail_queries.py's synthetic records; an hour is written once, when it is over,
  so no replaced versions are kept), S3 requests, the exporter's DynamoDB reads (the time index,
  then each record by BatchGetItem, eventually consistent: half a read unit per record under 4 KB),
  its Lambda duration (the writer's and the item decoder's CPU measured here, scaled to its
  memory's share of a vCPU, plus the round trips it waits on, plus each hourly run's start), and
  Athena's scans for a stated number of named
  queries a month (bench/trail_queries.py's `athena_scan_bytes`: the columns each query names, at
  bytes per record measured on a sample day, 10 MB minimum per query).

The exporter runs every hour (at minute 20) and writes one object per UTC hour: each run reads
the hour that ended 20 minutes before, whose object is then final and never read again, so each
record is read once and each hour's object written once (24 PUTs a day, plus a HEAD each for its
ETag and two LISTs per day of the window a run). Athena then opens up to 24 objects a day instead
of one: a footer GET each, priced below. Glue costs nothing at this size (one table, partition
projection: no partitions stored; Athena's catalog calls stay in Glue's free million a month); the
exporter's own log lines (three a run) and the idle failure queue are under a cent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from bench import prices
from bench.billing import (
    DASHBOARDS,
    LOG_INGESTION,
    PITR,
    PLATFORM_REPORT,
    PLATFORM_START,
    STORAGE_INDEXES,
    STORAGE_TABLE,
    VCPU_MB,
    WRITES_INDEXES,
    Bill,
    Design,
    Inputs,
    index_item,
    month,
)
from bench.cost import item_size
from bench.traffic import DAYS_PER_MONTH, ORGANIZATIONS, Mix, Organization, hours_with_data, peak_hour_share
from cdk.settings import TRAIL_HOT_WINDOW_DAYS, TrailSettings
from collector.store.schema import TIME_INDEX

S3_PAGE = "https://aws.amazon.com/s3/pricing/"
ATHENA_PAGE = "https://aws.amazon.com/athena/pricing/"
S3_STORAGE = prices.Price(0.023, "GB-month (S3 Standard, first 50 TB)", S3_PAGE, "secondary (devnotes.tech)")
S3_WRITES = prices.Price(
    0.005, "1,000 PUT, COPY, POST or LIST requests", S3_PAGE, "secondary (devnotes.tech)"
)
S3_READS = prices.Price(0.0004, "1,000 GET, HEAD and other requests", S3_PAGE, "secondary (devnotes.tech)")
ATHENA_SCANS = prices.Price(
    5.00, "TB scanned (whole MB, 10 MB minimum per query)", ATHENA_PAGE, "secondary (athena.guide)"
)
TRAIL_PRICES = (
    ("S3 storage", S3_STORAGE),
    ("S3 PUT/LIST", S3_WRITES),
    ("S3 GET/HEAD", S3_READS),
    ("Athena", ATHENA_SCANS),
)

RETAINED_DAYS = 365  # "a year of the trail queryable"
HOT_DAYS = TRAIL_HOT_WINDOW_DAYS
EXPORT_DAYS = TrailSettings().export_days
RUNS_PER_DAY = 24  # the schedule: every hour at minute 20
RUN_OVERHEAD_S = 2.0  # a run's start (pyarrow's import in a cold start) and its LISTs (assumed)
EXPORTER_MB = TrailSettings().export_memory_mb
BATCH_GET_KEYS = 100
ROUND_TRIP_MS = 10.0  # one BatchGetItem of 100 records, or one 1 MB page of the index (assumed)
ROW_GROUP_ROWS = 32 * 1024  # collector.trail.writer's (not imported: pyarrow stays optional here)
# The auditor's month (assumed): each named query 10 times over the last 30 days and twice over the year.
QUERY_RUNS = ((30, 10), (365, 2))
SAMPLE_RECORDS = 20_000
TB = 1024**4
MB = 1024**2

EXPORT_READS = "Exporter: DynamoDB reads (index + BatchGetItem)"
EXPORT_LAMBDA = "Exporter: Lambda duration"
S3_STORED = f"S3: a year of Parquet ({RETAINED_DAYS} days)"
S3_REQUESTS = "S3: requests (exports, Athena's reads)"
ATHENA = "Athena: named queries"
TRAIL_LINES = (EXPORT_READS, EXPORT_LAMBDA, S3_STORED, S3_REQUESTS, ATHENA)
HOT_STORAGE_TABLE = f"DynamoDB storage: table ({HOT_DAYS}-day hot window)"
HOT_STORAGE_INDEXES = f"DynamoDB storage: indexes ({HOT_DAYS}-day hot window)"


@dataclass(frozen=True)
class Writer:
    """What the trail writer produces and spends per record, measured in this run."""

    bytes_per_record: float
    writer_us: float  # pyarrow: rows, sort, Parquet
    decode_us: float  # DynamoDB attribute values -> record (the store's decode_item)
    compression: str


@cache
def measure_writer(records: int = SAMPLE_RECORDS) -> Writer:
    from bench.trail_queries import synthetic_records
    from collector.store.dynamodb import decode_item, encode_item
    from collector.trail import writer

    items = list(synthetic_records(date(2026, 1, 1), records))
    began = time.process_time()
    data = writer.parquet_bytes(items)
    writing = time.process_time() - began
    raw = [encode_item(item) for item in items]
    began = time.process_time()
    for one in raw:
        decode_item(one)
    decoding = time.process_time() - began
    return Writer(len(data) / records, writing / records * 1e6, decoding / records * 1e6, writer.COMPRESSION)


@cache
def athena_bytes(per_day: int, days: int) -> dict[str, int]:
    from bench.trail_queries import athena_scan_bytes

    return athena_scan_bytes(per_day, days)


def trail_month(design: Design, inputs: Inputs, organization: Organization, mix: Mix, writer: Writer) -> Bill:
    """The month of a trail deployment: the main bill's, hot-windowed, plus the trail's lines."""
    bill = month(design, inputs, organization, mix)
    scale = HOT_DAYS / RETAINED_DAYS  # month() keeps RETAINED_DAYS of records in the table
    lines = dict(bill.lines)
    lines[HOT_STORAGE_TABLE] = lines.pop(STORAGE_TABLE) * scale
    lines[HOT_STORAGE_INDEXES] = lines.pop(STORAGE_INDEXES) * scale
    lines[PITR] *= scale

    per_day = organization.messages_per_day
    rates = mix.per_message(inputs.variant.enrich)
    stored = {k: inputs.kind(k).item for k in rates if k in inputs.measurement.kinds}
    records_per_day = sum(per_day * rates[k] for k, item in stored.items() if item is not None)
    record_units = sum(
        per_day * rates[k] * math.ceil(item_size(item) / 4096)
        for k, item in stored.items()
        if item is not None
    )
    index_bytes = sum(
        per_day * rates[k] * item_size(index_item(item, TIME_INDEX) or {})
        for k, item in stored.items()
        if item is not None
    )
    # Each hourly run reads the hour that ended; an hour's object written 15 minutes or more after
    # it ended is final (collector.trail_handler.FINAL_AFTER) and not read again: each record once.
    runs = DAYS_PER_MONTH * RUNS_PER_DAY
    days = DAYS_PER_MONTH
    _, read_price, _ = prices.dynamodb(design.facts.table_class)
    read_units = days * (record_units * 0.5 + math.ceil(index_bytes / 4096) * 0.5)
    lines[EXPORT_READS] = read_units * read_price.usd / 1e6

    records_read = days * records_per_day
    per_record_s = (writer.writer_us + writer.decode_us) / 1e6 * (VCPU_MB / EXPORTER_MB)
    wait_per_record_s = (1 / BATCH_GET_KEYS + index_bytes / records_per_day / MB) * ROUND_TRIP_MS / 1000
    seconds = records_read * (per_record_s + wait_per_record_s) + runs * RUN_OVERHEAD_S
    gb_seconds = seconds * EXPORTER_MB / 1024
    lines[EXPORT_LAMBDA] = (
        gb_seconds * prices.LAMBDA_ARM64_GB_SECOND.usd + runs * prices.LAMBDA_REQUESTS.usd / 1e6
    )
    peak_hour = records_per_day * 7 * peak_hour_share()

    day_bytes = records_per_day * writer.bytes_per_record
    kept = day_bytes * RETAINED_DAYS  # each hour written once: no replaced versions to keep
    lines[S3_STORED] = kept / prices.GB * S3_STORAGE.usd

    objects = hours_with_data(records_per_day * 7) / DAYS_PER_MONTH  # hours with records, a day
    puts = days * objects + runs * 2 * EXPORT_DAYS  # each hour's object; two LISTs per day a run
    heads = days * objects  # the ETag before each PUT
    gets = 0.0
    scanned = 0.0
    groups = max(1, math.ceil(records_per_day / objects / ROW_GROUP_ROWS))  # per object
    for days_read, count in QUERY_RUNS:
        billed = athena_bytes(per_day, days_read)
        scanned += count * sum(billed.values())
        # each object: its footer, then ~4 column chunks a row group
        gets += count * len(billed) * days_read * objects * (1 + groups * 4)
    lines[S3_REQUESTS] = puts / 1000 * S3_WRITES.usd + (heads + gets) / 1000 * S3_READS.usd
    lines[ATHENA] = scanned / TB * ATHENA_SCANS.usd

    trail = Bill(design, inputs.variant, organization, lines, dict(bill.details))
    trail.details.update(
        records_per_day=records_per_day,
        peak_hour_records=peak_hour,
        export_seconds_peak_hour=peak_hour * (per_record_s + wait_per_record_s) + RUN_OVERHEAD_S,
        puts_per_day=puts / days,
        parquet_gb=kept / prices.GB,
        athena_gb=scanned / prices.GB,
    )
    return trail


def without_free_dashboards(bill: Bill) -> float:
    """The issue's figure: no free tier but the dashboards' (the account's three free ones)."""
    free = min(prices.FREE_DASHBOARDS, bill.details["dashboards"]) * prices.DASHBOARDS.usd
    return bill.total - min(free, bill.lines[DASHBOARDS])


def without_time_index(bill: Bill) -> float:
    """What dropping the time index would save: its writes and storage, and the exporter's table
    reads (a stream's records reach a Lambda consumer free; the records are then written as today).
    The hot window's listings would then need another path (Athena, or a scan): not priced."""
    return bill.lines[WRITES_INDEXES] + bill.lines[HOT_STORAGE_INDEXES] + bill.lines[EXPORT_READS]


def without_platform_lines(bill: Bill) -> float:
    """Lambda's platform.start and platform.report lines, a share of the log ingestion line."""
    per_invocation = len(PLATFORM_START) + len(PLATFORM_REPORT) + 2 * prices.LOG_EVENT_OVERHEAD_BYTES
    gb = bill.details["invocations"] * per_invocation / prices.GB
    return min(bill.lines[LOG_INGESTION], gb * prices.LOG_INGESTION.usd)


def totals(bills: list[Bill]) -> dict[str, float]:
    return {str(b.organization.messages_per_day): round(without_free_dashboards(b), 2) for b in bills}


def money(value: float) -> str:
    return "0" if value == 0 else ("<0.01" if value < 0.005 else f"{value:,.2f}")


def report(main: list[Bill], trail: list[Bill], writer: Writer) -> list[str]:
    """The trail deployment's bill next to the main one's, line by line, with its assumptions."""
    out = [
        "",
        "## With the trail in S3 (`-c trail=true`; bench/trail_cost.py)",
        "",
        f"- DynamoDB keeps a {HOT_DAYS}-day hot window (TTL) in the class the template gives; S3 keeps "
        f"{RETAINED_DAYS} days of Parquet: {writer.bytes_per_record:.0f} bytes a record "
        f"({writer.compression}, measured on {SAMPLE_RECORDS:,} synthetic records); the writer "
        f"{writer.writer_us:.1f} us and the item decoder {writer.decode_us:.1f} us of CPU a record here.",
        f"- Each hourly run (minute 20) looks over {EXPORT_DAYS} days and reads the hour that ended "
        "(the earlier ones are final): each record read once, half a read unit (eventually "
        f"consistent); one object per hour with records; {ROUND_TRIP_MS:g} ms waited per BatchGetItem "
        f"of {BATCH_GET_KEYS} and per MB of index; {RUN_OVERHEAD_S:g} s a run to start; "
        f"{EXPORTER_MB} MB of memory.",
        "- Athena, a month: "
        + "; ".join(f"each named query {n} times over {d} days" for d, n in QUERY_RUNS)
        + " (bytes from bench/trail_queries.py).",
        "",
    ]
    head = "| USD per month | " + " | ".join(
        f"{m.organization.name} {label}"
        for m, t in zip(main, trail, strict=True)
        for label in ("now", "trail")
    )
    out += [head + " |", "|---|" + "---:|" * (2 * len(main))]
    names = list(dict.fromkeys([*main[0].lines, *trail[0].lines]))
    for name in names:
        cells = [money(b.lines.get(name, 0.0)) for pair in zip(main, trail, strict=True) for b in pair]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append(
        "| **total, no free tier but the dashboards'** | "
        + " | ".join(
            f"**{money(without_free_dashboards(b))}**" for pair in zip(main, trail, strict=True) for b in pair
        )
        + " |"
    )
    out.append("")
    for t in trail:
        d = t.details
        out.append(
            f"- {t.organization.name}: {d['parquet_gb']:,.1f} GB of Parquet for the year, "
            f"{d['athena_gb']:,.1f} GB scanned by Athena a month; {d['puts_per_day']:,.0f} PUTs and LISTs "
            f"a day; the busiest hour ({d['peak_hour_records']:,.0f} records) exports in "
            f"{d['export_seconds_peak_hour']:,.0f} s of Lambda "
            f"({'fits' if d['export_seconds_peak_hour'] < 900 else 'does NOT fit'} in one 15-minute run)"
        )
    out += ["", "Levers not built (what each would take off the trail deployment's total):", ""]
    for t in trail:
        index, logs = without_time_index(t), without_platform_lines(t)
        total = without_free_dashboards(t)
        out.append(
            f"- {t.organization.name}: no time index on the hot path (export from a DynamoDB stream instead, "
            f"whose reads by Lambda are free) -${index:,.2f}; no Lambda platform lines (system log level "
            f"WARN) -${logs:,.2f}; both: ${total - index - logs:,.2f}"
        )
    targets = {1_000: 4.0, 100_000: 15.0, 10_000_000: 600.0}
    out.append("")
    for t in trail:
        goal = targets.get(t.organization.messages_per_day)
        if goal is None:
            continue
        value = without_free_dashboards(t)
        out.append(
            f"- [{'x' if value <= goal else ' '}] {t.organization.name} with a year queryable: "
            f"at most ${goal:,.0f} ({'MET' if value <= goal else 'MISSED'}: ${value:,.2f})"
        )
    out += ["", "| item | price | page | basis | read |", "|---|---|---|---|---|"]
    out += [price.line(name) for name, price in TRAIL_PRICES]
    return out


def bills(design: Design, inputs: Inputs, mix: Mix) -> tuple[list[Bill], Writer]:
    writer = measure_writer()
    return [trail_month(design, inputs, o, mix, writer) for o in ORGANIZATIONS], writer


def as_json(bills_: list[Bill]) -> dict[str, Any]:
    return {"default": totals(bills_)}
