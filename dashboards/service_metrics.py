"""The AWS service metrics the dashboards and alarms read: Lambda, SQS and DynamoDB, one helper each.

Only what applies to this stack: the function is invoked asynchronously (or synchronously behind a
sync rule) without provisioned concurrency, the failure queue has no consumer, and the function
calls one DynamoDB operation, PutItem.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

PERIOD = Duration.minutes(5)


def lambda_metric(
    function: lambda_.IFunction, name: str, statistic: str, label: str, period: Duration = PERIOD
) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"FunctionName": function.function_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def queue_metric(
    queue: sqs.IQueue, name: str, statistic: str, label: str, period: Duration = PERIOD
) -> cw.Metric:
    return cw.Metric(
        namespace="AWS/SQS",
        metric_name=name,
        dimensions_map={"QueueName": queue.queue_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def table_metric(
    table: dynamodb.ITable,
    name: str,
    statistic: str,
    label: str,
    operation: str | None = None,
    period: Duration = PERIOD,
) -> cw.Metric:
    dimensions = {"TableName": table.table_name}
    if operation is not None:
        dimensions["Operation"] = operation
    return cw.Metric(
        namespace="AWS/DynamoDB",
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
        label=label,
    )


def error_rate(function: lambda_.IFunction, period: Duration = PERIOD) -> cw.MathExpression:
    """Errors per invocation in percent; no datapoint in a period without invocations (÷0 drops it)."""
    return cw.MathExpression(
        expression="100 * errors / invocations",
        using_metrics={
            "errors": lambda_metric(function, "Errors", "Sum", "Errors", period),
            "invocations": lambda_metric(function, "Invocations", "Sum", "Invocations", period),
        },
        label="Error rate (%)",
        period=period,
    )
