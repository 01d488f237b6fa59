"""The message trace on the mail-flow dashboard (`-c traceWidget=true`): a custom widget function.

Same code asset as the collector, another handler (`collector.trace_widget.handler`), and a role
that may only read the audit trail: Query on the table's time index, GetItem and BatchGetItem on
the table, and GetSecretValue on the redaction key when redaction is on. Nothing else: it writes
no record, no metric, nothing but its own log. The dashboard invokes it synchronously with the
viewer's own rights (lambda:InvokeFunction on its ARN, docs/trace.md), so no resource policy is
added here.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.functions import own_logs_and_role, stack_function
from cdk.nag import acknowledge
from cdk.table import time_index_arns
from dashboards.trace import trace_widget

HANDLER = "collector.trace_widget.handler"
# Above the widget's own 10 s reading budget per page (collector/trace_widget.py), with room for a
# cold start and the BatchGetItem of the page's whole records.
TIMEOUT = Duration.seconds(30)
MEMORY_MB = 256


class TraceWidget(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        table: dynamodb.ITable,
        redaction_key: secretsmanager.ISecret | None,
        dashboard: cw.Dashboard,
        log_retention: logs.RetentionDays,
        runtime: lambda_.Runtime,
        system_log_level: lambda_.SystemLogLevel = lambda_.SystemLogLevel.WARN,
        retention_days: int = 0,  # the table's (0: forever): the widget searches no further back
        trail: bool = False,  # the stack has the S3 trail: the widget sends the viewer there for older days
        legacy_indexes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group, self.role = own_logs_and_role(
            self,
            retention=log_retention,
            description="WorkMail collector message trace widget: read the audit trail, nothing else",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="SearchTheTimeIndex",
                actions=["dynamodb:Query"],
                resources=time_index_arns(table, legacy_indexes),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWholeRecords",
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                resources=[table.table_arn],
            )
        )
        environment = {
            "COLLECTOR_STORE": "dynamodb",
            "COLLECTOR_TABLE_NAME": table.table_name,
            "COLLECTOR_REDACT": "true" if redaction_key is not None else "false",
            "COLLECTOR_RETENTION_DAYS": str(retention_days),
        }
        if trail:
            environment["COLLECTOR_TRAIL"] = "1"
        if redaction_key is not None:
            # A searched address is hashed with the key the records were written with.
            environment["COLLECTOR_REDACTION_KEY_SECRET_ARN"] = redaction_key.secret_arn
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadRedactionKey",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[redaction_key.secret_arn],
                )
            )
        self.function = stack_function(
            self,
            description="Message trace widget on the WorkMail collector mail-flow dashboard",
            runtime=runtime,
            handler=HANDLER,
            code=code,
            memory_mb=MEMORY_MB,
            timeout=TIMEOUT,
            role=self.role,
            system_log_level=system_log_level,
            log_group=self.log_group,
            environment=environment,
        )
        dashboard.add_widgets(trace_widget(self.function))
        CfnOutput(
            scope,
            "TraceFunctionArn",
            value=self.function.function_arn,
            description="The mail-flow dashboard's trace widget: viewers need lambda:InvokeFunction on it",
        )
        self._acknowledge()

    def _acknowledge(self) -> None:
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
                "Only the dashboard calls it, synchronously, and shows any error in the widget: an "
                "asynchronous failure destination would never receive anything.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaTracing",
            "A read-only search whose answer is the widget itself; X-Ray would add xray:Put* on "
            "Resource '*' to a role kept read-only.",
        )
