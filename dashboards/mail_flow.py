"""The mail-flow dashboard: what WorkMail sent through the collector, from its EMF catalog.

Written with plain aws_cloudwatch widgets: it graphs the collector's own metrics (per-direction
series, a metric-math ratio, single-value totals), which no generic monitoring library models.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from collector.metrics import ENRICHMENT, MetricSpec
from dashboards.catalog import CollectorMetrics
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
    scope: Construct, construct_id: str, *, metrics: CollectorMetrics, dashboard_name: str
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
    base = [m for m in metrics.catalog if not m.features]
    dashboard.add_widgets(totals("Totals for the selected time range", metrics, base))
    dashboard.add_widgets(
        cw.GraphWidget(
            title="Messages: inbound vs outbound",
            left=metrics.per_direction("Messages"),
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 2,
            height=7,
        ),
        cw.GraphWidget(
            title="Recipients: inbound vs outbound",
            left=metrics.per_direction("Recipients"),
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 2,
            height=7,
        ),
    )
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


def totals(title: str, metrics: CollectorMetrics, specs: list[MetricSpec]) -> cw.SingleValueWidget:
    """One number per metric, summed over whatever time range the reader picks."""
    return cw.SingleValueWidget(
        title=title,
        metrics=[metrics.metric(spec.name) for spec in specs],
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
            left=metrics.per_direction("MessageBytes"),
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
