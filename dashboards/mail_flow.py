"""The mail-flow dashboard: what WorkMail sent through the collector, from its EMF catalog.

Written with plain aws_cloudwatch widgets: it graphs the collector's own metrics (per-direction
series, metric-math ratios, single-value totals) next to WorkMail's own counts, which no generic
monitoring library models. From the top: the collector's health (every alarm, and the failure
queue: events at risk belong next to the mail counts), per-direction totals, the flow over time,
coverage against WorkMail, then redeliveries and, when on, enrichment.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from collector.metrics import ENRICHMENT, MetricSpec
from dashboards.catalog import CollectorMetrics
from dashboards.coverage import (
    CoveragePolicy,
    WorkMailMetrics,
    inbound_counts,
    inbound_coverage,
    outbound_counts,
    outbound_ratio,
)
from dashboards.service_metrics import queue_metric
from dashboards.ses import add_ses_section

WIDTH = 24


def truncation_rate(metrics: CollectorMetrics) -> cw.MathExpression:
    """Share of counted messages whose summary WorkMail cut at 128 KB (0 when no messages)."""
    return cw.MathExpression(
        expression="IF(messages > 0, 100 * truncated / messages, 0)",
        using_metrics={
            "truncated": metrics.metric("TruncatedMessages"),
            "messages": metrics.metric("Messages"),
        },
        label="Truncated messages (%)",
        period=metrics.period,
    )


def mail_flow_dashboard(
    scope: Construct,
    construct_id: str,
    *,
    metrics: CollectorMetrics,
    dashboard_name: str,
    alarms: list[cw.IAlarm],
    failure_queue: sqs.IQueue,
    workmail: WorkMailMetrics | None,
    coverage: CoveragePolicy,
) -> cw.Dashboard:
    dashboard = cw.Dashboard(
        scope,
        construct_id,
        dashboard_name=dashboard_name,
        default_interval=Duration.days(7),
        period_override=cw.PeriodOverride.INHERIT,
    )
    dashboard.add_widgets(
        cw.TextWidget(
            markdown=(
                "# WorkMail mail flow\n"
                f"Metrics from the collector (namespace `{metrics.namespace}`). A message is counted once, "
                "on its first delivery; redeliveries show up as duplicates, and redeliveries whose content "
                "differs as conflicts. Invalid events are stored in the audit table with their reason."
            ),
            width=WIDTH,
            height=2,
        )
    )
    dashboard.add_widgets(
        cw.AlarmStatusWidget(
            alarms=alarms,
            title="Collector health (CollectorHealth pages for every critical alarm)",
            width=WIDTH * 2 // 3,
            height=4,
        ),
        cw.GraphWidget(
            title="Failure queue: events and index batches at risk",
            left=[queue_metric(failure_queue, "ApproximateNumberOfMessagesVisible", "Maximum", "Waiting")],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 3,
            height=4,
        ),
    )
    base = [m for m in metrics.catalog if not m.features]
    dashboard.add_widgets(totals("Totals for the selected time range", metrics, base))
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Messages: inbound vs outbound",
            left=metrics.flows("Messages"),
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 2,
            height=7,
        ),
        cw.GraphWidget(
            title="Recipients: inbound vs outbound",
            left=metrics.flows("Recipients"),
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 2,
            height=7,
        ),
    )
    if workmail is not None:  # WorkMail is a source: its own counts to check against
        add_coverage(dashboard, metrics, workmail, coverage)
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Truncation rate (% of messages)",
            left=[truncation_rate(metrics)],
            left_y_axis=cw.YAxisProps(min=0, max=100, show_units=False),
            width=WIDTH // 2,
            height=6,
        ),
        cw.GraphWidget(
            title="Duplicates, conflicts and invalid events",
            left=[metrics.metric(name) for name in ("DuplicateInvocations", "Conflicts", "InvalidEvents")],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 2,
            height=6,
        ),
    )
    if metrics.emits(ENRICHMENT):
        add_enrichment(dashboard, metrics)
    add_ses_section(dashboard, metrics)
    return dashboard


def add_coverage(
    dashboard: cw.Dashboard, metrics: CollectorMetrics, workmail: WorkMailMetrics, policy: CoveragePolicy
) -> None:
    """WorkMail's own counts next to the collector's WorkMail-source counts, per direction, at the
    period the coverage alarm evaluates."""
    period = policy.period
    received, counted = inbound_counts(metrics, workmail, period)
    sent, bounced, recipients = outbound_counts(metrics, workmail, period)
    dashboard.add_widgets(
        cw.TextWidget(
            markdown=(
                "## Coverage: the collector against WorkMail's own metrics (`AWS/WorkMail`)\n"
                f"Inbound alarms below {policy.threshold_percent}% in {policy.periods} consecutive "
                f"{policy.period_minutes}-minute periods with at least {policy.min_messages} messages "
                "each. Outbound compares recipients and is "
                "shown only: WorkMail counts a recipient when delivery succeeds or bounces "
                "(docs/deploy.md, Coverage)."
            ),
            width=WIDTH,
            height=2,
        )
    )
    dashboard.add_widgets(
        cw.SingleValueWidget(
            title="WorkMail vs collector, selected time range",
            metrics=[
                received,
                counted,
                inbound_coverage(metrics, workmail, period),
                sent.with_(label="WorkMail: outbound recipients delivered"),
                bounced.with_(label="WorkMail: outbound recipients bounced"),
                recipients,
            ],
            set_period_to_time_range=True,
            full_precision=True,
            width=WIDTH,
            height=4,
        )
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Inbound messages: WorkMail received vs collector counted",
            left=[received, counted],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 3,
            height=6,
        ),
        cw.GraphWidget(
            title="Inbound coverage (%)",
            left=[inbound_coverage(metrics, workmail, period)],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            left_annotations=[
                cw.HorizontalAnnotation(value=policy.threshold_percent, label="alarm threshold"),
            ],
            width=WIDTH // 3,
            height=6,
        ),
        cw.GraphWidget(
            title="Outbound recipients: WorkMail delivered + bounced vs collector (no alarm)",
            left=[sent, bounced, recipients],
            right=[outbound_ratio(metrics, workmail, period)],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            right_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 3,
            height=6,
        ),
    )


def totals(title: str, metrics: CollectorMetrics, specs: list[MetricSpec]) -> cw.SingleValueWidget:
    """One number per metric, summed over whatever time range the reader picks; per-flow metrics
    get one number per direction."""
    shown: list[cw.IMetric] = []
    for spec in specs:
        if spec.per_flow:
            shown += [
                metrics.metric(spec.name, direction, label=f"{spec.name} {direction.lower()}")
                for direction in metrics.directions(spec.name)
            ]
        else:
            shown.append(metrics.metric(spec.name))
    return cw.SingleValueWidget(
        title=title,
        metrics=shown,
        set_period_to_time_range=True,
        full_precision=True,
        width=WIDTH,
        height=4,
    )


def add_enrichment(dashboard: cw.Dashboard, metrics: CollectorMetrics) -> None:
    """What the message-flow API adds: sizes, attachments, authentication verdicts, failed reads."""
    enriched = [spec for spec in metrics.catalog if ENRICHMENT in spec.features]
    dashboard.add_widgets(
        cw.TextWidget(
            markdown="## Enrichment\nRead from each message's raw MIME via the WorkMail message-flow API.",
            width=WIDTH,
            height=1,
        )
    )
    dashboard.add_widgets(totals("Enrichment totals for the selected time range", metrics, enriched))
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Message bytes: inbound vs outbound",
            left=metrics.flows("MessageBytes"),
            left_y_axis=cw.YAxisProps(min=0),
            width=WIDTH // 3,
            height=6,
        ),
        cw.GraphWidget(
            title="Attachments",
            left=[metrics.metric("Attachments"), metrics.metric("MessagesWithAttachments")],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 3,
            height=6,
        ),
        cw.GraphWidget(
            title="SPF, DKIM and DMARC failures; failed reads",
            left=[
                metrics.metric(name)
                for name in ("SpfFailures", "DkimFailures", "DmarcFailures", "EnrichmentFailures")
            ],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 3,
            height=6,
        ),
    )
