"""Dashboards, alarms and saved log queries for a deployed collector.

Kept apart from the stack so the observability layer reads as one unit and can be reused by any
stack that deploys the collector: hand it the function, its log group, table and failure queue.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from dashboards.alarms import alarm_topic
from dashboards.catalog import CollectorMetrics, UnknownMetricError
from dashboards.mail_flow import mail_flow_dashboard
from dashboards.operations import operations_monitoring
from dashboards.queries import audit_queries

__all__ = ["CollectorMetrics", "Observability", "UnknownMetricError", "dashboard_url"]


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
    """Mail-flow dashboard, operations dashboard with alarms, alarm topic, Logs Insights queries."""

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
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = Stack.of(self).stack_name
        self.topic: sns.Topic = alarm_topic(self, "AlarmTopic", email=alarm_email)
        self.mail_flow: cw.Dashboard = mail_flow_dashboard(
            self,
            "MailFlow",
            metrics=metrics,
            dashboard_name=f"{prefix}-MailFlow",
        )
        operations = operations_monitoring(
            self,
            "Operations",
            function=function,
            failure_queue=failure_queue,
            table=table,
            metrics=metrics,
            topic=self.topic,
            dashboard_name=f"{prefix}-Operations",
            alarm_prefix=prefix,
        )
        self.operations: cw.Dashboard = operations.dashboard
        self.queries: list[logs.QueryDefinition] = audit_queries(self, log_group=log_group, folder=prefix)
