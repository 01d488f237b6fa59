"""One shape for every function of the stack: arm64, JSON logs with Lambda's own lines at the
stack's system level, its own log group and role, the construct ID `Function`; and, for the
functions beside the collector, that log group and role themselves (`Logs`, `Role`)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


def stack_function(
    scope: Construct,
    *,
    description: str,
    handler: str,
    code: lambda_.Code,
    runtime: lambda_.Runtime,
    memory_mb: int,
    timeout: Duration,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    system_log_level: lambda_.SystemLogLevel,
    environment: dict[str, str],
    **more: Any,
) -> lambda_.Function:
    """`more`: what only one function has (the collector's reserved concurrency, the exporter's
    layer)."""
    return lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=runtime,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=code,
        memory_size=memory_mb,
        timeout=timeout,
        role=role,
        logging_format=lambda_.LoggingFormat.JSON,
        system_log_level_v2=system_log_level,
        log_group=log_group,
        environment=environment,
        **more,
    )


def own_logs_and_role(
    scope: Construct, *, retention: logs.RetentionDays, description: str
) -> tuple[logs.LogGroup, iam.Role]:
    """A function's own log group (deleted with the stack: only the collector's is retained) and
    its own role, allowed to write there and nothing else yet; the caller adds what it may do."""
    log_group = logs.LogGroup(scope, "Logs", retention=retention, removal_policy=RemovalPolicy.DESTROY)
    role = iam.Role(
        scope, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )
    log_group.grant_write(role)
    return log_group, role
