"""The collector's stack: function, audit table, failure queue, WorkMail permission, observability.

Everything a WorkMail administrator needs before creating the email-flow rule; the rule itself has
no API or CloudFormation resource and is created in the WorkMail console (docs/deploy.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from aws_cdk import (
    ArnFormat,
    AssetHashType,
    Aws,
    CfnOutput,
    CfnResource,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.asset import asset_hash
from cdk.destinations import SendOnlyQueueDestination
from cdk.functions import stack_function
from cdk.index_consumer import MAX_RECORD_AGE, IndexConsumer
from cdk.nag import acknowledge
from cdk.reconcile import ScheduledReconcile
from cdk.ses import wire_ses
from cdk.settings import StackSettings
from cdk.table import audit_table
from cdk.trace import TraceWidget
from cdk.trail import Trail
from collector.metrics import features_for
from collector.store.schema import AUDIT_TABLE
from dashboards import CollectorMetrics, CoveragePolicy, Observability, WorkMailMetrics, dashboard_url

HANDLER = "collector.handler.handler"
RUNTIME = lambda_.Runtime.PYTHON_3_13
MEMORY_MB = 256
TIMEOUT = Duration.seconds(30)
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(6)
QUEUE_RETENTION = Duration.days(14)

RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class CollectorStack(Stack):
    """One collector for one WorkMail organization."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        asset_dir: Path,
        trail_layer_dir: Path | None = None,  # built on demand with the trail on (cdk/trail_layer.py)
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        service = self.stack_name  # the `Service` dimension: stable across function replacements

        self.table = audit_table(
            self,
            "AuditTable",
            AUDIT_TABLE.with_legacy(settings.legacy_indexes, current=settings.sharded_index),
            settings.table_class,
        )

        self.failure_queue = sqs.Queue(
            self,
            "FailureQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,  # it may hold events not yet replayed: drain, then delete
        )
        acknowledge(
            self.failure_queue,
            "AwsSolutions-SQS3",
            "This queue is the function's on-failure destination, i.e. the dead-letter queue itself.",
        )
        acknowledge(
            self.failure_queue,
            "Serverless-SQSRedrivePolicy",
            "Dead-letter queue of last resort: nothing consumes it, an alarm fires on any message "
            "and an operator replays or inspects it; a redrive policy would have nowhere to go.",
        )

        self.log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=RETENTION[settings.log_retention_days],
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="WorkMail collector: write logs, Put/GetItem on its table, send failures to a queue",
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteAuditRecords",
                # GetItem: only for an invalid payload, to find it where older versions kept it.
                actions=["dynamodb:PutItem", "dynamodb:GetItem"],
                resources=[self.table.table_arn],
            )
        )

        environment = {
            "COLLECTOR_STORE": "dynamodb",
            "COLLECTOR_TABLE_NAME": self.table.table_name,
            "COLLECTOR_NAMESPACE": settings.namespace,
            "COLLECTOR_SERVICE": service,
            "COLLECTOR_RETENTION_DAYS": str(settings.retention_days),
            "COLLECTOR_REDACT": "true" if settings.redact else "false",
            "COLLECTOR_ENRICH": "true" if settings.enrichment else "false",
            "COLLECTOR_RULE_MODE": settings.rule_mode,
            # Each record is written once, without its time-index entry: the index consumer pages it.
            "COLLECTOR_TIME_INDEX": "stream",
        }
        if settings.sources != StackSettings.sources:  # the default, workmail, stays implicit
            environment["COLLECTOR_SOURCES"] = ",".join(s.value.lower() for s in settings.sources)
        if settings.rule_mode == "sync":
            # Behind a synchronous rule WorkMail waits for the answer: an event that cannot be
            # recorded within the budget is kept in the failure queue and WorkMail gets DEFAULT.
            environment["COLLECTOR_FAILURE_QUEUE_URL"] = self.failure_queue.queue_url
        self.redaction_key: secretsmanager.Secret | None = None
        if settings.redact:
            # Only the ARN is in the configuration; the collector reads the key once per container.
            self.redaction_key = self._redaction_key()
            environment["COLLECTOR_REDACTION_KEY_SECRET_ARN"] = self.redaction_key.secret_arn

        # Lambda's own lines on every function: WARN keeps failures, drops start/report (settings.py).
        system_log_level = lambda_.SystemLogLevel(settings.system_log_level)
        # One asset for every function: hashed once, uploaded once.
        code = lambda_.Code.from_asset(
            str(asset_dir), asset_hash=asset_hash(asset_dir), asset_hash_type=AssetHashType.CUSTOM
        )
        self.function = stack_function(
            self,
            description="Records Amazon WorkMail email-flow events (asynchronous Run Lambda rule)",
            runtime=RUNTIME,
            handler=HANDLER,
            code=code,
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            role=self.role,
            system_log_level=system_log_level,
            log_group=self.log_group,
            reserved_concurrent_executions=settings.reserved_concurrency,
            environment=environment,
        )
        for rule in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
            acknowledge(
                self.function,
                rule,
                "Pinned to Python 3.13 on purpose: the asset's compiled wheels (orjson, aiohttp) are "
                "built for cp313 (cdk/asset.py); runtime and wheels must move together.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Failed asynchronous events go to the on-failure destination (EventInvokeConfig), which "
            "also records the error and the attempt count; a DeadLetterConfig would duplicate it.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaTracing",
            "X-Ray adds xray:Put* on Resource '*' to the role and traces one PutItem per call; "
            "latency and failures are covered by the operations dashboard and alarms.",
        )
        if self.redaction_key is not None:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadRedactionKey",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self.redaction_key.secret_arn],
                )
            )
        if settings.enrichment and settings.organization_id is not None:
            self._allow_message_reads(settings.organization_id)

        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=SendOnlyQueueDestination(self.failure_queue),
        )

        if settings.workmail and settings.organization_id is not None:
            self.function.add_permission(
                "InvokeFromWorkMail",
                principal=iam.ServicePrincipal(Fn.join("", ["workmail.", Aws.REGION, ".amazonaws.com"])),
                action="lambda:InvokeFunction",
                source_account=Aws.ACCOUNT_ID,
                source_arn=self.format_arn(
                    service="workmail",
                    resource="organization",
                    resource_name=settings.organization_id,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                ),
            )
        if settings.ses.inbound or settings.ses.outbound:
            wire_ses(self, function=self.function, failure_queue=self.failure_queue, settings=settings.ses)

        self.reconcile: ScheduledReconcile | None = None
        if settings.reconcile:
            self.reconcile = ScheduledReconcile(
                self,
                "Reconcile",
                settings=settings,
                code=code,
                table=self.table,
                service=service,
                log_retention=RETENTION[settings.log_retention_days],
                runtime=RUNTIME,
            )

        self.trail: Trail | None = None
        # The long-term trail in S3 (docs/deploy.md, "The trail in S3"), before the dashboards: its
        # alarm is made on their topic and shown on them.
        if settings.trail.enabled:
            self.trail = Trail(
                self,
                "Trail",
                settings=settings.trail,
                table=self.table,
                code=code,
                runtime=RUNTIME,
                system_log_level=system_log_level,
                hot_days=settings.retention_days,
                log_retention=RETENTION[settings.log_retention_days],
                # The retention too: a late-marked day the table no longer holds whole is not read again.
                environment={
                    k: environment[k]
                    for k in ("COLLECTOR_STORE", "COLLECTOR_TABLE_NAME", "COLLECTOR_RETENTION_DAYS")
                },
                layer_dir=trail_layer_dir,
                legacy_indexes=settings.legacy_indexes,
            )
            CfnOutput(
                self, "TrailBucketName", value=self.trail.bucket.bucket_name, description="The S3 trail"
            )
            CfnOutput(self, "TrailWorkGroup", value=self.trail.workgroup.ref, description="Athena workgroup")
            CfnOutput(
                self,
                "TrailDatabase",
                value=settings.trail.database,
                description="Glue database (audit --athena-database)",
            )
            CfnOutput(
                self,
                "TrailExportFunctionName",
                value=self.trail.function.function_name,
                description="Invoke with first_day/last_day to export (or backfill) other days",
            )

        # The time index, written from the table's stream in every deployment (docs/deploy.md, "The
        # index consumer"); with the trail on it also marks days paged after their export.
        self.index = IndexConsumer(
            self,
            "IndexConsumer",
            table=self.table,
            code=code,
            runtime=RUNTIME,
            system_log_level=system_log_level,
            log_retention=RETENTION[settings.log_retention_days],
            failure_queue=self.failure_queue,
            trail_bucket=self.trail.bucket if self.trail is not None else None,
        )
        # No record is written unindexed before the mapping exists (TRIM_HORIZON then reads the
        # stream from its start, which keeps 24 hours anyway).
        cast(CfnResource, self.function.node.default_child).add_resource_dependency(
            cast(CfnResource, self.index.mapping.node.default_child)
        )

        self.observability = Observability(
            self,
            "Observability",
            function=self.function,
            log_group=self.log_group,
            table=self.table,
            failure_queue=self.failure_queue,
            metrics=CollectorMetrics(
                namespace=settings.namespace,
                service=service,
                features=features_for(settings.enrichment, settings.sources),
                sources=tuple(source.value for source in settings.sources),
            ),
            workmail=WorkMailMetrics(settings.organization_id, settings.workmail_metric_dimension)
            if settings.workmail and settings.organization_id is not None
            else None,
            coverage=CoveragePolicy(settings.coverage_threshold, settings.coverage_min_messages),
            alarm_email=settings.alarm_email,
            synchronous=settings.synchronous,
            index_consumer=self.index.function,
            index_gives_up=MAX_RECORD_AGE,
            reconcile=self.reconcile.function if self.reconcile is not None else None,
            more_alarms=self._more_alarms,
        )

        self.trace: TraceWidget | None = None
        if settings.trace_widget:
            self.trace = TraceWidget(
                self,
                "Trace",
                code=code,
                table=self.table,
                redaction_key=self.redaction_key,
                dashboard=self.observability.mail_flow,
                log_retention=RETENTION[settings.log_retention_days],
                runtime=RUNTIME,
                system_log_level=system_log_level,
                retention_days=settings.retention_days,
                trail=settings.trail.enabled,
                legacy_indexes=settings.legacy_indexes,
            )

        CfnOutput(
            self,
            "FunctionArn",
            value=self.function.function_arn,
            description="Choose this function in the WorkMail 'Run Lambda' email-flow rule",
        )
        CfnOutput(
            self,
            "TableName",
            value=self.table.table_name,
            description="Audit table (retained when the stack is deleted)",
        )
        CfnOutput(
            self,
            "FailureQueueUrl",
            value=self.failure_queue.queue_url,
            description="Events Lambda could not process after its retries, and index batches it gave up on",
        )
        CfnOutput(self, "MailFlowDashboardUrl", value=dashboard_url(self.observability.mail_flow))
        CfnOutput(self, "OperationsDashboardUrl", value=dashboard_url(self.observability.operations))
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.observability.topic.topic_arn,
            description="Subscribe more endpoints here to receive the collector's alarms",
        )
        if self.redaction_key is not None:
            CfnOutput(
                self,
                "RedactionKeySecretArn",
                value=self.redaction_key.secret_arn,
                description="HMAC key for redacted fields (retained: redacted lookups need it)",
            )

    def _more_alarms(self, topic: sns.ITopic) -> list[cw.IAlarm]:
        """The alarms other constructs make on the stack's topic: the trail's."""
        return self.trail.alarms_on(topic) if self.trail is not None else []

    def _allow_message_reads(self, organization_id: str) -> None:
        """Enrichment reads each message's raw MIME: GetRawMessageContent on this organization only."""
        messages = self.format_arn(
            service="workmailmessageflow",
            resource="message",
            resource_name=f"{organization_id}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadMessagesOfThisOrganization",
                actions=["workmailmessageflow:GetRawMessageContent"],
                resources=[messages],
            )
        )
        finding = (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:workmailmessageflow:<AWS::Region>:"
            f"<AWS::AccountId>:message/{organization_id}/*]"
        )
        acknowledge(
            self.role,
            finding,
            "Message IDs are only known per event, so the read is scoped to this organization's "
            "messages (message/<organizationId>/*), the narrowest ARN the message-flow API has.",
        )

    def _redaction_key(self) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            "RedactionKey",
            description="HMAC-SHA256 key the WorkMail collector uses to redact addresses and subjects",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64,
                exclude_punctuation=True,
            ),
            # Redacted values in the retained table can only be looked up with the same key.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Rotating the HMAC key would make every stored redacted value unjoinable with new "
            "ones; the key never leaves Secrets Manager and the function's process memory.",
        )
        return secret
