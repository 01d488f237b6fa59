"""What the synthesized stack bills by itself: alarms, dashboards, keys, secrets, table, logs.

`synthesized(context)` builds the app exactly as `cdk deploy` would (cdk.app.build_app, cdk-nag
included) with a placeholder code asset (the bill does not depend on the code's bytes, and pip
is not needed), and `facts(template)` counts what the bill needs from the template JSON:

* alarms: each metric alarm is billed per metric it reads (one for `MetricName`; one per
  `MetricStat` of a metric-math alarm, expressions are free; an anomaly-detection band counts as
  three), at the high-resolution price when its period is under 60 s; composite alarms apiece;
* dashboards, customer-managed KMS keys and Secrets Manager secrets, apiece;
* the audit table's global secondary indexes (key schema and projection), class and
  point-in-time recovery; the function's memory and system log level; the log group's retention;
* the time index's mode: `stream` when the collector function's environment has
  COLLECTOR_TIME_INDEX=stream (the hot path writes no per-record index entry; the index consumer
  pages the table's stream, bench/index_cost.py), with the consumer's memory and its event source
  mapping's batch size and window when the template has them (the design's 256 MB, 10,000 and
  60 s otherwise).

BEFORE is the same count for the reference design (commit 5a284cb), made once from its synthesized
template (`python -m cdk.app` at that commit, default settings) and kept as constants: the old
code is not resurrected.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.dynamodb_local import ROOT
from collector.store.schema import ORIGINAL_INDEXES, IndexSpec

ORGANIZATION_ID = "m-0123456789abcdef0123456789abcdef"
HIGH_RESOLUTION_SECONDS = 60
EXPORTER_HANDLER = "collector.trail_handler.handler"  # cdk/trail.py's
COLLECTOR_HANDLER = "collector.handler.handler"
INDEX_HANDLER = "collector.index_handler.handler"  # the index consumer (PAGES-SPEC piece 4)
TIME_INDEX_VARIABLE = "COLLECTOR_TIME_INDEX"
# The index consumer as the design gives it, for a template that does not say otherwise.
INDEX_MEMORY_MB = 256
INDEX_BATCH_SIZE = 10_000
INDEX_BATCH_WINDOW_S = 60
ANOMALY_BAND_METRICS = 3  # an anomaly detection alarm is billed as three alarm metrics


@dataclass(frozen=True)
class TemplateFacts:
    alarm_metrics: int
    high_resolution_alarm_metrics: int
    composite_alarms: int
    dashboards: int
    kms_keys: int
    secrets: int
    memory_mb: int
    system_log_level: str  # Lambda's default for the JSON log format is INFO
    log_retention_days: int
    indexes: tuple[IndexSpec, ...]
    point_in_time_recovery: bool
    table_class: str = "STANDARD"
    alarms: int = 0
    retention_days: int = 365  # the collector's COLLECTOR_RETENTION_DAYS (TTL; 0 keeps forever)
    trail: bool = False  # the long-term trail in S3 (a Glue table, an exporter function)
    export_memory_mb: int = 0  # the trail exporter's memory
    export_days: int = 0  # the days each export run looks over (COLLECTOR_TRAIL_EXPORT_DAYS)
    time_index: str = "record"  # the collector's COLLECTOR_TIME_INDEX: "record" or "stream"
    index_memory_mb: int = INDEX_MEMORY_MB  # the index consumer's memory
    index_batch_size: int = INDEX_BATCH_SIZE  # its event source mapping's BatchSize
    index_batch_window_s: int = INDEX_BATCH_WINDOW_S  # and MaximumBatchingWindowInSeconds

    @property
    def stream(self) -> bool:
        """Whether the time index is paged from the table's stream (no per-record index write)."""
        return self.time_index == "stream"

    @property
    def platform_lines(self) -> bool:
        """Whether Lambda writes its platform.start / platform.report lines (INFO level) to the log."""
        return self.system_log_level in ("DEBUG", "INFO")


# Counted from the template of commit 5a284cb (default settings; with redact=true one secret more):
# 4 metric alarms reading one metric each, 2 dashboards, the alarm topic's KMS key, 3 ALL indexes.
BEFORE = TemplateFacts(
    alarm_metrics=4,
    high_resolution_alarm_metrics=0,
    composite_alarms=0,
    dashboards=2,
    kms_keys=1,
    secrets=0,
    memory_mb=256,
    system_log_level="INFO",
    log_retention_days=90,
    indexes=ORIGINAL_INDEXES,
    point_in_time_recovery=True,
    alarms=4,
)


def before(redact: bool) -> TemplateFacts:
    return replace(BEFORE, secrets=1) if redact else BEFORE


def _alarm_metrics(properties: dict[str, Any]) -> tuple[int, bool]:
    """(metrics billed, high resolution) for one AWS::CloudWatch::Alarm."""
    if "MetricName" in properties:
        return 1, int(properties.get("Period", 60)) < HIGH_RESOLUTION_SECONDS
    queries = properties.get("Metrics", [])
    stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
    bands = sum("ANOMALY_DETECTION_BAND" in str(q.get("Expression", "")) for q in queries)
    high = any(int(s.get("Period", 60)) < HIGH_RESOLUTION_SECONDS for s in stats)
    return len(stats) + bands * (ANOMALY_BAND_METRICS - 1), high


def _index(raw: dict[str, Any]) -> IndexSpec:
    keys = {k["KeyType"]: k["AttributeName"] for k in raw["KeySchema"]}
    projection = raw["Projection"]
    kept = None if projection["ProjectionType"] == "ALL" else tuple(projection.get("NonKeyAttributes", []))
    return IndexSpec(raw["IndexName"], keys["HASH"], keys.get("RANGE", ""), kept)


def _index_consumer(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The index consumer's function properties and its event source mapping's ({} when absent):
    the mapping is the one whose FunctionName refers to the consumer's logical ID."""
    named = {
        name: r.get("Properties", {})
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and r.get("Properties", {}).get("Handler") == INDEX_HANDLER
    }
    if not named:
        return {}, {}
    name, consumer = next(iter(named.items()))
    mappings = [
        r.get("Properties", {})
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and name in json.dumps(r.get("Properties", {}).get("FunctionName", ""))
    ]
    return consumer, (mappings[0] if mappings else {})


def facts(template: dict[str, Any]) -> TemplateFacts:
    resources = list(template["Resources"].values())

    def of(kind: str) -> list[dict[str, Any]]:
        return [r.get("Properties", {}) for r in resources if r["Type"] == kind]

    standard = high = 0
    for alarm in of("AWS::CloudWatch::Alarm"):
        count, is_high = _alarm_metrics(alarm)
        high += count if is_high else 0
        standard += 0 if is_high else count
    (table,) = of("AWS::DynamoDB::Table")
    collector = [f for f in of("AWS::Lambda::Function") if f.get("Handler") == COLLECTOR_HANDLER]
    (function,) = collector
    log_groups = [g for g in of("AWS::Logs::LogGroup") if "RetentionInDays" in g]
    variables = function.get("Environment", {}).get("Variables", {})
    exporters = [f for f in of("AWS::Lambda::Function") if f.get("Handler") == EXPORTER_HANDLER]
    exporter = exporters[0] if exporters else {}
    exporter_variables = exporter.get("Environment", {}).get("Variables", {})
    consumer, mapping = _index_consumer(template)
    return TemplateFacts(
        alarm_metrics=standard,
        high_resolution_alarm_metrics=high,
        composite_alarms=len(of("AWS::CloudWatch::CompositeAlarm")),
        dashboards=len(of("AWS::CloudWatch::Dashboard")),
        kms_keys=len(of("AWS::KMS::Key")),
        secrets=len(of("AWS::SecretsManager::Secret")),
        memory_mb=int(function.get("MemorySize", 128)),
        system_log_level=str(function.get("LoggingConfig", {}).get("SystemLogLevel", "INFO")),
        log_retention_days=int(log_groups[0]["RetentionInDays"]) if log_groups else 0,
        indexes=tuple(_index(i) for i in table.get("GlobalSecondaryIndexes", [])),
        point_in_time_recovery=bool(
            table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        ),
        table_class=str(table.get("TableClass", "STANDARD")),
        alarms=len(of("AWS::CloudWatch::Alarm")),
        retention_days=int(variables.get("COLLECTOR_RETENTION_DAYS", 365)),
        trail=bool(of("AWS::Glue::Table")) and bool(exporter),
        export_memory_mb=int(exporter.get("MemorySize", 0)),
        export_days=int(exporter_variables.get("COLLECTOR_TRAIL_EXPORT_DAYS", 0)),
        time_index=str(variables.get(TIME_INDEX_VARIABLE, "record")).strip().lower() or "record",
        index_memory_mb=int(consumer.get("MemorySize", INDEX_MEMORY_MB)),
        index_batch_size=int(mapping.get("BatchSize", INDEX_BATCH_SIZE)),
        index_batch_window_s=int(mapping.get("MaximumBatchingWindowInSeconds", INDEX_BATCH_WINDOW_S)),
    )


def synthesized(context: dict[str, Any]) -> dict[str, Any]:
    """The stack's template for these settings (plus the organization ID), as `cdk synth` writes it."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from cdk.app import build_app

    with tempfile.TemporaryDirectory(prefix="bill-synth-") as tmp:
        asset = Path(tmp) / "asset"
        (asset / "collector").mkdir(parents=True)
        (asset / "collector" / "__init__.py").write_text("")
        defaults = json.loads((ROOT / "cdk.json").read_text())["context"]  # as the CDK CLI passes them
        full = {**defaults, "organizationId": ORGANIZATION_ID, **context}
        app, stack = build_app(full, outdir=str(Path(tmp) / "out"), asset_dir=asset)
        app.synth()
        template: dict[str, Any] = json.loads((Path(tmp) / "out" / stack.template_file).read_text())
    return template
