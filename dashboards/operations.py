"""The operations dashboard: the function, Lambda's asynchronous queue, the failure queue, the table,
and the index consumer that writes the time index from the table's stream.

Plain aws_cloudwatch widgets, each one a question an operator asks of this stack. Generic
monitoring libraries render a fixed set per service, and here much of it cannot apply: there is no
provisioned concurrency (no spillovers), the failure queue has no consumer (no producer-vs-consumer
or time to drain), the function never reads the table (no read usage) and calls one operation,
PutItem (no per-operation errors for the others), and DynamoDB's UserErrors counts the whole
account and region, not this table.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from collector.reconcile import RECONCILE_CORRECTIONS, RECONCILE_DIFFERENCES
from dashboards.catalog import CollectorMetrics
from dashboards.service_metrics import error_rate, lambda_metric, queue_metric, table_metric

WIDTH = 24
HEIGHT = 6
COUNT_AXIS = cw.YAxisProps(min=0, show_units=False)


def _graph(title: str, left: Sequence[cw.IMetric], width: int = WIDTH // 3) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=left, left_y_axis=COUNT_AXIS, width=width, height=HEIGHT)


def _header(text: str) -> cw.TextWidget:
    return cw.TextWidget(markdown=text, width=WIDTH, height=1)


def operations_dashboard(
    scope: Construct,
    construct_id: str,
    *,
    function: lambda_.IFunction,
    failure_queue: sqs.IQueue,
    table: dynamodb.ITable,
    metrics: CollectorMetrics,
    alarms: list[cw.IAlarm],
    dashboard_name: str,
    reconcile: lambda_.IFunction | None = None,
    index_consumer: lambda_.IFunction | None = None,
    index_gives_up: Duration | None = None,  # its event source mapping's maximum record age
) -> cw.Dashboard:
    dashboard = cw.Dashboard(
        scope,
        construct_id,
        dashboard_name=dashboard_name,
        default_interval=Duration.days(1),
        period_override=cw.PeriodOverride.INHERIT,
    )
    dashboard.add_widgets(
        cw.TextWidget(markdown="# WorkMail collector: operations", width=WIDTH, height=1),
        cw.AlarmStatusWidget(alarms=alarms, title="Alarms", width=WIDTH, height=3),
    )

    dashboard.add_widgets(_header("## Collector function"))
    dashboard.add_widgets(
        _graph(
            "Invocations and errors",
            [
                lambda_metric(function, "Invocations", "Sum", "Invocations"),
                lambda_metric(function, "Errors", "Sum", "Errors"),
            ],
        ),
        _graph("Error rate (%)", [error_rate(function)]),
        _graph(
            "Throttles and concurrency",
            [
                lambda_metric(function, "Throttles", "Sum", "Throttles"),
                lambda_metric(function, "ConcurrentExecutions", "Maximum", "Concurrent executions"),
            ],
        ),
    )
    dashboard.add_widgets(
        _graph(
            "Duration (ms)",
            [lambda_metric(function, "Duration", p, p) for p in ("p50", "p90", "p99")]
            + [lambda_metric(function, "Duration", "Maximum", "max")],
        ),
        _graph(
            "Asynchronous events: received, dropped, undeliverable",
            [
                lambda_metric(function, "AsyncEventsReceived", "Sum", "Received"),
                lambda_metric(function, "AsyncEventsDropped", "Sum", "Dropped (to the failure queue)"),
                lambda_metric(function, "DestinationDeliveryFailures", "Sum", "Not delivered to the queue"),
            ],
        ),
        _graph(
            "Age of events in Lambda's queue (ms)",
            [
                lambda_metric(function, "AsyncEventAge", "p50", "p50"),
                lambda_metric(function, "AsyncEventAge", "Maximum", "max"),
            ],
        ),
    )

    dashboard.add_widgets(
        _header("## Failure queue (events, and index consumer batches, Lambda gave up on; kept 14 days)")
    )
    dashboard.add_widgets(
        _graph(
            "Events in the failure queue",
            [
                queue_metric(failure_queue, "ApproximateNumberOfMessagesVisible", "Maximum", "Waiting"),
                queue_metric(failure_queue, "NumberOfMessagesSent", "Sum", "Arrived"),
            ],
            width=WIDTH // 2,
        ),
        _graph(
            "Oldest event in the failure queue (s)",
            [queue_metric(failure_queue, "ApproximateAgeOfOldestMessage", "Maximum", "Oldest")],
            width=WIDTH // 2,
        ),
    )

    dashboard.add_widgets(_header("## Audit table (the function's one call: PutItem)"))
    dashboard.add_widgets(
        _graph(
            "Write capacity consumed",
            [table_metric(table, "ConsumedWriteCapacityUnits", "Sum", "Write units")],
        ),
        _graph(
            "Write throttles and PutItem system errors",
            [
                table_metric(table, "WriteThrottleEvents", "Sum", "Write throttles"),
                table_metric(table, "SystemErrors", "Sum", "PutItem system errors", operation="PutItem"),
            ],
        ),
        _graph(
            "PutItem latency (ms)",
            [
                table_metric(table, "SuccessfulRequestLatency", s, s, operation="PutItem")
                for s in ("Average", "Maximum")
            ],
        ),
    )

    dashboard.add_widgets(_header("## What the collector reports"))
    dashboard.add_widgets(
        _graph(
            "Invalid events (quarantined) and conflicts",
            [metrics.metric("InvalidEvents"), metrics.metric("Conflicts")],
            width=WIDTH,
        ),
    )
    if index_consumer is not None:
        add_index_consumer(dashboard, index_consumer, index_gives_up)
    if reconcile is not None:
        add_reconcile(dashboard, reconcile, metrics)
    return dashboard


def add_index_consumer(
    dashboard: cw.Dashboard, function: lambda_.IFunction, gives_up: Duration | None
) -> None:
    """How far behind the table's stream the time index is: it has no alarm of its own (a batch it
    gives up on, failing or too old, goes to the failure queue), so its lag is shown here."""
    limit = f"; over {gives_up.to_human_string()} a record goes to the failure queue" if gives_up else ""
    dashboard.add_widgets(_header("## Index consumer (writes the time index from the table's stream)"))
    dashboard.add_widgets(
        _graph(
            "Batches and errors",
            [
                lambda_metric(function, "Invocations", "Sum", "Batches"),
                lambda_metric(function, "Errors", "Sum", "Errors (retried, then halved)"),
            ],
            width=WIDTH // 2,
        ),
        _graph(
            f"Oldest record read (ms){limit}",
            [lambda_metric(function, "IteratorAge", "Maximum", "Oldest record read")],
            width=WIDTH // 2,
        ),
    )


def add_reconcile(dashboard: cw.Dashboard, function: lambda_.IFunction, metrics: CollectorMetrics) -> None:
    """The daily reconcile: did it run, did it fail, what did it find and correct."""
    daily = Duration.days(1)

    dashboard.add_widgets(_header("## Daily reconcile (metrics against the audit trail and WorkMail)"))
    dashboard.add_widgets(
        _graph(
            "Reconcile runs",
            [
                lambda_metric(function, "Invocations", "Sum", "Runs", daily),
                lambda_metric(function, "Errors", "Sum", "Failed attempts", daily),
            ],
            width=WIDTH // 2,
        ),
        _graph(
            "Differences found and corrections written",
            [
                metrics.reconcile_report(RECONCILE_DIFFERENCES, "Differences"),
                metrics.reconcile_report(RECONCILE_CORRECTIONS, "Corrections"),
            ],
            width=WIDTH // 2,
        ),
    )
