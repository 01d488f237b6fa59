"""Dashboards, alarms and saved log queries for a deployed collector.

Kept apart from the stack so the observability layer reads as one unit and can be reused by any
stack that deploys the collector: hand it the function, its log group, table and failure queue.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Aws, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dashboards.alarms import AlarmSpec, Severity, alarm_topic
from dashboards.catalog import CollectorMetrics, UnknownMetricError
from dashboards.coverage import CoveragePolicy, WorkMailMetrics
from dashboards.health import Health, collector_alarms, health_alarms, reconcile_alarms
from dashboards.mail_flow import mail_flow_dashboard
from dashboards.operations import operations_dashboard
from dashboards.queries import audit_queries

__all__ = [
    "AlarmSpec",
    "CollectorMetrics",
    "CoveragePolicy",
    "Observability",
    "Severity",
    "UnknownMetricError",
    "WorkMailMetrics",
    "dashboard_url",
]


def dashboard_url(dashboard: cw.Dashboard) -> str:
    """Console link for a dashboard in the stack's region (a CloudFormation expression)."""
    return Fn.join(
        "",
        [
            "https://",
            Aws.REGION,
            ".console.aws.amazon.com/cloudwatch/home?region=",
            Aws.REGION,
            "#dashboards:name=",
            dashboard.dashboard_name,
        ],
    )


class Observability(Construct):
    """Alarms (with the composite health alarm), the mail-flow and operations dashboards, the
    alarm topic, and the Logs Insights queries."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        log_group: logs.ILogGroup,
        table: dynamodb.ITable,
        failure_queue: sqs.IQueue,
        metrics: CollectorMetrics,
        workmail: WorkMailMetrics | None,
        coverage: CoveragePolicy,
        alarm_email: str | None,
        synchronous: bool = False,  # something invokes the collector synchronously (dashboards/health.py)
        # The index consumer and its mapping's maximum record age: shown on the operations dashboard.
        index_consumer: lambda_.IFunction | None = None,
        index_gives_up: Duration | None = None,
        reconcile: lambda_.IFunction | None = None,
        # Alarms other parts of the stack make on this topic (the trail's): on the dashboards too.
        more_alarms: Callable[[sns.ITopic], list[cw.IAlarm]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = Stack.of(self).stack_name
        self.topic: sns.Topic = alarm_topic(self, "AlarmTopic", email=alarm_email)
        specs = collector_alarms(
            function=function,
            failure_queue=failure_queue,
            metrics=metrics,
            workmail=workmail,
            coverage=coverage,
            synchronous=synchronous,
        )
        if reconcile is not None:
            specs += reconcile_alarms(function=reconcile, metrics=metrics)
        self.health: Health = health_alarms(self, specs, prefix=prefix, topic=self.topic)
        shown = self.health.all + (more_alarms(self.topic) if more_alarms is not None else [])
        self.mail_flow: cw.Dashboard = mail_flow_dashboard(
            self,
            "MailFlow",
            metrics=metrics,
            dashboard_name=f"{prefix}-MailFlow",
            alarms=shown,
            failure_queue=failure_queue,
            workmail=workmail,
            coverage=coverage,
        )
        self.operations: cw.Dashboard = operations_dashboard(
            self,
            "Operations",
            function=function,
            failure_queue=failure_queue,
            table=table,
            metrics=metrics,
            alarms=shown,
            dashboard_name=f"{prefix}-Operations",
            reconcile=reconcile,
            index_consumer=index_consumer,
            index_gives_up=index_gives_up,
        )
        self.queries: list[logs.QueryDefinition] = audit_queries(self, log_group=log_group, folder=prefix)
