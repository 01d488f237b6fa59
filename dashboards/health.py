"""Every alarm of the stack, reviewed as the on-call engineer who receives it.

Two severities. *Critical* means events are at risk or collection has stopped: the failure queue
holds events (or stream batches the index consumer gave up on: records that nothing lists or
exports, and that TTL deletes, until a person repairs them), Lambda dropped events or could not hand
them to the queue, errors persist, or the collector counts far less inbound mail than WorkMail.
Critical alarms have no action of their own: they feed one composite alarm,
`<stack>-CollectorHealth`, which pages once per incident.
*Warning* means degraded with nothing lost yet (sustained throttling, a backlog in Lambda's
queue, quarantined events, a reconcile difference); warnings notify the topic directly.

Throttles alarm only where something invokes the collector synchronously (`ruleMode=sync`, an
SES rule with `RequestResponse`): there a throttled invocation fails back to its caller. An
asynchronous event that is throttled waits in Lambda's queue and is retried for up to 6 hours, so
EventBacklog (its age), InboundCoverageLow (the count against WorkMail's) and EventsDropped already
see what sustained throttling does to it, without a third alarm metric to pay for.

What a retry absorbs never pages. Lambda retries a failed asynchronous event twice, 1 and 2
minutes apart, so one event's errors end within about 3 minutes, inside at most two 5-minute
periods: errors, throttles and event age alarm only when 3 of 3 periods breach. What only a
person can recover (an event in the failure queue, a dropped event) alarms on its first datapoint.

Missing data is chosen per alarm for what silence means there: Lambda publishes its errors,
throttles and async metrics only while there is traffic, the collector writes no zeros, and
WorkMail publishes nothing for a quiet period, so silence is *not breaching* for those. The failure
queue is different: SQS stops publishing for an idle queue, and an event that sits there unread
is still at risk, so silence *keeps* the alarm's state: only a datapoint saying the queue is empty
clears it. The daily reconcile verdict is kept the same way between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from collector.reconcile import RECONCILE_DIFFERENCES
from dashboards.alarms import RUNBOOK, AlarmSpec, Severity, create_alarm
from dashboards.catalog import CollectorMetrics
from dashboards.coverage import CoveragePolicy, WorkMailMetrics, inbound_coverage_breach
from dashboards.service_metrics import error_rate, lambda_metric, queue_metric

ERROR_RATE_PERCENT = 10  # of invocations, in each of 3 consecutive 5-minute periods
BACKLOG_MINUTES = 15  # oldest event waiting in Lambda's queue, in each of 3 periods
SUSTAINED = 3  # periods (of 5 minutes) a retryable condition must last before it alarms
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING
KEEP_STATE = cw.TreatMissingData.IGNORE


@dataclass(frozen=True)
class Health:
    """The alarms, the composite that pages for the critical ones, and all of them for a widget."""

    alarms: tuple[cw.Alarm, ...]
    composite: cw.CompositeAlarm

    @property
    def all(self) -> list[cw.IAlarm]:
        return [self.composite, *self.alarms]


def collector_alarms(
    *,
    function: lambda_.IFunction,
    failure_queue: sqs.IQueue,
    metrics: CollectorMetrics,
    workmail: WorkMailMetrics | None,
    coverage: CoveragePolicy,
    synchronous: bool = False,
) -> list[AlarmSpec]:
    """Every alarm on the collector; the coverage alarm only where WorkMail is a source, the
    throttles alarm only where something invokes it synchronously (see the module's docstring)."""
    specs = [
        AlarmSpec(
            name="FailureQueueNotEmpty",
            severity=Severity.CRITICAL,
            metric=queue_metric(failure_queue, "ApproximateNumberOfMessagesVisible", "Maximum", "Messages"),
            threshold=1,
            what="The failure queue holds events the collector could not record after Lambda's retries "
            "(or, behind a synchronous rule, within its budget), or batches of the table's stream the "
            "index consumer gave up on (records not yet listed or exported); kept 14 days.",
            first="Run the failed-invocations Logs Insights query to find the cause, fix it, then replay "
            "the queue's messages with `workmail-collector replay`, which names the repair of any "
            "index batch among them.",
            anchor="critical-failurequeuenotempty",
            missing=KEEP_STATE,
        ),
        AlarmSpec(
            name="EventsDropped",
            severity=Severity.CRITICAL,
            metric=lambda_metric(function, "AsyncEventsDropped", "Sum", "Dropped"),
            threshold=1,
            what="Lambda gave up on asynchronous events after all retries or after 6 hours in its queue; "
            "they went to the failure queue (unless FailureDestinationUnreachable fires too).",
            first="Check the failure queue's depth, then run the failed-invocations query.",
            anchor="critical-eventsdropped",
            missing=NOT_BREACHING,
        ),
        AlarmSpec(
            name="FailureDestinationUnreachable",
            severity=Severity.CRITICAL,
            metric=lambda_metric(function, "DestinationDeliveryFailures", "Sum", "Delivery failures"),
            threshold=1,
            what="Lambda could not put failed events into the failure queue: those events are lost "
            "except for what the function's log shows.",
            first="Check that the failure queue exists and the function's role may sqs:SendMessage to it.",
            anchor="critical-failuredestinationunreachable",
            missing=NOT_BREACHING,
        ),
        AlarmSpec(
            name="ErrorsSustained",
            severity=Severity.CRITICAL,
            metric=error_rate(function),
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=SUSTAINED,
            datapoints_to_alarm=SUSTAINED,
            what=f"At least {ERROR_RATE_PERCENT}% of invocations failed in each of the last "
            f"{SUSTAINED} five-minute periods; retries no longer absorb it and events head for the "
            "failure queue.",
            first="Run the failed-invocations Logs Insights query and read the first error.",
            anchor="critical-errorssustained",
            missing=NOT_BREACHING,
        ),
        AlarmSpec(
            name="EventBacklog",
            severity=Severity.WARNING,
            metric=lambda_metric(function, "AsyncEventAge", "Maximum", "Oldest event (ms)"),
            threshold=Duration.minutes(BACKLOG_MINUTES).to_milliseconds(),
            evaluation_periods=SUSTAINED,
            datapoints_to_alarm=SUSTAINED,
            what=f"Events waited more than {BACKLOG_MINUTES} minutes in Lambda's queue in each of the "
            f"last {SUSTAINED} five-minute periods: a backlog is building; after 6 hours events are dropped.",
            first="Look at throttles and errors on the operations dashboard: a backlog follows one of them.",
            anchor="warning-eventbacklog",
            missing=NOT_BREACHING,
        ),
        AlarmSpec(
            name="InvalidEvents",
            severity=Severity.WARNING,
            metric=metrics.metric("InvalidEvents"),
            threshold=1,
            what="The collector received events it could not parse; each is stored in the audit table "
            "with its reason (nothing is retried: an invalid event never becomes valid).",
            first="Run the invalid-events Logs Insights query and read the reason.",
            anchor="warning-invalidevents",
            missing=NOT_BREACHING,
        ),
    ]
    if synchronous:
        specs.append(
            AlarmSpec(
                name="ThrottlesSustained",
                severity=Severity.WARNING,
                metric=lambda_metric(function, "Throttles", "Sum", "Throttles"),
                threshold=1,
                evaluation_periods=SUSTAINED,
                datapoints_to_alarm=SUSTAINED,
                what=f"Invocations were throttled in each of the last {SUSTAINED} five-minute periods: "
                "a synchronous invocation that is throttled fails back to its caller, so its event is "
                "not recorded (asynchronous ones wait in Lambda's queue: EventBacklog).",
                first="Compare ConcurrentExecutions on the operations dashboard with the function's "
                "reserved concurrency (setting reservedConcurrency).",
                anchor="warning-throttlessustained",
                missing=NOT_BREACHING,
            )
        )
    if workmail is not None:
        specs.append(
            AlarmSpec(
                name="InboundCoverageLow",
                severity=Severity.CRITICAL,
                metric=inbound_coverage_breach(metrics, workmail, coverage),
                threshold=1,
                evaluation_periods=coverage.periods,
                datapoints_to_alarm=coverage.periods,
                what=f"In {coverage.periods} consecutive {coverage.period_minutes}-minute periods WorkMail "
                f"received at least {coverage.min_messages} messages each and the collector counted less "
                f"than {coverage.threshold_percent}% of them: the email-flow rule may be edited, deleted "
                "or disabled, the invoke permission removed, or events are stuck.",
                first="Open the WorkMail console's inbound rules and check the Run Lambda rule still "
                "exists, is enabled and names the FunctionArn output.",
                anchor="critical-inboundcoveragelow",
                missing=NOT_BREACHING,
            )
        )
    return specs


def reconcile_alarms(*, function: lambda_.IFunction, metrics: CollectorMetrics) -> list[AlarmSpec]:
    """The scheduled reconcile's verdict and its own failure (only when it is deployed)."""
    return [
        AlarmSpec(
            name="ReconcileDifferences",
            severity=Severity.WARNING,
            metric=metrics.reconcile_report(RECONCILE_DIFFERENCES, "Differences"),
            threshold=1,
            what="Yesterday's metrics differ from the audit trail, or WorkMail counted more inbound "
            "mail than the trail holds (the function's log has the table).",
            first="Run `workmail-collector reconcile --days 2 --store dynamodb --table <TableName output>"
            f" --service {metrics.service}` (with --organization-id for WorkMail's count) and read"
            " its verdict.",
            anchor="warning-reconciledifferences",
            missing=KEEP_STATE,
        ),
        AlarmSpec(
            name="ReconcileFailed",
            severity=Severity.WARNING,
            metric=lambda_metric(function, "AsyncEventsDropped", "Sum", "Failed runs", Duration.hours(1)),
            threshold=1,
            what="The scheduled reconcile failed on all three attempts, so yesterday was not reconciled.",
            first="Read the reconcile function's log for the error.",
            anchor="warning-reconcilefailed",
            missing=NOT_BREACHING,
        ),
    ]


def health_alarms(scope: Construct, specs: list[AlarmSpec], *, prefix: str, topic: sns.ITopic) -> Health:
    alarms = tuple(
        create_alarm(scope, spec, prefix=prefix, topic=None if spec.severity is Severity.CRITICAL else topic)
        for spec in specs
    )
    critical = [a for a, s in zip(alarms, specs, strict=True) if s.severity is Severity.CRITICAL]
    composite = cw.CompositeAlarm(
        scope,
        "CollectorHealth",
        composite_alarm_name=f"{prefix}-CollectorHealth",
        alarm_rule=cw.AlarmRule.any_of(*(cw.AlarmRule.from_alarm(a, cw.AlarmState.ALARM) for a in critical)),
        alarm_description=(
            "Critical: the collector is unhealthy: at least one critical alarm is in ALARM (events at "
            "risk, or collection stopped). First: open the mail-flow dashboard's alarm status widget, "
            f"find the red alarm and follow its runbook line. Runbook: {RUNBOOK}#critical-collectorhealth"
        ),
    )
    composite.add_alarm_action(cw_actions.SnsAction(topic))
    composite.add_ok_action(cw_actions.SnsAction(topic))
    return Health(alarms=alarms, composite=composite)
