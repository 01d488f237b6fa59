"""The optional scheduled reconcile (`-c reconcile=true`): the last five days, every day at 01:30 UTC.

Same code asset as the collector, another handler (`collector.reconcile_handler.handler`), and a
role of its own that can only read: Query on the table's time index, BatchGetItem of its index pages
only (a `dynamodb:LeadingKeys` condition on `page#`, collector/store/pages.py), and GetMetricData. With
`-c reconcileFix=true` it may also write corrections: PutMetricData only into the collector's
namespace (a `cloudwatch:namespace` condition), and GetItem/PutItem only on ledger items (a
`dynamodb:LeadingKeys` condition on the `reconcile:` prefix), never on a record.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.functions import own_logs_and_role, stack_function
from cdk.nag import acknowledge
from cdk.settings import StackSettings
from cdk.table import time_index_arns
from collector.reconcile import LEDGER_PREFIX
from collector.store.pages import PAGE_PREFIX

HANDLER = "collector.reconcile_handler.handler"
TIMEOUT = Duration.minutes(5)
MEMORY_MB = 256
SCHEDULE = events.Schedule.cron(minute="30", hour="1")  # UTC: yesterday's metrics are all in by then


class ScheduledReconcile(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        code: lambda_.Code,
        table: dynamodb.ITable,
        service: str,
        log_retention: logs.RetentionDays,
        runtime: lambda_.Runtime,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group, self.role = own_logs_and_role(
            self,
            retention=log_retention,
            description="WorkMail collector reconcile: read the time index and metrics"
            + (", write corrections and their ledger" if settings.reconcile_fix else ""),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="TallyTheAuditTrail",
                actions=["dynamodb:Query"],
                # During a migration from the unsharded time index, the reader uses it until the
                # sharded one is ACTIVE (collector/store/dynamodb.py): both, while the table has both.
                resources=time_index_arns(table, settings.legacy_indexes),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadIndexPages",
                actions=["dynamodb:BatchGetItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{PAGE_PREFIX}*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="ReadMetricSums", actions=["cloudwatch:GetMetricData"], resources=["*"])
        )
        findings = ["AwsSolutions-IAM5[Resource::*]"]
        if settings.reconcile_fix:
            self._allow_corrections(table, settings.namespace)
        environment = {
            "COLLECTOR_STORE": "dynamodb",
            "COLLECTOR_TABLE_NAME": table.table_name,
            "COLLECTOR_NAMESPACE": settings.namespace,
            "COLLECTOR_SERVICE": service,
            "COLLECTOR_RETENTION_DAYS": str(settings.retention_days),
            "COLLECTOR_RECONCILE_FIX": "true" if settings.reconcile_fix else "false",
        }
        if settings.workmail and settings.organization_id is not None:  # WorkMail's own count too
            environment.update(
                COLLECTOR_WORKMAIL_ORGANIZATION_ID=settings.organization_id,
                COLLECTOR_WORKMAIL_METRIC_DIMENSION=settings.workmail_metric_dimension,
                COLLECTOR_RECONCILE_MIN_COVERAGE=str(settings.coverage_threshold),
                COLLECTOR_RECONCILE_MIN_MESSAGES=str(settings.coverage_min_messages),
            )
        self.function = stack_function(
            self,
            description="Reconciles recent days' collector metrics with its audit trail and WorkMail",
            runtime=runtime,
            handler=HANDLER,
            code=code,
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            role=self.role,
            system_log_level=lambda_.SystemLogLevel(settings.system_log_level),
            log_group=self.log_group,
            environment=environment,
        )
        # A failed run is retried twice (the ledger makes that safe); ReconcileFailed alarms after that.
        self.function.configure_async_invoke(retry_attempts=2, max_event_age=Duration.hours(1))
        self.rule = events.Rule(
            self,
            "Daily",
            description="Reconcile the last days (UTC, ending yesterday) once a day",
            schedule=SCHEDULE,
            targets=[targets.LambdaFunction(self.function)],
        )
        self._acknowledge(findings)

    def _allow_corrections(self, table: dynamodb.ITable, namespace: str) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteCorrectionsIntoTheCollectorNamespace",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="KeepTheCorrectionLedger",
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{LEDGER_PREFIX}*"]}},
            )
        )

    def _acknowledge(self, findings: list[str]) -> None:
        for finding in findings:
            acknowledge(
                self.role,
                finding,
                "cloudwatch:GetMetricData and PutMetricData have no resource-level permissions; "
                "PutMetricData is limited to the collector's namespace by a cloudwatch:namespace condition.",
            )
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.function,
                rule,
                "Same asset and runtime as the collector: its compiled wheels are built for cp313 "
                "(cdk/asset.py); runtime and wheels must move together.",
            )
        for rule in ("Serverless-LambdaDLQ", "Serverless-LambdaAsyncFailureDestination"):
            acknowledge(
                self.function,
                rule,
                "A failed run is a schedule tick with no payload: nothing to keep. It is retried twice, "
                "the ReconcileFailed alarm fires after that, and `reconcile --days N` re-runs any day.",
            )
        acknowledge(
            self.rule,
            "Serverless-EventBusDLQ",
            "The target gets an empty daily tick: a dead-letter queue would keep nothing worth "
            "replaying. A missed day is re-run with `workmail-collector reconcile --days N`.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaTracing",
            "One short daily job: its log holds the whole report, and X-Ray would add xray:Put* on "
            "Resource '*' to a role kept read-only.",
        )
