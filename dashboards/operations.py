"""The operations dashboard and every alarm, built with cdk-monitoring-constructs.

Why the library here (and not for the mail-flow view): Lambda, SQS and DynamoDB have standard
operational metrics, and cdk-monitoring-constructs already renders them well (invocation rate,
errors, throttles, p50/p90/p99 duration, queue depth and age, table throttles and system errors)
and creates alarms with one naming scheme and one SNS action. What it does not cover (Lambda's
asynchronous-invocation metrics, DynamoDB's account-level UserErrors, the collector's own
InvalidEvents) goes in through `monitor_custom`, so every widget and alarm still lives on one
dashboard with one alarm policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cdk_monitoring_constructs as cmc
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dashboards.catalog import CollectorMetrics

AT_LEAST_ONE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
PERIOD = Duration.minutes(5)


@dataclass(frozen=True)
class Operations:
    facade: cmc.MonitoringFacade
    dashboard: cw.Dashboard


DROPPED_HELP = (
    "Lambda dropped asynchronous events without delivering them to the failure queue. "
    "Check the function's errors."
)
INVALID_HELP = (
    "WorkMail sent events the collector could not parse; they are stored with their reason "
    "(Logs Insights query invalid-events)."
)


def _alarm_on_any(
    metric: cw.IMetric, name: str, severity: str, help_text: str
) -> cmc.CustomMetricWithAlarm:
    if not isinstance(metric, cw.Metric | cw.MathExpression):  # pragma: no cover - catalog returns these
        raise TypeError(f"cannot alarm on {type(metric).__name__}")
    """A metric that alarms on its first occurrence in a period; no data is not a breach."""
    return cmc.CustomMetricWithAlarm(
        metric=metric,
        alarm_friendly_name=name,
        add_alarm={
            severity: cmc.CustomThreshold(
                threshold=1,
                comparison_operator=AT_LEAST_ONE,
                treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                additional_description=help_text,
            )
        },
    )


def _lambda_metric(function: lambda_.IFunction, name: str, statistic: str, label: str) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"FunctionName": function.function_name},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def operations_monitoring(
    scope: Construct,
    construct_id: str,
    *,
    function: lambda_.IFunction,
    failure_queue: sqs.IQueue,
    table: dynamodb.ITable,
    metrics: CollectorMetrics,
    topic: sns.ITopic,
    dashboard_name: str,
    alarm_prefix: str,
) -> Operations:
    dashboards = cmc.DefaultDashboardFactory(
        scope,
        f"{construct_id}Dashboards",
        dashboard_name_prefix=dashboard_name,
        create_dashboard=True,
        create_summary_dashboard=False,
        create_alarm_dashboard=False,
        detail_dashboard_range=Duration.days(1),
    )
    facade = cmc.MonitoringFacade(
        scope,
        construct_id,
        alarm_factory_defaults=cmc.AlarmFactoryDefaults(
            alarm_name_prefix=alarm_prefix,
            actions_enabled=True,
            action=cmc.SnsAlarmActionStrategy(on_alarm_topic=topic),
            datapoints_to_alarm=1,
            evaluation_periods=1,
        ),
        metric_factory_defaults=cmc.MetricFactoryDefaults(period=PERIOD),
        dashboard_factory=dashboards,
    )
    facade.add_large_header("WorkMail collector: operations")

    facade.monitor_lambda_function(
        lambda_function=function,
        human_readable_name="Collector function",
        alarm_friendly_name="Function",
        is_iterator=False,
        add_fault_count_alarm={
            "Critical": cmc.ErrorCountThreshold(
                max_error_count=1,
                comparison_operator_override=AT_LEAST_ONE,
                period=PERIOD,
            )
        },
    )

    facade.monitor_custom(
        human_readable_name="Asynchronous invocations",
        alarm_friendly_name="AsyncInvocations",
        description="WorkMail invokes the function asynchronously: events wait in Lambda's queue, are "
        "retried twice, and go to the failure queue when retries or the maximum age run out.",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Async events received / dropped",
                metrics=[
                    _lambda_metric(function, "AsyncEventsReceived", "Sum", "Received"),
                    _alarm_on_any(
                        _lambda_metric(function, "AsyncEventsDropped", "Sum", "Dropped"),
                        "AsyncEventsDropped",
                        "Critical",
                        DROPPED_HELP,
                    ),
                ],
            ),
            cmc.CustomMetricGroup(
                title="Async event age (ms)",
                metrics=[
                    _lambda_metric(function, "AsyncEventAge", "p50", "p50"),
                    _lambda_metric(function, "AsyncEventAge", "Maximum", "max"),
                ],
            ),
        ],
    )

    facade.monitor_sqs_queue(
        queue=failure_queue,
        human_readable_name="Failure queue (events Lambda gave up on)",
        alarm_friendly_name="FailureQueue",
        add_queue_max_size_alarm={
            "Critical": cmc.MaxMessageCountThreshold(
                max_message_count=1,
                comparison_operator_override=AT_LEAST_ONE,
                treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
            )
        },
    )

    facade.monitor_dynamo_table(
        table=table,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        human_readable_name="Audit table",
        alarm_friendly_name="AuditTable",
    )

    facade.monitor_custom(
        human_readable_name="Errors the collector reports",
        alarm_friendly_name="CollectorErrors",
        metric_groups=[
            cmc.CustomMetricGroup(
                title="Invalid events (quarantined)",
                metrics=[
                    _alarm_on_any(metrics.metric("InvalidEvents"), "InvalidEvents", "Warning", INVALID_HELP),
                ],
            ),
            cmc.CustomMetricGroup(
                title="DynamoDB user errors (whole account and region)",
                metrics=[
                    cw.Metric(
                        namespace="AWS/DynamoDB",
                        metric_name="UserErrors",
                        statistic="Sum",
                        period=PERIOD,
                        label="UserErrors",
                    ),
                ],
            ),
        ],
    )

    dashboard = facade.created_dashboard()
    if dashboard is None:  # pragma: no cover - create_dashboard=True above
        raise RuntimeError("cdk-monitoring-constructs did not create the operations dashboard")
    return Operations(facade=facade, dashboard=dashboard)
