"""The mail-flow dashboard's SES section: WorkMail and SES side by side during a migration, SES's
sending events, and the SPF/DKIM/DMARC failures SES's verdicts report.

Shown when the deployment's sources include SES (the `ses` feature). The side-by-side graphs are
metric math over the per-flow series the collector already writes (Messages and Recipients under
[Service, Source, FlowDirection]): no metric and no dimension of their own.
"""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cw

from collector.metrics import SES
from dashboards.catalog import CollectorMetrics

WIDTH = 24
SENDING = ("SesDeliveries", "SesBounces", "SesComplaints", "SesRejects", "SesDeliveryDelays")
AUTH = ("SpfFailures", "DkimFailures", "DmarcFailures")


def add_ses_section(dashboard: cw.Dashboard, metrics: CollectorMetrics) -> None:
    """Adds nothing unless SES is one of the deployment's sources."""
    if not metrics.emits(SES):
        return
    dashboard.add_widgets(
        cw.TextWidget(
            markdown=(
                "## Amazon SES\nSES receipts (inbound) and Sends (outbound) count as messages beside "
                "WorkMail's; deliveries, bounces, complaints, rejects and delays come from the "
                "configuration set's event destination. See docs/migrating.md."
            ),
            width=WIDTH,
            height=2,
        )
    )
    dashboard.add_widgets(
        cw.SingleValueWidget(
            title="SES totals for the selected time range",
            metrics=[metrics.metric(name) for name in (*SENDING, *AUTH)],
            set_period_to_time_range=True,
            full_precision=True,
            width=WIDTH,
            height=4,
        )
    )
    dashboard.add_widgets(
        *(
            cw.GraphWidget(
                title=f"{name}: WorkMail vs SES",
                left=[metrics.metric(name, source=source, label=source) for source in metrics.sources],
                left_y_axis=cw.YAxisProps(min=0, show_units=False),
                width=WIDTH // 4,
                height=6,
            )
            for name in ("Messages", "Recipients")
        ),
        cw.GraphWidget(
            title="SES sending events (recipients; rejects are messages)",
            left=[metrics.metric(name) for name in SENDING],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 4,
            height=6,
        ),
        cw.GraphWidget(
            title="SPF, DKIM and DMARC failures",
            left=[metrics.metric(name) for name in AUTH],
            left_y_axis=cw.YAxisProps(min=0, show_units=False),
            width=WIDTH // 4,
            height=6,
        ),
    )
