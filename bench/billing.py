"""The bill's model: what one month of a design costs an organization, line by line (bench/bill.py
prints it; bench/trail_cost.py builds the trail's lines on it). A lower layer: it imports no report.

A design whose template says the time index is paged from the table's stream (bench/template.py's
`stream`) writes each record once, without its time-index shard, and pays the index consumer's
lines instead of the per-record index writes (bench/index_cost.py measures them): its page writes,
the pages' storage, and its Lambda (requests, duration, cold starts, one log line a batch).
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from typing import Any

from bench import prices
from bench.cost import item_size, query_read_units, wru
from bench.emitted import Emitted, Measurement, Series, Variant, lambda_json_line
from bench.index_cost import Consumer, consumer_month, hot_path_item
from bench.template import TemplateFacts
from bench.traffic import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    HOURS_PER_WEEK,
    PROFILE,
    Mix,
    Organization,
    hours_with_data,
)
from collector.metrics import catalog_for, features_for
from collector.store.schema import SHARD_ATTRIBUTE, IndexSpec

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


def as_stored(item: dict[str, Any], indexes: tuple[IndexSpec, ...], stream: bool = False) -> dict[str, Any]:
    """The measured item as a design stores it: the time-index shard only where an index keys on it
    (the reference design before it had none) and the hot path writes it (not in stream mode)."""
    if any(index.partition_key == SHARD_ATTRIBUTE for index in indexes) and not stream:
        return item
    return hot_path_item(item)


def write_units(item: dict[str, Any], indexes: tuple[IndexSpec, ...], stream: bool = False) -> int:
    """A new item's write units: one per started KB on the table, and on each index it appears in."""
    item = as_stored(item, indexes, stream)
    copies = [index_item(item, index) for index in indexes]
    return wru(item_size(item)) + sum(wru(item_size(c)) for c in copies if c is not None)


def stored_bytes(
    item: dict[str, Any], indexes: tuple[IndexSpec, ...], stream: bool = False
) -> tuple[int, int]:
    """(table bytes, index bytes) one item occupies, with DynamoDB's 100 bytes per item and index item."""
    overhead = prices.ITEM_STORAGE_OVERHEAD_BYTES
    item = as_stored(item, indexes, stream)
    copies = [index_item(item, index) for index in indexes]
    return item_size(item) + overhead, sum(item_size(c) + overhead for c in copies if c is not None)


# --- the bill ----------------------------------------------------------------------------------------

REQUESTS = "Lambda requests"
DURATION = "Lambda duration"
INIT = "Lambda INIT (cold starts)"
WRITES_TABLE = "DynamoDB writes: table"
WRITES_INDEXES = "DynamoDB writes: indexes"
PAGE_WRITES = "DynamoDB writes: index pages (table + index)"
CONSUMER = "Index consumer: Lambda (requests, duration, INIT, logs)"
READS = f"DynamoDB reads ({KEYED_LOOKUPS_PER_MONTH} keyed {LOOKUP_DAYS}-day lookups)"
STORAGE_TABLE = f"DynamoDB storage: table ({RETENTION_DAYS} days)"
STORAGE_INDEXES = f"DynamoDB storage: indexes ({RETENTION_DAYS} days)"
PAGE_STORAGE = f"DynamoDB storage: index pages, table + index ({RETENTION_DAYS} days)"
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
    PAGE_WRITES,
    CONSUMER,
    READS,
    STORAGE_TABLE,
    STORAGE_INDEXES,
    PAGE_STORAGE,
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
    consumer: Consumer | None = None  # the index consumer's month, in stream mode

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
    stream = facts.stream
    table_units = index_units = 0.0
    table_bytes = index_bytes = 0.0
    for kind, count in per.items():
        emitted = inputs.kind(kind)
        if emitted.item is not None:
            stored = as_stored(emitted.item, facts.indexes, stream)
            item_units = write_units(emitted.item, facts.indexes, stream)
            table_units += count * wru(item_size(stored))
            index_units += count * (item_units - wru(item_size(stored)))
            t, i = stored_bytes(emitted.item, facts.indexes, stream)
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
    consumer = (
        consumer_month(facts, inputs.measurement, organization, mix, VCPU_MB / facts.index_memory_mb)
        if stream
        else None
    )
    page_table_gb = page_index_gb = 0.0
    if consumer is not None:
        page_units = consumer.total("table_units") + consumer.total("index_units")
        bill.lines[PAGE_WRITES] = page_units * writes.usd / 1e6
        page_table_gb = consumer.total("table_bytes") / DAYS_PER_MONTH * retained_days / prices.GB
        page_index_gb = consumer.total("index_bytes") / DAYS_PER_MONTH * retained_days / prices.GB
        bill.lines[CONSUMER] = consumer_usd(facts, consumer, inputs.cold_cpu_ms)
    else:
        bill.lines[PAGE_WRITES] = bill.lines[CONSUMER] = 0.0
    lookups = KEYED_LOOKUPS_PER_MONTH * lookup_read_units(design, inputs, organization, mix, consumer)
    bill.lines[READS] = lookups * reads.usd / 1e6
    bill.lines[STORAGE_TABLE] = stored_table_gb * storage.usd
    bill.lines[STORAGE_INDEXES] = stored_index_gb * storage.usd
    bill.lines[PAGE_STORAGE] = (page_table_gb + page_index_gb) * storage.usd
    in_table_gb = stored_table_gb + page_table_gb  # what point-in-time recovery backs up
    bill.lines[PITR] = in_table_gb * prices.DYNAMODB_PITR.usd if facts.point_in_time_recovery else 0.0

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
            per[k] * write_units(inputs.kind(k).item or {}, facts.indexes, stream)
            for k in per
            if k in NEW_KINDS
        )
        / new
        + ((consumer.total("table_units") + consumer.total("index_units")) / new if consumer else 0.0),
        "metric_months": metric_months,
        "metric_series": len(per_series),
        "alarm_metrics": facts.alarm_metrics,
        "dashboards": facts.dashboards,
        "log_gb": log_gb,
        "stored_gb": stored_table_gb + stored_index_gb + page_table_gb + page_index_gb,
        "page_gb": page_table_gb + page_index_gb,
        "compression": compression,
    }
    bill.consumer = consumer
    return bill


def consumer_log_line(consumer: Consumer) -> str:
    """The consumer's one INFO line a batch, as Lambda's JSON log format writes it (a busy batch's)."""
    import logging

    hour = consumer.busiest()
    record = logging.LogRecord(
        "workmail_collector",
        logging.INFO,
        "collector/index_handler.py",
        1,
        "index pages: %d stream records, %d changes, %d pages written, %d late markers",
        (hour.batch.records, round(hour.batch.entries), round(hour.batch.pages), 0),
        None,
    )
    return lambda_json_line(record, REQUEST_ID)


def consumer_usd(facts: TemplateFacts, consumer: Consumer, cold_cpu_ms: float) -> float:
    """The index consumer's Lambda a month: requests, billed duration, cold starts (the collector's
    measured cold start as its stand-in: the same runtime, SDK and package), and its log lines (one
    INFO line a batch, and Lambda's platform lines at the system log level the collector has)."""
    batches = consumer.batches
    requests = batches * prices.LAMBDA_REQUESTS.usd / 1e6
    duration = consumer.gb_seconds * prices.LAMBDA_ARM64_GB_SECOND.usd
    busiest = consumer.busiest()
    cold = cold_starts_per_month(batches / DAYS_PER_MONTH * 7, busiest.billed_ms / 1000)
    gb = consumer.memory_mb / 1024
    init = cold * math.ceil(cold_cpu_ms * VCPU_MB / consumer.memory_mb) / 1000 * gb
    overhead = prices.LOG_EVENT_OVERHEAD_BYTES
    per_batch = len(consumer_log_line(consumer)) + overhead
    if facts.platform_lines:
        per_batch += len(PLATFORM_START) + len(PLATFORM_REPORT) + 2 * overhead
    logs = batches * per_batch / prices.GB * prices.LOG_INGESTION.usd
    return requests + duration + init * prices.LAMBDA_ARM64_GB_SECOND.usd + logs


def lookup_read_units(
    design: Design, inputs: Inputs, organization: Organization, mix: Mix, consumer: Consumer | None = None
) -> float:
    """Read units of one keyed lookup over LOOKUP_DAYS days. With a sender or message-ID index it
    reads only the matches (about one unit); on the time index a filtered query reads every index
    item of each day (DynamoDB bills what it reads, not what the filter keeps). In stream mode the
    index lists a day's pages (the filter lets every page through), and each is read whole
    (BatchGetItem, eventually consistent) to filter its entries."""
    time_index = next((i for i in design.facts.indexes if i.partition_key in TIME_INDEX_KEYS), None)
    keyed = any(i.partition_key in ("sender", "messageId") for i in design.facts.indexes)
    if keyed or time_index is None:
        return 1.0
    if design.facts.stream and consumer is not None:
        listed = consumer.total("index_item_bytes") / DAYS_PER_MONTH
        return LOOKUP_DAYS * (query_read_units(listed) + consumer.total("read_units") / DAYS_PER_MONTH)
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
