"""The trail's bill: the default deployment, a hot window in DynamoDB and a year in S3.

`python -m bench.bill` prints it after the main bill, and `python -m bench.bill --json` ends with
its totals. It starts from the main bill's month for the synthesized default stack (bench/bill.py
`month`: the same measured items, outcomes and log lines, the template's table class, alarms and
system log level), then:

* DynamoDB storage and point-in-time recovery: the hot window (the template's retention, the
  collector's COLLECTOR_RETENTION_DAYS) instead of the year the main bill keeps; a keyed 30-day
  lookup reads only the hot days from the table (the older ones are among Athena's queries);
* adds the trail: S3 storage of a year of Parquet (bytes per record measured here from the trail
  writer on bench/trail_queries.py's synthetic records; a day is written once, when it is over,
  so no replaced versions are kept), S3 requests, the exporter's DynamoDB reads (the time index,
  then each record by BatchGetItem, eventually consistent: half a read unit per record under 4 KB),
  its Lambda duration (the writer's and the item decoder's CPU measured here on one thread, plus
  the round trips it waits on, plus every hourly run's start: the handler's imports measured here in
  a fresh interpreter, and pyarrow's in a run that writes), and Athena's scans for a stated number
  of named queries a month (bench/trail_queries.py's `athena_scan_bytes`: the columns each query
  names, at bytes per record measured on a sample day, 10 MB minimum per query).

When the template pages the time index from the table's stream (bench/index_cost.py), the exporter
lists the day's pages instead of an index item per record, reads each page whole (BatchGetItem,
eventually consistent) and the records by BatchGetItem as before, and each run LISTs `late/` once
more (the markers of days paged after their export); the pages' storage is hot-windowed like the
records'.

The exporter runs every hour (at minute 20). A day is written once it is over, in parts of
PART_ROWS records (collector/trail/layout.py): one object a day up to a million records, so
Athena opens one object a day where hourly objects made it open 24 (a footer GET and the column
chunks each, priced below). Runs with nothing to write LIST the window's finished days and stop.
Glue costs nothing at this size (one table, partition projection: no partitions stored; Athena's
catalog calls stay in Glue's free million a month); the exporter's own log lines (three a run)
and the idle failure queue are under a cent.
"""

from __future__ import annotations

import math
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from bench import index_cost, prices
from bench.billing import (
    CONSUMER,
    DASHBOARDS,
    LOG_INGESTION,
    LOOKUP_DAYS,
    PAGE_STORAGE,
    PAGE_WRITES,
    PITR,
    PLATFORM_REPORT,
    PLATFORM_START,
    READS,
    STORAGE_INDEXES,
    STORAGE_TABLE,
    VCPU_MB,
    Bill,
    Design,
    Inputs,
    index_item,
    month,
)
from bench.cost import item_size
from bench.template import TemplateFacts
from bench.traffic import DAYS_PER_MONTH, ORGANIZATIONS, Mix, Organization, busiest_day_share
from collector.store.schema import TIME_INDEX
from collector.trail.layout import PART_ROWS
from collector.trail_handler import BUDGET_MARGIN

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
RUNS_PER_DAY = 24  # the schedule: every hour at minute 20
RUN_LIMIT_S = 900  # one Lambda run: 15 minutes
RUN_MARGIN_S = BUDGET_MARGIN.total_seconds()  # no part starts with less left (collector.trail_handler)
BATCH_GET_KEYS = 100
ROUND_TRIP_MS = 10.0  # one BatchGetItem of 100 records, one 1 MB page of the index, one LIST (assumed)
LAMBDA_START_S = 0.25  # the runtime's own start before the handler's imports (assumed)
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
HOT_STORAGE_TABLE = "DynamoDB storage: table (hot window)"
HOT_STORAGE_INDEXES = "DynamoDB storage: indexes (hot window)"
HOT_PAGE_STORAGE = "DynamoDB storage: index pages, table + index (hot window)"


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


@cache
def measure_starts(runs: int = 3) -> tuple[float, float]:
    """CPU seconds of a fresh interpreter that imports the exporter's handler and opens its S3
    client (an idle run: it decides from a LIST and imports no pyarrow), and what importing the
    Parquet writer adds (a run that writes). The least of a few runs: the machine's noise only adds."""
    code = (
        "import asyncio, contextlib, time\n"
        "t = time.process_time()\n"
        "import collector.trail_handler\n"
        "from collector.aws import open_client\n"
        "async def client() -> None:\n"
        "    async with contextlib.AsyncExitStack() as stack:\n"
        "        await open_client('s3', stack, region_name='us-east-1')\n"
        "asyncio.run(client())\n"
        "a = time.process_time() - t\n"
        "import collector.trail.writer\n"
        "print(a, time.process_time() - t - a)\n"
    )
    idle, writing = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        whole = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        _, pyarrow = (float(x) for x in out.split())
        idle.append(whole - pyarrow)  # the interpreter's own start, the handler's imports, its client
        writing.append(pyarrow)
    return min(idle), min(writing)


@dataclass(frozen=True)
class Exporter:
    """The exporter's month for one organization (collector/trail_handler.py's schedule)."""

    parts_per_day: int
    working_runs_per_day: int
    seconds: float  # Lambda seconds a month
    busiest_day_s: float  # the busiest day's export, run starts included
    puts: float  # PUTs and LISTs a month
    heads: float


def exporter_month(
    facts: TemplateFacts,
    records_per_day: float,
    index_bytes: float,
    writer: Writer,
    pages_per_day: float = 0.0,
    expand_us: float = 0.0,
) -> Exporter:
    """Each hourly run LISTs the finished days of its window; a day over by 15 minutes and not yet
    covered is written in parts of PART_ROWS records (whole minutes), as many as fit the run, the rest
    by the next runs. A run with nothing to write imports no pyarrow (measured here). In stream mode
    (`facts.stream`) it also reads the day's `pages_per_day` pages, BATCH_GET_KEYS a request, expands
    them (`expand_us` of CPU a record) and LISTs the late markers once a run."""
    memory = facts.export_memory_mb
    # One thread: more memory than one vCPU's worth does not make the writer faster.
    cpu_scale = max(1.0, VCPU_MB / memory)
    per_record_s = (writer.writer_us + writer.decode_us + expand_us) / 1e6 * cpu_scale
    page_requests = pages_per_day / BATCH_GET_KEYS
    wait_per_record_s = (
        (1 / BATCH_GET_KEYS + (index_bytes / MB + page_requests) / max(records_per_day, 1))
        * ROUND_TRIP_MS
        / 1000
    )
    idle_cpu, pyarrow_cpu = measure_starts()
    # the window's finished days, one LIST each, and in stream mode the late markers' prefix
    listed = max(facts.export_days - 1, 1) + (1 if facts.stream else 0)
    idle_s = LAMBDA_START_S + idle_cpu * cpu_scale + listed * ROUND_TRIP_MS / 1000
    write_start_s = pyarrow_cpu * cpu_scale
    busiest = records_per_day * 7 * busiest_day_share()
    day_work_s = busiest * (per_record_s + wait_per_record_s)
    per_run = RUN_LIMIT_S - RUN_MARGIN_S - idle_s - write_start_s  # at least this much work a run
    working = max(1, math.ceil(day_work_s / per_run))  # a day without records: one empty part
    parts = max(1, math.ceil(records_per_day / PART_ROWS))
    days = DAYS_PER_MONTH
    average_work_s = records_per_day * (per_record_s + wait_per_record_s)
    seconds = days * (RUNS_PER_DAY * idle_s + working * write_start_s + average_work_s)
    return Exporter(
        parts_per_day=parts,
        working_runs_per_day=working,
        seconds=seconds,
        busiest_day_s=idle_s + write_start_s + day_work_s,
        puts=days * (parts + RUNS_PER_DAY * listed),
        heads=days * parts,  # the ETag before each PUT
    )


def trail_month(design: Design, inputs: Inputs, organization: Organization, mix: Mix, writer: Writer) -> Bill:
    """The month of a trail deployment: the main bill's, hot-windowed, plus the trail's lines."""
    facts = design.facts
    bill = month(design, inputs, organization, mix)
    hot = facts.retention_days
    scale = hot / RETAINED_DAYS  # month() keeps RETAINED_DAYS of records in the table
    lines = dict(bill.lines)
    lines[HOT_STORAGE_TABLE] = lines.pop(STORAGE_TABLE) * scale
    lines[HOT_STORAGE_INDEXES] = lines.pop(STORAGE_INDEXES) * scale
    lines[HOT_PAGE_STORAGE] = lines.pop(PAGE_STORAGE) * scale
    lines[PITR] *= scale
    # A keyed lookup reads the hot days from the table; older days are Athena's (its line below).
    lines[READS] *= min(1.0, hot / LOOKUP_DAYS)

    per_day = organization.messages_per_day
    rates = mix.per_message(inputs.variant.enrich)
    stored = {k: inputs.kind(k).item for k in rates if k in inputs.measurement.kinds}
    records_per_day = sum(per_day * rates[k] for k, item in stored.items() if item is not None)
    record_units = sum(
        per_day * rates[k] * math.ceil(item_size(item) / 4096)
        for k, item in stored.items()
        if item is not None
    )
    days = DAYS_PER_MONTH
    consumer = bill.consumer
    pages_per_day = page_units = expand_us = 0.0
    if consumer is not None:  # the index lists the day's pages; each is read whole
        index_bytes = consumer.total("index_item_bytes") / days
        pages_per_day = consumer.total("pages") / days
        page_units = consumer.total("read_units") / days
        expand_us = consumer.expand_us_per_entry
    else:
        index_bytes = sum(
            per_day * rates[k] * item_size(index_item(item, TIME_INDEX) or {})
            for k, item in stored.items()
            if item is not None
        )
    # Each record is read once: a day is written when it is over, and a whole day is not read again.
    _, read_price, _ = prices.dynamodb(facts.table_class)
    read_units = days * (record_units * 0.5 + math.ceil(index_bytes / 4096) * 0.5 + page_units)
    lines[EXPORT_READS] = read_units * read_price.usd / 1e6

    run = exporter_month(facts, records_per_day, index_bytes, writer, pages_per_day, expand_us)
    gb_seconds = run.seconds * facts.export_memory_mb / 1024
    lines[EXPORT_LAMBDA] = (
        gb_seconds * prices.LAMBDA_ARM64_GB_SECOND.usd
        + days * RUNS_PER_DAY * prices.LAMBDA_REQUESTS.usd / 1e6
    )

    day_bytes = records_per_day * writer.bytes_per_record
    kept = day_bytes * RETAINED_DAYS  # each part written once, when its day is over: no old versions
    lines[S3_STORED] = kept / prices.GB * S3_STORAGE.usd

    objects = run.parts_per_day
    gets = 0.0
    scanned = 0.0
    groups = max(1, math.ceil(records_per_day / max(objects, 1) / ROW_GROUP_ROWS))  # per object
    for days_read, count in QUERY_RUNS:
        billed = athena_bytes(per_day, days_read)
        scanned += count * sum(billed.values())
        # each object: its footer, then ~4 column chunks a row group
        gets += count * len(billed) * days_read * objects * (1 + groups * 4)
    lines[S3_REQUESTS] = run.puts / 1000 * S3_WRITES.usd + (run.heads + gets) / 1000 * S3_READS.usd
    lines[ATHENA] = scanned / TB * ATHENA_SCANS.usd

    trail = Bill(design, inputs.variant, organization, lines, dict(bill.details), bill.consumer)
    trail.details.update(
        records_per_day=records_per_day,
        busiest_day_records=records_per_day * 7 * busiest_day_share(),
        busiest_day_s=run.busiest_day_s,
        working_runs=run.working_runs_per_day,
        parts_per_day=objects,
        puts_per_day=run.puts / days,
        parquet_gb=kept / prices.GB,
        athena_gb=scanned / prices.GB,
        hot_days=hot,
    )
    return trail


def without_free_dashboards(bill: Bill) -> float:
    """The issue's figure: no free tier but the dashboards' (the account's three free ones)."""
    free = min(prices.FREE_DASHBOARDS, bill.details["dashboards"]) * prices.DASHBOARDS.usd
    return bill.total - min(free, bill.lines[DASHBOARDS])


def without_platform_lines(bill: Bill) -> float:
    """Lambda's platform.start and platform.report lines, a share of the log ingestion line (none
    when the template's system log level already leaves them out)."""
    if not bill.design.facts.platform_lines:
        return 0.0
    per_invocation = len(PLATFORM_START) + len(PLATFORM_REPORT) + 2 * prices.LOG_EVENT_OVERHEAD_BYTES
    gb = bill.details["invocations"] * per_invocation / prices.GB
    return min(bill.lines[LOG_INGESTION], gb * prices.LOG_INGESTION.usd)


def consumer_notes(trail: list[Bill]) -> list[str]:
    """The time index as the template builds it: paged from the table's stream (the index
    consumer's figures, bench/index_cost.py), or written per record by the hot path."""
    if not trail[0].design.facts.stream:
        return [
            "",
            "The template writes the time index per record (the collector's COLLECTOR_TIME_INDEX is not "
            "`stream`): `python -m bench.bill --time-index stream` prices it paged from the table's stream.",
        ]
    facts = trail[0].design.facts
    first = trail[0].consumer
    assert first is not None
    out = [
        "",
        "The time index is paged from the table's stream (the collector's COLLECTOR_TIME_INDEX=stream): "
        "each record is written once, with no index entry; the index consumer "
        f"({facts.index_memory_mb} MB, batches of up to {facts.index_batch_size:,} stream records gathered "
        f"for up to {facts.index_batch_window_s} s) writes page items (bench/index_cost.py, pages built "
        f"here from the measured items). A stream record is {first.record_bytes:,.0f} bytes in Lambda's "
        f"event, so 6 MB hold {first.payload_records:,}; every record reaches it once, as its INSERT (the "
        f"mapping's filter drops the REMOVE when TTL deletes it); the consumer's CPU is "
        f"{first.cpu_us_per_record:.1f} us a stream record here (parse, decode, changes_of, build_pages, "
        f"encode) and {first.invocation_cpu_ms:.2f} ms a warm batch (its loop and DynamoDB client kept "
        "by the container; their opening is in INIT), "
        f"x {VCPU_MB / facts.index_memory_mb:.1f} for its share of a vCPU, plus "
        f"{index_cost.WRITE_ROUND_TRIP_MS:g} ms a BatchWriteItem of {index_cost.BATCH_WRITE_ITEMS} pages. "
        "The exporter and the keyed lookups list the pages and read each whole (BatchGetItem, eventually "
        f"consistent); expanding them costs the exporter {first.expand_us_per_entry:.1f} us of CPU a record "
        "here.",
        "",
    ]
    for t in trail:
        c = t.consumer
        assert c is not None
        entries = c.total("entries")
        units = c.total("table_units") + c.total("index_units")
        hot_gb = t.details["page_gb"] * t.details["hot_days"] / RETAINED_DAYS
        hours = []
        for label, hour in (("busiest hour", c.busiest()), ("an hour at the week's average rate", c.mean)):
            b = hour.batch
            every = 3600 / hour.batches if hour.batches else 0.0
            hours.append(
                f"{label}: {b.records:,.1f} stream records a batch, one every {every:,.0f} s, "
                f"{b.pages:,.1f} pages of {b.entries / max(b.pages, 1):,.0f} entries "
                f"({b.table_units / max(b.pages, 1):,.1f} write units each + 1 in the index), "
                f"{hour.billed_ms:,} ms billed"
            )
        out.append(
            f"- {t.organization.name}: {c.batches:,.0f} batches a month ({'; '.join(hours)}); "
            f"{units:,.0f} page write units a month for {entries:,.0f} entries "
            f"({units / max(entries, 1):.3f} a record, against 1 per record in the index); "
            f"{hot_gb:,.2f} GB of pages in the hot window; "
            f"the consumer's line ${t.lines[CONSUMER]:,.2f}, page writes ${t.lines[PAGE_WRITES]:,.2f}"
        )
    return out


def totals(bills: list[Bill]) -> dict[str, float]:
    return {str(b.organization.messages_per_day): round(without_free_dashboards(b), 2) for b in bills}


def money(value: float) -> str:
    return "0" if value == 0 else ("<0.01" if value < 0.005 else f"{value:,.2f}")


def report(main: list[Bill], trail: list[Bill], writer: Writer) -> list[str]:
    """The default deployment's bill next to the whole year in DynamoDB (`trail=false`), line by
    line, with its assumptions."""
    idle_cpu, pyarrow_cpu = measure_starts()
    out = [
        "",
        "## With the trail in S3 (bench/trail_cost.py)",
        "",
        f"- DynamoDB keeps a {trail[0].details['hot_days']}-day hot window (TTL) in the class the template "
        f"gives; S3 keeps {RETAINED_DAYS} days of Parquet: {writer.bytes_per_record:.0f} bytes a record "
        f"({writer.compression}, measured on {SAMPLE_RECORDS:,} synthetic records); the writer "
        f"{writer.writer_us:.1f} us and the item decoder {writer.decode_us:.1f} us of CPU a record here.",
        f"- Each hourly run (minute 20) LISTs the finished days of its window; a day over and not yet "
        f"written is read once (half a read unit a record, eventually consistent) and written in parts of "
        f"{PART_ROWS:,} records, as many as a run starts with {RUN_MARGIN_S:.0f} s of its {RUN_LIMIT_S} s "
        f"left, the rest by the next runs; {ROUND_TRIP_MS:g} ms waited per BatchGetItem of "
        f"{BATCH_GET_KEYS}, per MB of index and per LIST; a run's start: {LAMBDA_START_S:g} s of runtime "
        f"(assumed) and the handler's imports and S3 client ({idle_cpu * 1000:.0f} ms of CPU here), "
        f"plus pyarrow's ({pyarrow_cpu * 1000:.0f} ms here) in a run that writes; the writer on one thread "
        f"({trail[0].design.facts.export_memory_mb} MB of memory).",
        "- Athena, a month: "
        + "; ".join(f"each named query {n} times over {d} days" for d, n in QUERY_RUNS)
        + " (bytes from bench/trail_queries.py).",
        "",
    ]
    head = "| USD per month | " + " | ".join(
        f"{m.organization.name} {label}"
        for m, t in zip(main, trail, strict=True)
        for label in ("trail=false", "default")
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
            f"- {t.organization.name}: {d['parquet_gb']:,.1f} GB of Parquet for the year in "
            f"{d['parts_per_day']} object(s) a day, {d['athena_gb']:,.1f} GB scanned by Athena a month; "
            f"{d['puts_per_day']:,.0f} PUTs and LISTs a day; the busiest day "
            f"({d['busiest_day_records']:,.0f} records) exports in {d['busiest_day_s']:,.0f} s of Lambda "
            f"over {d['working_runs']} run(s)"
        )
    out += consumer_notes(trail)
    levers = [(t, without_platform_lines(t)) for t in trail]
    if any(logs for _, logs in levers):
        out += ["", "Levers not built (what each would take off the default deployment's total):", ""]
        for t, logs in levers:
            total = without_free_dashboards(t)
            out.append(
                f"- {t.organization.name}: no Lambda platform lines (system log level WARN) -${logs:,.2f}: "
                f"${total - logs:,.2f}"
            )
    targets = {1_000: 4.0, 100_000: 15.0, 10_000_000: 600.0}
    out.append("")
    for t in trail:
        goal = targets.get(t.organization.messages_per_day)
        if goal is None:
            continue
        value = without_free_dashboards(t)
        out.append(
            f"- [{'x' if value <= goal else ' '}] {t.organization.name}, default, with a year queryable: "
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
