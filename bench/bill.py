"""What an organization pays per month for a deployed collector, every line of the bill, before and after.

`python -m bench.bill` (also printed by `python -m bench`, i.e. `bash scripts/bench.sh`):

1. measures, in this run, what the collector emits and stores for each kind of delivery
   (bench/emitted.py: the real pipeline against DynamoDB Local), its CPU per warm invocation and a
   cold start in a fresh process;
2. synthesizes the stack (bench/template.py) and counts what it bills by itself: alarm metrics,
   dashboards, keys, secrets, the table's indexes, the function's memory and system log level;
3. prices a month for three organizations (bench/traffic.py: sizes, the mix of deliveries, the
   hours mail flows) with the list prices of bench/prices.py.

"before" is the reference design of commit 5a284cb (bench/template.py's BEFORE; three ALL-projection
indexes; every metric, zeros included, under [Service] and [Service, FlowDirection] in every
document), applied to the same measured items and outcomes; "after" is this version.

Model assumptions beyond the traffic (each printed with the bill):
* Lambda duration: the measured handler CPU scaled to the function's share of a vCPU (one full
  vCPU at 1,769 MB, Lambda Developer Guide) plus one DynamoDB round trip (and one message-flow
  read with enrichment) spent waiting; INIT is billed like duration since 2025-08-01.
* Cold starts: an invocation finds no warm container after an idle gap of 10 minutes, and each
  busy container is replaced every 2 hours (observed behaviour, not documented).
* Custom metrics: billed per metric-hour with data (the CloudWatch pricing page's rule: charges
  are prorated by the hour and metered only when a metric is sent; its verbatim sentence could not
  be retrieved, so the un-prorated upper bound is printed too).
* Storage: steady state at the retention setting; the archived log size is the gzip size of the
  measured log lines.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import prices
from bench.cost import item_size, query_read_units, wru
from bench.emitted import DEFAULT, ENRICHMENT, VARIANTS, Emitted, Measurement, Series, Variant
from bench.template import TemplateFacts
from bench.traffic import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    HOURS_PER_WEEK,
    ORGANIZATIONS,
    PROFILE,
    Mix,
    Organization,
    hours_with_data,
    peak_hour_share,
)
from collector.metrics import catalog_for, features_for
from collector.store.schema import DAY_SHARDS, SHARD_ATTRIBUTE, IndexSpec

VCPU_MB = 1769  # "At 1,769 MB, a function has the equivalent of one vCPU" (Lambda Developer Guide)
DYNAMODB_ROUND_TRIP_MS = 5.0  # one PutItem in the region, waited on (assumed)
MESSAGE_FLOW_READ_MS = 60.0  # one GetRawMessageContent of a typical message (assumed)
IDLE_MINUTES = 10.0
CONTAINER_HOURS = 2.0
RETENTION_DAYS = 365  # the stack's default retentionDays
KEYED_LOOKUPS_PER_MONTH = 10  # `audit query --sender/--message-id`, 30 days back each
LOOKUP_DAYS = 30
TIME_INDEX_KEYS = ("receivedDay", SHARD_ATTRIBUTE)  # a time index's partition key: one day, or a shard
NEW_KINDS = ("inbound", "outbound", "unknown", "truncated", "attachments", "auth_failure", "not_found")
STORED_KINDS = (*NEW_KINDS, "invalid")

# Lambda's platform lines in the JSON log format (Lambda Developer Guide, telemetry schema),
# written for every invocation at the INFO system log level, with real-length values.
REQUEST_ID = "2f4b9c1e-8d3a-4e6f-9b7c-0a1d2e3f4a5b"
PLATFORM_START = (
    '{"time":"2026-11-22T10:00:00.000Z","type":"platform.start",'
    f'"record":{{"requestId":"{REQUEST_ID}","version":"$LATEST"}}}}'
)
PLATFORM_REPORT = (
    '{"time":"2026-11-22T10:00:00.014Z","type":"platform.report",'
    f'"record":{{"requestId":"{REQUEST_ID}","metrics":{{"durationMs":13.482,"billedDurationMs":14,'
    '"memorySizeMB":256,"maxMemoryUsedMB":78},"status":"success"}}'
)
PLATFORM_INIT_START = (
    '{"time":"2026-11-22T09:59:58.800Z","type":"platform.initStart","record":{"initializationType":'
    '"on-demand","phase":"init","runtimeVersion":"python:3.13.v40","runtimeVersionArn":'
    '"arn:aws:lambda:us-east-1::runtime:0f6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",'
    '"functionName":"WorkMailCollector-Function76856677-AbCdEfGhIjKl","functionVersion":"$LATEST"}}'
)
COLD_REPORT_EXTRA = ',"initDurationMs":1234.567'


@dataclass(frozen=True)
class Design:
    name: str
    facts: TemplateFacts
    legacy_emf: bool


@dataclass(frozen=True)
class Inputs:
    """What this run measured for one deployment variant."""

    measurement: Measurement
    cold_cpu_ms: float

    @property
    def variant(self) -> Variant:
        return self.measurement.variant

    def kind(self, name: str) -> Emitted:
        return self.measurement.kinds[name]


# --- the reference design's EMF (commit 5a284cb), rebuilt from the same outcome ---------------------


def legacy_document(document: dict[str, Any], direction: str, features: frozenset[str]) -> dict[str, Any]:
    """The document 5a284cb wrote for the outcome `document` reports: every catalog metric (zeros
    included) in one directive with the dimension sets [Service] and [Service, FlowDirection], every
    unit, no Source. tests/test_cost_emf.py checks it against a line the old code wrote."""
    body: dict[str, Any] = {"Service": document["Service"], "FlowDirection": direction}
    for key in ("invocationId", "status", "messageId", "requestId"):
        if key in document:
            body[key] = document[key]
    specs = catalog_for(features)
    for spec in specs:
        body[spec.name] = document.get(spec.name, 0)
    namespace = document["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    body["_aws"] = {
        "Timestamp": document["_aws"]["Timestamp"],
        "CloudWatchMetrics": [
            {
                "Namespace": namespace,
                "Dimensions": [["Service"], ["Service", "FlowDirection"]],
                "Metrics": [{"Name": s.name, "Unit": s.unit} for s in specs],
            }
        ],
    }
    return body


def legacy_line(emitted: Emitted, features: frozenset[str]) -> str:
    document = legacy_document(json.loads(emitted.emf_line), emitted.direction, features)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def emf_bytes(design: Design, emitted: Emitted, features: frozenset[str]) -> int:
    if not design.legacy_emf:
        return emitted.emf_bytes
    return len(legacy_line(emitted, features).encode())


def series(design: Design, emitted: Emitted, features: frozenset[str]) -> frozenset[Series]:
    if not design.legacy_emf:
        return emitted.series
    from bench.emitted import series_of

    return series_of(json.loads(legacy_line(emitted, features)))


# --- DynamoDB item sizes per index -------------------------------------------------------------------


def index_item(
    item: dict[str, Any], index: IndexSpec, table_key: str = "invocationId"
) -> dict[str, Any] | None:
    """The item's copy in one index (None if it lacks the index's keys): ALL copies the whole item;
    INCLUDE keeps the table key, the index keys and the projected attributes."""
    if index.partition_key not in item or (index.sort_key and index.sort_key not in item):
        return None
    if index.projection is None:
        return item
    kept = {table_key, index.partition_key, index.sort_key, *index.projection}
    return {k: v for k, v in item.items() if k in kept}


def as_stored(item: dict[str, Any], indexes: tuple[IndexSpec, ...]) -> dict[str, Any]:
    """The measured item as a design stores it: the time-index shard only where an index keys on it
    (the reference design before it had none)."""
    if any(index.partition_key == SHARD_ATTRIBUTE for index in indexes):
        return item
    return {k: v for k, v in item.items() if k != SHARD_ATTRIBUTE}


def write_units(item: dict[str, Any], indexes: tuple[IndexSpec, ...]) -> int:
    """A new item's write units: one per started KB on the table, and on each index it appears in."""
    item = as_stored(item, indexes)
    copies = [index_item(item, index) for index in indexes]
    return wru(item_size(item)) + sum(wru(item_size(c)) for c in copies if c is not None)


def stored_bytes(item: dict[str, Any], indexes: tuple[IndexSpec, ...]) -> tuple[int, int]:
    """(table bytes, index bytes) one item occupies, with DynamoDB's 100 bytes per item and index item."""
    overhead = prices.ITEM_STORAGE_OVERHEAD_BYTES
    item = as_stored(item, indexes)
    copies = [index_item(item, index) for index in indexes]
    return item_size(item) + overhead, sum(item_size(c) + overhead for c in copies if c is not None)


# --- the bill ----------------------------------------------------------------------------------------

REQUESTS = "Lambda requests"
DURATION = "Lambda duration"
INIT = "Lambda INIT (cold starts)"
WRITES_TABLE = "DynamoDB writes: table"
WRITES_INDEXES = "DynamoDB writes: indexes"
READS = f"DynamoDB reads ({KEYED_LOOKUPS_PER_MONTH} keyed {LOOKUP_DAYS}-day lookups)"
STORAGE_TABLE = f"DynamoDB storage: table ({RETENTION_DAYS} days)"
STORAGE_INDEXES = f"DynamoDB storage: indexes ({RETENTION_DAYS} days)"
PITR = "DynamoDB point-in-time recovery"
METRICS = "CloudWatch custom metrics (hourly proration)"
ALARMS = "CloudWatch alarms"
DASHBOARDS = "CloudWatch dashboards"
LOG_INGESTION = "CloudWatch Logs ingestion"
LOG_STORAGE = "CloudWatch Logs storage"
KMS = "KMS key (alarm topic)"
SECRETS = "Secrets Manager (redaction key)"
SQS = "SQS (failure queue, idle)"
LINES = (
    REQUESTS,
    DURATION,
    INIT,
    WRITES_TABLE,
    WRITES_INDEXES,
    READS,
    STORAGE_TABLE,
    STORAGE_INDEXES,
    PITR,
    METRICS,
    ALARMS,
    DASHBOARDS,
    LOG_INGESTION,
    LOG_STORAGE,
    KMS,
    SECRETS,
    SQS,
)


@dataclass
class Bill:
    design: Design
    variant: Variant
    organization: Organization
    lines: dict[str, float] = field(default_factory=dict)
    details: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())

    @property
    def free_tier(self) -> float:
        """CloudWatch's always-free allowance, for an account that uses none of it elsewhere."""
        d = self.details
        return (
            min(prices.FREE_CUSTOM_METRICS, d["metric_months"]) * prices.CUSTOM_METRICS.usd
            + min(prices.FREE_ALARM_METRICS, d["alarm_metrics"]) * prices.ALARM_METRICS.usd
            + min(prices.FREE_DASHBOARDS, d["dashboards"]) * prices.DASHBOARDS.usd
            + min(prices.FREE_LOG_GB, d["log_gb"]) * prices.LOG_INGESTION.usd
        )


def cold_starts_per_month(invocations_per_week: float, billed_seconds: float) -> float:
    """Cold starts: arrivals after an idle gap, plus the periodic replacement of busy containers."""
    per_week = 0.0
    for share in PROFILE:
        arrivals = invocations_per_week * share
        if arrivals <= 0:
            continue
        idle = arrivals * math.exp(-arrivals / 60 * IDLE_MINUTES)
        containers = max(1.0, arrivals * billed_seconds / 3600)
        per_week += idle + containers / CONTAINER_HOURS
    return per_week * HOURS_PER_MONTH / HOURS_PER_WEEK


def month(design: Design, inputs: Inputs, organization: Organization, mix: Mix) -> Bill:
    variant = inputs.variant
    features = features_for(variant.enrich)
    facts = design.facts
    bill = Bill(design, variant, organization)
    messages = organization.messages_per_day * DAYS_PER_MONTH
    rates = {k: v for k, v in mix.per_message(variant.enrich).items() if k in inputs.measurement.kinds}
    invocations = messages * sum(rates.values())
    per = {k: messages * r for k, r in rates.items()}  # deliveries of each kind per month

    # Lambda
    scale = VCPU_MB / facts.memory_mb
    waiting = DYNAMODB_ROUND_TRIP_MS + (MESSAGE_FLOW_READ_MS if variant.enrich else 0.0)
    billed_ms = math.ceil(inputs.measurement.warm_cpu_ms * scale + waiting)
    gb = facts.memory_mb / 1024
    cold = cold_starts_per_month(invocations / DAYS_PER_MONTH * 7, billed_ms / 1000)
    init_ms = math.ceil(inputs.cold_cpu_ms * scale)
    bill.lines[REQUESTS] = invocations * prices.LAMBDA_REQUESTS.usd / 1e6
    bill.lines[DURATION] = invocations * billed_ms / 1000 * gb * prices.LAMBDA_ARM64_GB_SECOND.usd
    bill.lines[INIT] = cold * init_ms / 1000 * gb * prices.LAMBDA_ARM64_GB_SECOND.usd

    # DynamoDB
    table_units = index_units = 0.0
    table_bytes = index_bytes = 0.0
    for kind, count in per.items():
        emitted = inputs.kind(kind)
        if emitted.item is not None:
            item_units = write_units(emitted.item, facts.indexes)
            table_units += count * wru(item_size(emitted.item))
            index_units += count * (item_units - wru(item_size(emitted.item)))
            t, i = stored_bytes(emitted.item, facts.indexes)
            table_bytes += count * t
            index_bytes += count * i
        elif emitted.existing_item is not None:  # a failed condition: the stored item's size, table only
            table_units += count * wru(item_size(emitted.existing_item))
    retained_days = RETENTION_DAYS
    stored_table_gb = table_bytes / DAYS_PER_MONTH * retained_days / prices.GB
    stored_index_gb = index_bytes / DAYS_PER_MONTH * retained_days / prices.GB
    writes, reads, storage = prices.dynamodb(facts.table_class)
    bill.lines[WRITES_TABLE] = table_units * writes.usd / 1e6
    bill.lines[WRITES_INDEXES] = index_units * writes.usd / 1e6
    lookups = KEYED_LOOKUPS_PER_MONTH * lookup_read_units(design, inputs, organization, mix)
    bill.lines[READS] = lookups * reads.usd / 1e6
    bill.lines[STORAGE_TABLE] = stored_table_gb * storage.usd
    bill.lines[STORAGE_INDEXES] = stored_index_gb * storage.usd
    bill.lines[PITR] = stored_table_gb * prices.DYNAMODB_PITR.usd if facts.point_in_time_recovery else 0.0

    # CloudWatch metrics, alarms, dashboards
    per_series: dict[Series, float] = {}
    for kind, count in per.items():
        for one in series(design, inputs.kind(kind), features):
            per_series[one] = per_series.get(one, 0.0) + count / DAYS_PER_MONTH * 7
    metric_months = sum(hours_with_data(per_week) for per_week in per_series.values()) / HOURS_PER_MONTH
    bill.lines[METRICS] = metric_months * prices.CUSTOM_METRICS.usd
    bill.lines[ALARMS] = (
        facts.alarm_metrics * prices.ALARM_METRICS.usd
        + facts.high_resolution_alarm_metrics * prices.HIGH_RESOLUTION_ALARM_METRICS.usd
        + facts.composite_alarms * prices.COMPOSITE_ALARMS.usd
    )
    bill.lines[DASHBOARDS] = facts.dashboards * prices.DASHBOARDS.usd

    # CloudWatch Logs: EMF, the function's own lines, Lambda's platform lines
    overhead = prices.LOG_EVENT_OVERHEAD_BYTES
    log_bytes = 0.0
    for kind, count in per.items():
        emitted = inputs.kind(kind)
        own = sum(len(line.encode()) + overhead for line in emitted.log_lines)
        log_bytes += count * (emf_bytes(design, emitted, features) + overhead + own)
    if facts.platform_lines:
        log_bytes += invocations * (len(PLATFORM_START) + len(PLATFORM_REPORT) + 2 * overhead)
        log_bytes += cold * (len(PLATFORM_INIT_START) + overhead + len(COLD_REPORT_EXTRA))
    log_gb = log_bytes / prices.GB
    compression = compression_ratio(design, inputs, features)
    bill.lines[LOG_INGESTION] = log_gb * prices.LOG_INGESTION.usd
    bill.lines[LOG_STORAGE] = (
        log_gb * compression * facts.log_retention_days / DAYS_PER_MONTH * prices.LOG_STORAGE.usd
    )

    # Keys, secrets, queue
    bill.lines[KMS] = facts.kms_keys * prices.KMS_KEYS.usd
    secret_reads = cold if facts.secrets else 0.0  # the key is read once per container
    bill.lines[SECRETS] = facts.secrets * prices.SECRETS.usd + secret_reads / 10_000 * prices.SECRETS_API.usd
    bill.lines[SQS] = 0.0  # only failed events reach it; nothing polls it

    new = sum(count for kind, count in per.items() if kind in NEW_KINDS)
    bill.details = {
        "invocations": invocations,
        "billed_ms": billed_ms,
        "init_ms": init_ms,
        "cold_starts": cold,
        "write_units_per_new_message": sum(
            per[k] * write_units(inputs.kind(k).item or {}, facts.indexes) for k in per if k in NEW_KINDS
        )
        / new,
        "metric_months": metric_months,
        "metric_series": len(per_series),
        "alarm_metrics": facts.alarm_metrics,
        "dashboards": facts.dashboards,
        "log_gb": log_gb,
        "stored_gb": stored_table_gb + stored_index_gb,
        "compression": compression,
    }
    return bill


def lookup_read_units(design: Design, inputs: Inputs, organization: Organization, mix: Mix) -> float:
    """Read units of one keyed lookup over LOOKUP_DAYS days. With a sender or message-ID index it
    reads only the matches (about one unit); on the time index a filtered query reads every index
    item of each day (DynamoDB bills what it reads, not what the filter keeps)."""
    time_index = next((i for i in design.facts.indexes if i.partition_key in TIME_INDEX_KEYS), None)
    keyed = any(i.partition_key in ("sender", "messageId") for i in design.facts.indexes)
    if keyed or time_index is None:
        return 1.0
    rates = mix.per_message(inputs.variant.enrich)
    per_message = sum(
        rates[k] * item_size(index_item(inputs.kind(k).item or {}, time_index) or {})
        for k in STORED_KINDS
        if k in inputs.measurement.kinds and k in rates
    )
    day_bytes = organization.messages_per_day * per_message
    return LOOKUP_DAYS * query_read_units(day_bytes)


def compression_ratio(design: Design, inputs: Inputs, features: frozenset[str]) -> float:
    """gzip size / raw size of a log stream: the warm run's EMF lines with Lambda's platform lines."""
    lines = inputs.measurement.mix_lines
    if design.legacy_emf:
        documents = [json.loads(line) for line in lines]
        lines = [
            json.dumps(legacy_document(d, d["FlowDirection"], features), separators=(",", ":"))
            for d in documents
        ]
    stream = "".join(f"{PLATFORM_START}\n{line}\n{PLATFORM_REPORT}\n" for line in lines).encode()
    return len(gzip.compress(stream)) / len(stream)


# --- printing ----------------------------------------------------------------------------------------


def money(value: float) -> str:
    if value == 0:
        return "0"
    if value < 0.005:
        return "<0.01"
    return f"{value:,.2f}"


def bill_table(bills: list[Bill]) -> list[str]:
    """One column per (organization, design), one row per line of the bill."""
    head = "| USD per month | " + " | ".join(f"{b.organization.name} {b.design.name}" for b in bills) + " |"
    rows = [head, "|---|" + "---:|" * len(bills)]
    for line in LINES:
        rows.append(f"| {line} | " + " | ".join(money(b.lines[line]) for b in bills) + " |")
    rows.append("| **total, no free tier** | " + " | ".join(f"**{money(b.total)}**" for b in bills) + " |")
    rows.append(
        "| total if the account's CloudWatch free tier is unused | "
        + " | ".join(money(b.total - b.free_tier) for b in bills)
        + " |"
    )
    rows.append(
        "| custom metrics without proration (upper bound) | "
        + " | ".join(money(b.details["metric_series"] * prices.CUSTOM_METRICS.usd) for b in bills)
        + " |"
    )
    return rows


def dominant(bill: Bill, count: int = 2) -> str:
    ranked = sorted(bill.lines.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"{name} {value / bill.total:.0%}" for name, value in ranked)


@dataclass
class Report:
    bills: dict[tuple[str, str, str], Bill]  # (variant, organization, design)
    inputs: dict[str, Inputs]
    designs: tuple[Design, Design]
    mix: Mix

    def bill(self, variant: Variant, organization: Organization, design: Design) -> Bill:
        return self.bills[(variant.name, organization.name, design.name)]


def build(inputs: dict[str, Inputs], designs: Callable[[Variant], tuple[Design, Design]], mix: Mix) -> Report:
    bills = {}
    pair: tuple[Design, Design] | None = None
    for variant in VARIANTS:
        if variant.name not in inputs:
            continue
        pair = designs(variant)
        for organization in ORGANIZATIONS:
            for design in pair:
                bills[(variant.name, organization.name, design.name)] = month(
                    design, inputs[variant.name], organization, mix
                )
    assert pair is not None
    return Report(bills, inputs, pair, mix)


def targets(report: Report) -> list[tuple[str, bool, str]]:
    before, after = report.designs
    small, medium = ORGANIZATIONS[0], ORGANIZATIONS[1]
    default = report.inputs[DEFAULT.name]
    out = []
    small_bill = report.bill(DEFAULT, small, after)
    dashboards = small_bill.lines[DASHBOARDS]
    out.append(
        (
            "1,000/day, default: at most $5 a month, with its dashboards among the account's 3 free ones",
            small_bill.total - dashboards <= 5.0,
            f"${small_bill.total - dashboards:.2f}, no other free tier; ${small_bill.total:.2f} if the "
            f"account's free dashboards are used up (${dashboards:.2f} of it for the dashboards); "
            f"${small_bill.total - small_bill.free_tier:.2f} with all of CloudWatch's free tier",
        )
    )
    b, a = report.bill(DEFAULT, medium, before), report.bill(DEFAULT, medium, after)
    out.append(
        (
            "100,000/day, default: at most half of before",
            a.total <= b.total / 2,
            f"${a.total:.2f} vs ${b.total:.2f} ({a.total / b.total:.2f}x)",
        )
    )
    distinct = set().union(*(e.series for e in default.measurement.kinds.values()))
    out.append(
        (
            "custom metrics, default, all three directions: at most 12",
            len(distinct) <= 12,
            f"{len(distinct)} (before: 24)",
        )
    )
    if ENRICHMENT.name in report.inputs:
        enriched = set().union(*(e.series for e in report.inputs[ENRICHMENT.name].measurement.kinds.values()))
        out.append(
            (
                "custom metrics with enrichment: at most 26 (12/24 of 52)",
                len(enriched) <= 26,
                f"{len(enriched)} (before: 52)",
            )
        )
    inbound = default.kind("inbound").item or {}
    units = write_units(inbound, after.facts.indexes)
    table, indexes = stored_bytes(inbound, after.facts.indexes)
    ratio = (table + indexes) / table
    out.append(
        (
            "write units per new event: at most 2",
            units <= 2,
            f"{units} (before: {write_units(inbound, before.facts.indexes)})",
        )
    )
    out.append(
        (
            "stored bytes per message: at most 1.5x the base item's",
            ratio <= 1.5,
            f"{ratio:.2f}x ({table + indexes} B stored in all for {table} B in the table; DynamoDB's "
            "100 B per item and per index item included)",
        )
    )
    return out


def inputs_table(report: Report) -> list[str]:
    """The measured figures each bill is built from, per variant and design."""
    before, after = report.designs
    rows = [
        "| measured (this run) | "
        + " | ".join(f"{v} {d.name}" for v in report.inputs for d in (before, after))
        + " |",
        "|---|" + "---:|" * (2 * len(report.inputs)),
    ]

    def cell(fn: Callable[[Inputs, Design], str]) -> str:
        return " | ".join(fn(report.inputs[v], d) for v in report.inputs for d in (before, after))

    def emf(kind: str) -> Callable[[Inputs, Design], str]:
        return lambda i, d: str(emf_bytes(d, i.kind(kind), features_for(i.variant.enrich)))

    def custom(i: Inputs, d: Design) -> str:
        features = features_for(i.variant.enrich)
        return str(len(set().union(*(series(d, e, features) for e in i.measurement.kinds.values()))))

    rows.append("| EMF bytes, new inbound message | " + cell(emf("inbound")) + " |")
    rows.append("| EMF bytes, redelivery | " + cell(emf("duplicate")) + " |")
    rows.append("| custom metrics, every kind seen | " + cell(custom) + " |")
    rows.append(
        "| audit item (B, DynamoDB's size rule) | "
        + cell(lambda i, d: str(item_size(i.kind("inbound").item or {})))
        + " |"
    )
    rows.append(
        "| write units per new message | "
        + cell(lambda i, d: str(write_units(i.kind("inbound").item or {}, d.facts.indexes)))
        + " |"
    )
    rows.append(
        "| bytes stored per message (table + indexes) | "
        + cell(lambda i, d: str(sum(stored_bytes(i.kind("inbound").item or {}, d.facts.indexes))))
        + " |"
    )
    rows.append(
        "| handler CPU per warm invocation (ms, here) | "
        + cell(lambda i, d: f"{i.measurement.warm_cpu_ms:.2f}")
        + " |"
    )
    rows.append("| cold start CPU (ms, here) | " + cell(lambda i, d: f"{i.cold_cpu_ms:.0f}") + " |")
    rows.append(
        "| table class (template) | "
        + cell(lambda i, d: d.facts.table_class.replace("_", " ").lower())
        + " |"
    )
    rows.append(
        "| alarm metrics / dashboards / KMS keys (template) | "
        + cell(lambda i, d: f"{d.facts.alarm_metrics} / {d.facts.dashboards} / {d.facts.kms_keys}")
        + " |"
    )
    return rows


PARTITION_WRITE_UNITS_PER_SECOND = 1000  # DynamoDB's limit per partition (a GSI partition included)


def hot_partition(report: Report) -> list[str]:
    """The time index takes a UTC day's new records under DAY_SHARDS partition keys (the day and a
    shard from the record key's CRC-32), each with a rising sort key (so splitting a partition does
    not spread new writes): the busiest shard's write rate at the peak hour against the 1,000 write
    units a second one partition accepts. Keys hash evenly, so a shard takes 1/DAY_SHARDS of the
    rate, give or take the second-by-second unevenness of random arrivals (kept below the limit by
    three standard deviations of a Poisson count for the margin figure)."""
    after = report.designs[1]
    inbound = report.inputs[DEFAULT.name].kind("inbound").item or {}
    time_index = next(i for i in after.facts.indexes if i.partition_key in TIME_INDEX_KEYS)
    shards = DAY_SHARDS if time_index.partition_key == SHARD_ATTRIBUTE else 1
    units = wru(item_size(index_item(inbound, time_index) or {}))
    share = peak_hour_share()  # of a week's mail, in its busiest hour
    limit = PARTITION_WRITE_UNITS_PER_SECOND
    out = [""]
    for organization in ORGANIZATIONS:
        per_second = organization.messages_per_day * 7 * share / 3600 * units / shards
        out.append(
            f"- time index partition ({shards} a day), {organization.name}: {per_second:,.1f} write units/s "
            f"in the peak hour ({per_second / limit:.0%} of one partition's {limit:,})"
        )
    ceiling = shards * limit * 3600 / (7 * share * units)
    # the rate r per shard whose busiest seconds (r + 3 sqrt(r) write units) stay within the limit
    steady = ((-3 + math.sqrt(9 + 4 * limit)) / 2) ** 2
    margin = shards * steady * 3600 / (7 * share * units)
    out.append(
        f"- the peak hour reaches the limit of its {shards} partitions at {ceiling / 1e6:,.0f} million "
        f"messages a day ({margin / 1e6:,.0f} million with a 3-sigma margin for busy seconds)"
    )
    return out


def assumptions(report: Report) -> list[str]:
    mix = report.mix
    return [
        f"- Organizations: {', '.join(f'{o.messages_per_day:,}' for o in ORGANIZATIONS)} new messages a day "
        f"(weekly average; {mix.inbound_share:.0%} inbound). Deliveries per message: {mix.redeliveries:.0%} "
        f"byte-identical redeliveries, conflicts and invalid payloads {mix.conflicts:.3%} each; "
        f"unexpected directions {mix.unknown:.3%}; truncated summaries {mix.truncated:.1%}. With enrichment: "
        f"{mix.attachments:.0%} with attachments, {mix.auth_failures:.0%} failing SPF/DKIM/DMARC, "
        f"{mix.not_found:.1%} not found by the message-flow API.",
        "- When mail flows, weight of an hour: weekdays 08-18 10 (20x a weekday night's 0.5), 06-08 and "
        "18-22 3; weekends 08-20 1.5, other weekend hours 0.3 (bench/traffic.py); a metric is billed for "
        "each hour it gets a data point.",
        f"- Lambda: measured CPU x {VCPU_MB}/memory MB (a share of one vCPU) + {DYNAMODB_ROUND_TRIP_MS:g} ms "
        f"DynamoDB round trip (+ {MESSAGE_FLOW_READ_MS:g} ms message-flow read with enrichment), rounded up "
        f"to the ms; cold start after {IDLE_MINUTES:g} idle minutes and every {CONTAINER_HOURS:g} h per busy "
        f"container; INIT billed (since {prices.LAMBDA_INIT_BILLED_SINCE}).",
        f"- Retention: audit records {RETENTION_DAYS} days, logs as the template says; "
        f"{KEYED_LOOKUPS_PER_MONTH} keyed {LOOKUP_DAYS}-day lookups a month. No free tier in the totals "
        "(the conservative figure for an account whose other workloads use it); one line shows it.",
    ]


def print_report(report: Report) -> None:
    before, after = report.designs
    print("\n## Monthly bill (bench/bill.py)\n")
    print("\n".join(assumptions(report)))
    for variant in VARIANTS:
        if variant.name not in report.inputs:
            continue
        print(f"\n### {variant.name} deployment\n")
        bills = [report.bill(variant, o, d) for o in ORGANIZATIONS for d in (before, after)]
        print("\n".join(bill_table(bills)))
        if variant is DEFAULT:
            print()
            for organization in ORGANIZATIONS:
                bill = report.bill(variant, organization, after)
                print(f"- {organization.name}, after: {dominant(bill)} of ${bill.total:,.2f}")
    print("\n### Measured inputs\n")
    print("\n".join(inputs_table(report)))
    print("\n".join(hot_partition(report)))
    print("\n### Cost targets\n")
    for name, ok, detail in targets(report):
        print(f"- [{'x' if ok else ' '}] {name}: {'MET' if ok else 'MISSED'} ({detail})")
    print(f"\n### Prices (us-east-1, read {prices.PRICES_AS_OF})\n")
    print("\n".join(prices.price_table()))


def designs_for(
    synthesize: Callable[[dict[str, Any]], TemplateFacts],
) -> Callable[[Variant], tuple[Design, Design]]:
    from bench.template import before

    def pair(variant: Variant) -> tuple[Design, Design]:
        context = {"enrichment": str(variant.enrich).lower(), "redact": str(variant.redact).lower()}
        return (
            Design("before", before(variant.redact), legacy_emf=True),
            Design("after", synthesize(context), legacy_emf=False),
        )

    return pair


def measure_all(endpoint: str, variants: tuple[Variant, ...] = VARIANTS) -> dict[str, Inputs]:
    from bench.emitted import cold_start_cpu_ms, create_table, measure

    cold = cold_start_cpu_ms(endpoint, create_table(endpoint))
    return {v.name: Inputs(measure(v, endpoint), cold) for v in variants}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bill", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON line: the trail deployment's monthly totals"
    )
    args = parser.parse_args(argv)
    from bench.dynamodb_local import dynamodb_local

    with dynamodb_local() as endpoint:
        monthly_bill(endpoint, json_totals=args.json)
    return 0  # targets are reported, not enforced: the exit status is for correctness checks


def monthly_bill(endpoint: str, json_totals: bool = False) -> None:
    """Measure against the running DynamoDB Local at `endpoint`, then print the bill (and the trail's,
    bench/trail_cost.py)."""
    from bench import trail_cost
    from bench.template import facts, synthesized

    inputs = measure_all(endpoint)
    report = build(inputs, designs_for(lambda context: facts(synthesized(context))), Mix())
    print_report(report)
    trail = Design("trail", facts(synthesized({"trail": "true"})), legacy_emf=False)
    now = [report.bill(DEFAULT, o, report.designs[1]) for o in ORGANIZATIONS]
    bills, writer = trail_cost.bills(trail, inputs[DEFAULT.name], report.mix)
    print("\n".join(trail_cost.report(now, bills, writer)))
    if json_totals:
        print(json.dumps(trail_cost.as_json(bills)))


if __name__ == "__main__":
    sys.exit(main())
