"""Dashboards, alarms and saved queries, read back from the synthesized template.

The metric checks walk the DashboardBody JSON (and every alarm) and compare what they name with the
collector's catalog: a dashboard may not name a metric the deployment does not emit, and every
metric it emits (the base catalog, plus the enrichment metrics when enrichment is on) must be on a
dashboard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import aws_cloudwatch as cw

from collector.metrics import (
    DIRECTIONS,
    ENRICHMENT,
    FLOW_DIRECTION,
    METRIC_NAMES,
    SERVICE,
    EmfWriter,
    catalog_for,
    features_for,
    spec_named,
)
from collector.model import Direction, Invocation, Outcome, Source, Status
from collector.reconcile import RECONCILE_METRICS
from dashboards.catalog import CollectorMetrics, UnknownMetricError
from tests.cdk.support import ROOT, Synth

TOKEN = "TOKEN"


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)


def render(value: Any) -> str:
    """A Fn::Join of strings and references, with every reference replaced by a placeholder."""
    if isinstance(value, str):
        return value
    delimiter: str
    delimiter, parts = value["Fn::Join"]
    return delimiter.join(p if isinstance(p, str) else TOKEN for p in parts)


def dashboards(synth: Synth) -> dict[str, dict[str, Any]]:
    """Dashboard name -> parsed DashboardBody."""
    out = {}
    for resource in synth.resources("AWS::CloudWatch::Dashboard").values():
        props = resource["Properties"]
        out[props["DashboardName"]] = json.loads(render(props["DashboardBody"]))
    return out


def widget_metrics(widget: dict[str, Any]) -> list[MetricRef]:
    refs = []
    for row in widget.get("properties", {}).get("metrics", []):
        options = row[-1] if isinstance(row[-1], dict) else {}
        values = [v for v in row if not isinstance(v, dict)]
        if not values:
            continue  # a metric-math expression: [{"expression": ...}]
        namespace, name, *dims = values
        refs.append(MetricRef(namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), options))
    return refs


def expressions(widget: dict[str, Any]) -> list[str]:
    rows = widget.get("properties", {}).get("metrics", [])
    return [row[0]["expression"] for row in rows if isinstance(row[0], dict) and "expression" in row[0]]


def dashboard_metrics(synth: Synth) -> list[MetricRef]:
    return [m for body in dashboards(synth).values() for w in body["widgets"] for m in widget_metrics(w)]


def alarm_metrics(alarm: dict[str, Any]) -> list[MetricRef]:
    props = alarm["Properties"]
    metrics = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
    if "MetricName" in props:
        metrics.append(props)
    refs = []
    for m in metrics:
        dimensions = {
            d["Name"]: d["Value"] if isinstance(d["Value"], str) else TOKEN for d in m.get("Dimensions", [])
        }
        refs.append(MetricRef(m["Namespace"], m["MetricName"], dimensions))
    return refs


def emitted(synth: Synth) -> list[str]:
    """The metrics this deployment's collector writes, in catalog order."""
    settings = synth.stack.settings
    return [spec.name for spec in catalog_for(features_for(settings.enrichment, settings.sources))]


def widget(synth: Synth, dashboard: str, title: str) -> dict[str, Any]:
    body = dashboards(synth)[f"{synth.stack.stack_name}-{dashboard}"]
    matches = [w for w in body["widgets"] if w.get("properties", {}).get("title") == title]
    titles = [w.get("properties", {}).get("title") for w in body["widgets"]]
    assert len(matches) == 1, f"{title!r} on {dashboard}: {titles}"
    found: dict[str, Any] = matches[0]
    return found


# ----------------------------------------------------------------------------------- the catalog


def test_dashboards_and_alarms_name_only_metrics_the_collector_emits(any_synth: Synth) -> None:
    namespace = any_synth.stack.settings.namespace
    named = dashboard_metrics(any_synth)
    named += [m for a in any_synth.resources("AWS::CloudWatch::Alarm").values() for m in alarm_metrics(a)]
    reported = set(RECONCILE_METRICS) if any_synth.stack.settings.reconcile else set()
    ours = {m.name for m in named if m.namespace == namespace} - reported
    assert ours, f"no metric in {namespace} on any dashboard"
    assert ours <= set(METRIC_NAMES), f"not in the collector's catalog: {sorted(ours - set(METRIC_NAMES))}"
    assert ours <= set(emitted(any_synth)), f"not emitted here: {sorted(ours - set(emitted(any_synth)))}"
    # Anything else must be an AWS service metric: a mistyped namespace would hide a collector metric.
    others = {m.namespace for m in named if m.namespace != namespace}
    assert others <= {"AWS/Lambda", "AWS/SQS", "AWS/DynamoDB", "AWS/WorkMail"}
    for metric in named:
        if metric.namespace == namespace:
            assert metric.dimensions.get(SERVICE) == any_synth.stack.stack_name, metric
            # Exactly the one dimension set the catalog gives the metric: any other is never written.
            expected = (SERVICE,) if metric.name in reported else spec_named(metric.name).dimensions
            assert set(metric.dimensions) == set(expected), metric


def test_every_catalog_metric_is_on_a_dashboard(any_synth: Synth) -> None:
    namespace = any_synth.stack.settings.namespace
    shown = {m.name for m in dashboard_metrics(any_synth) if m.namespace == namespace}
    missing = set(emitted(any_synth)) - shown
    assert not missing, f"on no dashboard: {sorted(missing)}"


def test_the_variants_cover_the_whole_catalog(default_synth: Synth, custom_synth: Synth) -> None:
    """WorkMail's; SES's metrics are covered by the SES variants (tests/cdk/test_ses_stack.py)."""
    workmail = {spec.name for spec in catalog_for(frozenset({ENRICHMENT}))}
    assert set(emitted(default_synth)) < set(emitted(custom_synth)) == workmail


def test_unknown_metric_names_are_refused() -> None:
    metrics = CollectorMetrics(namespace="WorkMailCollector", service="svc")
    with pytest.raises(UnknownMetricError, match="'Mesages' is not a collector metric"):
        metrics.metric("Mesages")
    with pytest.raises(UnknownMetricError, match="only with enrichment on"):
        metrics.metric("MessageBytes")
    with pytest.raises(ValueError, match="not a FlowDirection"):
        metrics.metric("Messages", "SIDEWAYS")
    enriched = CollectorMetrics(
        namespace="WorkMailCollector", service="svc", features=frozenset({ENRICHMENT})
    )
    assert enriched.series("MessageBytes", "INBOUND", "WorkMail").metric_name == "MessageBytes"
    both = CollectorMetrics("WorkMailCollector", "svc", frozenset({ENRICHMENT}), sources=("WorkMail", "SES"))
    with pytest.raises(ValueError, match="no SES UNKNOWN series"):
        both.metric("Messages", "UNKNOWN", source="SES")
    with pytest.raises(ValueError, match="no SES INBOUND series"):
        both.series("MessageBytes", "INBOUND", "SES")
    assert both.directions("Messages") == ["INBOUND", "OUTBOUND", "UNKNOWN"]
    assert CollectorMetrics("N", "svc", sources=("SES",)).directions("Messages") == ["INBOUND", "OUTBOUND"]
    attachments = enriched.metric("Attachments")
    assert isinstance(attachments, cw.Metric) and attachments.metric_name == "Attachments"


# ------------------------------------------------------------------------------ mail-flow dashboard


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Messages: inbound vs outbound", "Messages"),
        ("Recipients: inbound vs outbound", "Recipients"),
    ],
)
def test_inbound_vs_outbound_over_time(any_synth: Synth, title: str, metric: str) -> None:
    w = widget(any_synth, "MailFlow", title)
    assert w["type"] == "metric" and w["properties"]["view"] == "timeSeries"
    series = widget_metrics(w)
    assert {m.name for m in series} == {metric}
    assert [m.dimensions[FLOW_DIRECTION] for m in series] == list(DIRECTIONS)
    assert {"INBOUND", "OUTBOUND"} <= set(DIRECTIONS)
    assert all(m.options["stat"] == "Sum" for m in series)


def test_single_value_totals_cover_the_base_catalog_per_direction(any_synth: Synth) -> None:
    w = widget(any_synth, "MailFlow", "Totals for the selected time range")
    assert w["properties"]["view"] == "singleValue"
    assert w["properties"]["setPeriodToTimeRange"] is True
    series = widget_metrics(w)
    base = catalog_for(frozenset())
    # [Service] metrics are read as stored; per-flow metrics give one number per direction.
    assert [m.name for m in series if m.dimensions == {SERVICE: any_synth.stack.stack_name}] == [
        spec.name for spec in base if not spec.per_flow
    ]
    labels = [m.options.get("label") for m in series]
    for spec in base:
        if spec.per_flow:
            directions = [m.dimensions.get(FLOW_DIRECTION) for m in series if m.name == spec.name]
            assert directions == list(DIRECTIONS), spec.name
            assert [f"{spec.name} {d.lower()}" for d in DIRECTIONS] == [
                label for label in labels if label and label.startswith(f"{spec.name} ")
            ]


def test_enrichment_row_only_with_enrichment(default_synth: Synth, custom_synth: Synth) -> None:
    enrichment_metrics = [n for n in emitted(custom_synth) if n not in emitted(default_synth)]
    assert enrichment_metrics
    totals = widget(custom_synth, "MailFlow", "Enrichment totals for the selected time range")
    assert totals["properties"]["setPeriodToTimeRange"] is True
    shown = widget_metrics(totals)
    assert [m.name for m in shown if FLOW_DIRECTION not in m.dimensions] == [
        n for n in enrichment_metrics if not spec_named(n).per_flow
    ]
    assert {m.name for m in shown if FLOW_DIRECTION in m.dimensions} == {
        n for n in enrichment_metrics if spec_named(n).per_flow
    }
    sizes = widget(custom_synth, "MailFlow", "Message bytes: inbound vs outbound")
    assert [m.dimensions[FLOW_DIRECTION] for m in widget_metrics(sizes)] == list(DIRECTIONS)
    shown_by_default = {m.name for m in dashboard_metrics(default_synth)}
    assert not shown_by_default & set(enrichment_metrics)


def test_truncation_rate_is_metric_math_over_the_catalog(any_synth: Synth) -> None:
    w = widget(any_synth, "MailFlow", "Truncation rate (% of messages)")
    found = expressions(w)
    (rate,) = [e for e in found if "100 * truncated / messages" in e]
    ids = {m.options["id"]: m for m in widget_metrics(w)}
    assert ids["truncated"].name == "TruncatedMessages"
    # `messages` is itself the FILLed sum of the per-direction Messages series.
    assert [m.name for k, m in ids.items() if k != "truncated"] == ["Messages"] * len(DIRECTIONS)
    assert any(e.count("FILL(") == len(DIRECTIONS) for e in found if e != rate)
    assert all(not m.options.get("visible", True) for m in ids.values())


def test_duplicates_conflicts_and_invalid_events(any_synth: Synth) -> None:
    w = widget(any_synth, "MailFlow", "Duplicates, conflicts and invalid events")
    assert [m.name for m in widget_metrics(w)] == ["DuplicateInvocations", "Conflicts", "InvalidEvents"]


def test_health_first_alarm_status_and_failure_queue(any_synth: Synth) -> None:
    body = dashboards(any_synth)[f"{any_synth.stack.stack_name}-MailFlow"]
    status = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(status) == 1
    assert body["widgets"].index(status[0]) == 1, "health comes right after the title"
    # Alarm ARNs are references, rendered as placeholders: every alarm and the composite, once each,
    # the trail's TrailExportFailed (on by default) among them.
    alarms = any_synth.resources("AWS::CloudWatch::Alarm") | any_synth.resources(
        "AWS::CloudWatch::CompositeAlarm"
    )
    assert len(status[0]["properties"]["alarms"]) == len(alarms)
    body_json = json.dumps(
        [r["Properties"]["DashboardBody"] for r in any_synth.resources("AWS::CloudWatch::Dashboard").values()]
    )
    for logical_id in alarms:
        assert f'"{logical_id}", "Arn"' in body_json, logical_id
    depth = widget(any_synth, "MailFlow", "Failure queue: events and index batches at risk")
    (metric,) = widget_metrics(depth)
    assert (metric.namespace, metric.name, metric.options["stat"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
    )


def test_coverage_reads_workmail_through_metric_math(any_synth: Synth) -> None:
    settings = any_synth.stack.settings
    dimension = {settings.workmail_metric_dimension: settings.organization_id}
    ratio = widget(any_synth, "MailFlow", "Inbound coverage (%)")
    assert expressions(ratio) == ["100 * FILL(collector, 0) / workmail"]
    refs = {m.options["id"]: m for m in widget_metrics(ratio)}
    assert (refs["workmail"].namespace, refs["workmail"].name) == (
        "AWS/WorkMail",
        "OrganizationEmailReceived",
    )
    assert refs["workmail"].dimensions == dimension
    assert refs["collector"].name == "Messages"
    assert refs["collector"].dimensions == {
        SERVICE: any_synth.stack.stack_name,
        "Source": "WorkMail",
        FLOW_DIRECTION: "INBOUND",
    }
    assert ratio["properties"]["annotations"]["horizontal"][0]["value"] == settings.coverage_threshold
    counts = widget(any_synth, "MailFlow", "Inbound messages: WorkMail received vs collector counted")
    assert [m.name for m in widget_metrics(counts)] == ["OrganizationEmailReceived", "Messages"]
    outbound = widget(
        any_synth, "MailFlow", "Outbound recipients: WorkMail delivered + bounced vs collector (no alarm)"
    )
    assert expressions(outbound) == ["100 * FILL(collector, 0) / (FILL(sent, 0) + FILL(bounced, 0))"]
    assert {m.name for m in widget_metrics(outbound)} == {
        "OutgoingEmailSent",
        "OutgoingEmailBounced",
        "Recipients",
    }
    totals = widget(any_synth, "MailFlow", "WorkMail vs collector, selected time range")
    assert totals["properties"]["setPeriodToTimeRange"] is True
    assert all(m.dimensions == dimension for m in widget_metrics(totals) if m.namespace == "AWS/WorkMail")


def test_two_sources_are_graphed_side_by_side() -> None:
    one = CollectorMetrics(namespace="N", service="svc")
    assert [m.label for m in one.flows("Messages")] == [d.title() for d in DIRECTIONS]  # type: ignore[attr-defined]
    two = CollectorMetrics(namespace="N", service="svc", sources=("WorkMail", "SES"))
    lines = two.flows("Messages")
    assert [m.label for m in lines] == [  # type: ignore[attr-defined]
        *(f"WorkMail {d.title()}" for d in DIRECTIONS),
        "SES Inbound",
        "SES Outbound",  # SES receipts are INBOUND and Sends OUTBOUND: no SES UNKNOWN line
    ]
    assert all(
        isinstance(m, cw.Metric) and (m.dimensions or {})["Source"] in ("WorkMail", "SES") for m in lines
    )


# ----------------------------------------------------------------------------- operations dashboard


def operations_metrics(synth: Synth) -> dict[tuple[str, str], list[MetricRef]]:
    body = dashboards(synth)[f"{synth.stack.stack_name}-Operations"]
    shown: dict[tuple[str, str], list[MetricRef]] = {}
    for w in body["widgets"]:
        for m in widget_metrics(w):
            shown.setdefault((m.namespace, m.name), []).append(m)
    return shown


def test_operations_view_covers_lambda_async_queue_and_table(any_synth: Synth) -> None:
    shown = operations_metrics(any_synth)
    stats = {key: {str(m.options.get("stat", "Average")) for m in refs} for key, refs in shown.items()}
    lambda_metrics = (
        "Invocations",
        "Errors",
        "Throttles",
        "ConcurrentExecutions",
        "AsyncEventsReceived",
        "AsyncEventAge",
        "AsyncEventsDropped",
        "DestinationDeliveryFailures",
    )
    for name in lambda_metrics:
        assert ("AWS/Lambda", name) in shown, name
    assert {"p50", "p90", "p99"} <= stats[("AWS/Lambda", "Duration")]
    for name in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "NumberOfMessagesSent",
    ):
        assert ("AWS/SQS", name) in shown, name
    for name in (
        "ConsumedWriteCapacityUnits",
        "WriteThrottleEvents",
        "SystemErrors",
        "SuccessfulRequestLatency",
    ):
        assert ("AWS/DynamoDB", name) in shown, name


INAPPLICABLE = {
    ("AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations"): "no provisioned concurrency",
    (
        "AWS/SQS",
        "NumberOfMessagesDeleted",
    ): "the failure queue has no consumer (producer vs consumer, time to drain)",
    ("AWS/SQS", "SentMessageSize"): "message size says nothing about events at risk",
    ("AWS/DynamoDB", "ConsumedReadCapacityUnits"): "the function never reads the table",
    ("AWS/DynamoDB", "ReadThrottleEvents"): "the function never reads the table",
    ("AWS/DynamoDB", "UserErrors"): "account-wide, not this table",
}


def test_no_widget_that_cannot_apply_to_this_stack(any_synth: Synth) -> None:
    shown = {(m.namespace, m.name): m for m in dashboard_metrics(any_synth)}
    for key, why in INAPPLICABLE.items():
        assert key not in shown, f"{key}: {why}"
    titles = [
        w.get("properties", {}).get("title", "")
        for body in dashboards(any_synth).values()
        for w in body["widgets"]
    ]
    assert not [t for t in titles if "drain" in t.lower() or "producer" in t.lower()]
    for refs in operations_metrics(any_synth).values():
        for m in refs:
            if m.namespace == "AWS/DynamoDB" and "Operation" in m.dimensions:
                assert m.dimensions["Operation"] == "PutItem", m  # the one call the function makes
            if m.namespace == "AWS/DynamoDB":
                assert "TableName" in m.dimensions, m


# ------------------------------------------------------------------------------------------ alarms


def alarm_on(synth: Synth, namespace: str, name: str) -> dict[str, Any]:
    found = [
        a["Properties"]
        for k, a in synth.resources("AWS::CloudWatch::Alarm").items()
        if any(m.namespace == namespace and m.name == name for m in alarm_metrics(a))
        # the trail's own (test_trail_stack.py) and the index consumer's (test_index_consumer_stack.py)
        and not k.startswith(("Trail", "IndexConsumer"))
    ]
    assert len(found) == 1, f"expected one alarm on {namespace} {name}, found {len(found)}"
    alarm: dict[str, Any] = found[0]
    return alarm


def test_failure_queue_alarm_watches_the_failure_queue(any_synth: Synth) -> None:
    alarm = alarm_on(any_synth, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    queue = any_synth.collector("AWS::SQS::Queue")[0]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    queue_name = {"Fn::GetAtt": [queue, "QueueName"]}
    assert stat["Metric"]["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]


def test_alarm_topic_is_encrypted_and_tls_only(any_synth: Synth) -> None:
    topic_id, topic = any_synth.only("AWS::SNS::Topic")
    key_id, key = any_synth.only("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    (policy,) = any_synth.resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_email_subscription_only_when_asked(default_synth: Synth, custom_synth: Synth) -> None:
    default_synth.template.resource_count_is("AWS::SNS::Subscription", 0)
    _, subscription = custom_synth.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "mail-ops@example.com"


# ------------------------------------------------------------------------------ Logs Insights queries


def queries(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        q["Properties"]["Name"].split("/", 1)[1]: q["Properties"]
        for q in synth.resources("AWS::Logs::QueryDefinition").values()
    }


def test_saved_queries_target_the_function_log_group(any_synth: Synth) -> None:
    log_group = any_synth.collector("AWS::Logs::LogGroup")[0]
    found = queries(any_synth)
    assert {"by-message-id", "by-sender", "invalid-events", "conflicting-redeliveries"} <= set(found)
    for name, query in found.items():
        assert query["LogGroupNames"] == [{"Ref": log_group}], name
        assert query["Name"].startswith(f"{any_synth.stack.stack_name}/")


def test_saved_queries_match_what_the_collector_logs(default_synth: Synth) -> None:
    found = queries(default_synth)
    pipeline = (ROOT / "collector" / "pipeline.py").read_text()
    for name, phrase in (
        ("invalid-events", "invalid event quarantined"),
        ("conflicting-redeliveries", "conflicting redelivery"),
    ):
        assert phrase in found[name]["QueryString"], name
        assert f'"{phrase}: ' in pipeline, f"the collector no longer logs {phrase!r}"
    document = EmfWriter("N", "svc", print).document(
        Outcome(Status.RECORDED, "id-1", Direction.INBOUND, message_id="m-1", source=Source.WORKMAIL),
        Invocation("req-1", "1", datetime.now(UTC)),
    )
    for prop in ("invocationId", "status", "requestId", "messageId"):
        assert prop in document, prop
    assert "messageId" in found["by-message-id"]["QueryString"]
    assert "sender" in found["by-sender"]["QueryString"]
    assert "stats count(*) as invocations by status" in found["outcomes-by-status"]["QueryString"]
