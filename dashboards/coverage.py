"""Coverage: does the collector see the mail WorkMail itself counts?

WorkMail publishes its own counts in `AWS/WorkMail` (free, kept 15 months). Two of them have a
collector counterpart:

* `OrganizationEmailReceived` counts each message received by the organization once, however
  many recipients it has: the counterpart of `Messages` [Source=WorkMail, FlowDirection=INBOUND].
  Their ratio is the inbound coverage, and it alarms.
* `OutgoingEmailSent` counts each *recipient* a sent message was delivered to, and
  `OutgoingEmailBounced` each recipient it could not be delivered to; WorkMail has no per-message
  outbound metric. Their sum is compared with `Recipients` [WorkMail, OUTBOUND], shown but never
  alarmed: delivery is counted when it happens (retries can move it into a later period) and
  the outbound rule sees only the recipients its patterns match, so the ratio drifts for reasons
  that are not a fault (docs/deploy.md, "Coverage").

Only the collector's WorkMail-source series take part, so events from another source (SES during
a migration) never inflate the ratio. WorkMail does not document its metrics' dimension; the
stack's `workmailMetricDimension` setting names it (default `OrganizationId`, valued with the
organization ID), and docs/deploy.md says how to confirm it with `list-metrics`.

WorkMail publishes nothing for a period without mail, and the collector writes no zeros: every
series is FILLed with 0 inside the expressions, and the alarm treats a missing datapoint as not
breaching, so a quiet night never pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from collector.model import Direction, Source
from collector.reconcile import DEFAULT_WORKMAIL_DIMENSION, WORKMAIL_NAMESPACE
from collector.reconcile import WORKMAIL_BOUNCED as BOUNCED
from collector.reconcile import WORKMAIL_RECEIVED as RECEIVED
from collector.reconcile import WORKMAIL_SENT as SENT
from dashboards.catalog import CollectorMetrics

WORKMAIL_SOURCE = Source.WORKMAIL.value


@dataclass(frozen=True)
class WorkMailMetrics:
    """WorkMail's own metrics for one organization, under the dimension the deployment names."""

    organization_id: str
    dimension: str = DEFAULT_WORKMAIL_DIMENSION

    def metric(self, name: str, period: Duration, label: str | None = None) -> cw.Metric:
        return cw.Metric(
            namespace=WORKMAIL_NAMESPACE,
            metric_name=name,
            dimensions_map={self.dimension: self.organization_id},
            statistic="Sum",
            period=period,
            label=label or f"WorkMail {name}",
        )


@dataclass(frozen=True)
class CoveragePolicy:
    """When low inbound coverage pages: below `threshold_percent` in `periods` consecutive periods
    of `period_minutes` (15), in each of which WorkMail received at least `min_messages`.

    Two periods, not one: CloudWatch judges the newest period while it is still filling, and the
    collector's metrics can trail WorkMail's by a minute, so one period alone could page a busy
    organization for a lag. A rule that stops firing breaches every period after it, and pages
    within three periods at most (45 minutes) once mail flows; a quiet period is never judged."""

    threshold_percent: int = 80
    min_messages: int = 5
    period_minutes: int = 15
    periods: int = 2

    @property
    def period(self) -> Duration:
        return Duration.minutes(self.period_minutes)


def inbound_counts(
    metrics: CollectorMetrics, workmail: WorkMailMetrics, period: Duration
) -> tuple[cw.Metric, cw.Metric]:
    """(WorkMail's count, the collector's count) of inbound messages, both raw."""
    received = workmail.metric(RECEIVED, period, "WorkMail: messages received")
    counted = metrics.series("Messages", Direction.INBOUND.value, WORKMAIL_SOURCE).with_(
        period=period, label="Collector: inbound messages"
    )
    return received, counted


def inbound_coverage(
    metrics: CollectorMetrics, workmail: WorkMailMetrics, period: Duration
) -> cw.MathExpression:
    """Collector / WorkMail in percent; no datapoint where WorkMail counted nothing (÷0 drops it)."""
    received, counted = inbound_counts(metrics, workmail, period)
    return cw.MathExpression(
        expression="100 * FILL(collector, 0) / workmail",
        using_metrics={"collector": counted, "workmail": received},
        label="Inbound coverage (%)",
        period=period,
    )


def inbound_coverage_breach(
    metrics: CollectorMetrics, workmail: WorkMailMetrics, policy: CoveragePolicy
) -> cw.MathExpression:
    """1 in a period in which WorkMail received at least the minimum and the collector counted
    less than the threshold share of it; 0 otherwise (a quiet period included)."""
    received, counted = inbound_counts(metrics, workmail, policy.period)
    return cw.MathExpression(
        expression=(
            f"IF(FILL(workmail, 0) >= {policy.min_messages} AND "
            f"100 * FILL(collector, 0) < {policy.threshold_percent} * FILL(workmail, 0), 1, 0)"
        ),
        using_metrics={"collector": counted, "workmail": received},
        label=f"Inbound coverage below {policy.threshold_percent}% (1 = yes)",
        period=policy.period,
    )


def outbound_counts(
    metrics: CollectorMetrics, workmail: WorkMailMetrics, period: Duration
) -> tuple[cw.Metric, cw.Metric, cw.Metric]:
    """(WorkMail delivered, WorkMail bounced, collector) outbound recipients, raw."""
    sent = workmail.metric(SENT, period, "WorkMail: recipients delivered")
    bounced = workmail.metric(BOUNCED, period, "WorkMail: recipients bounced")
    counted = metrics.series("Recipients", Direction.OUTBOUND.value, WORKMAIL_SOURCE).with_(
        period=period, label="Collector: outbound recipients"
    )
    return sent, bounced, counted


def outbound_ratio(
    metrics: CollectorMetrics, workmail: WorkMailMetrics, period: Duration
) -> cw.MathExpression:
    """Collector outbound recipients / WorkMail's delivered + bounced ones, in percent: shown only."""
    sent, bounced, counted = outbound_counts(metrics, workmail, period)
    return cw.MathExpression(
        expression="100 * FILL(collector, 0) / (FILL(sent, 0) + FILL(bounced, 0))",
        using_metrics={"collector": counted, "sent": sent, "bounced": bounced},
        label="Outbound recipients seen (%, no alarm)",
        period=period,
    )
