"""Settings: defaults that fit where the code runs, and one clear message per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ConfigError, Settings


def test_defaults_locally_and_on_lambda() -> None:
    local = Settings.from_env({"HOME": "/home/u"})
    assert local.store == "sqlite" and local.sqlite_path == Path(
        "/home/u/.local/share/workmail-collector/audit.sqlite3"
    )
    on_lambda = Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "fn"})
    assert on_lambda.store == "dynamodb" and on_lambda.service == "fn"
    assert on_lambda.retention_days == 365 and not on_lambda.redact


def test_redaction_key_is_read() -> None:
    s = Settings.from_env({"COLLECTOR_REDACT": "yes", "COLLECTOR_REDACTION_KEY": "k" * 32})
    assert s.redact and s.redaction_key == b"k" * 32


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COLLECTOR_STORE": "postgres"}, "COLLECTOR_STORE"),
        ({"COLLECTOR_STORE": "sqlite", "AWS_LAMBDA_FUNCTION_NAME": "fn"}, "COLLECTOR_STORE=sqlite keeps no"),
        ({"COLLECTOR_RETENTION_DAYS": "ten"}, "COLLECTOR_RETENTION_DAYS"),
        ({"COLLECTOR_RETENTION_DAYS": "-1"}, "COLLECTOR_RETENTION_DAYS"),
        ({"COLLECTOR_REDACT": "maybe"}, "COLLECTOR_REDACT"),
        ({"COLLECTOR_REDACT": "1", "COLLECTOR_REDACTION_KEY": "short"}, "COLLECTOR_REDACTION_KEY"),
        ({"COLLECTOR_NAMESPACE": "AWS/Lambda"}, "COLLECTOR_NAMESPACE"),
        ({"COLLECTOR_TABLE_NAME": "x"}, "COLLECTOR_TABLE_NAME"),
        ({"COLLECTOR_LOG_LEVEL": "LOUD"}, "COLLECTOR_LOG_LEVEL"),
        ({"COLLECTOR_NAMESPACE": "My Namespace"}, "COLLECTOR_NAMESPACE is not a valid CloudWatch namespace"),
        ({"COLLECTOR_SERVICE": "ünïcode"}, "COLLECTOR_SERVICE"),
        ({"COLLECTOR_SERVICE": "s" * 2000}, "COLLECTOR_SERVICE"),
        ({"COLLECTOR_RULE_MODE": "sync"}, "COLLECTOR_FAILURE_QUEUE_URL"),
        ({"COLLECTOR_SYNC_BUDGET_SECONDS": "20"}, "COLLECTOR_SYNC_BUDGET_SECONDS"),
        # What the services behind each setting accept, checked at the cold start:
        ({"COLLECTOR_TABLE_NAME": "my audit table!"}, "COLLECTOR_TABLE_NAME must be a DynamoDB table name"),
        ({"COLLECTOR_TABLE_NAME": "t" * 256}, "COLLECTOR_TABLE_NAME must be a DynamoDB table name"),
        ({"COLLECTOR_TABLE_NAME": "audit/table"}, "COLLECTOR_TABLE_NAME"),
        (
            {"COLLECTOR_FAILURE_QUEUE_URL": "not a url"},
            "COLLECTOR_FAILURE_QUEUE_URL must be an SQS queue URL",
        ),
        (
            {
                "COLLECTOR_RULE_MODE": "sync",
                "COLLECTOR_FAILURE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/q",
            },
            "COLLECTOR_FAILURE_QUEUE_URL must be an SQS queue URL",
        ),
        (
            {"COLLECTOR_FAILURE_QUEUE_URL": "arn:aws:sqs:us-east-1:123456789012:failures"},
            "COLLECTOR_FAILURE_QUEUE_URL",
        ),
        (
            {"COLLECTOR_REDACT": "true", "COLLECTOR_REDACTION_KEY_SECRET_ARN": "my-secret"},
            "COLLECTOR_REDACTION_KEY_SECRET_ARN must be a Secrets Manager secret ARN",
        ),
        (
            {"COLLECTOR_REDACTION_KEY_SECRET_ARN": "arn:aws:sqs:us-east-1:123456789012:secret:x"},
            "COLLECTOR_REDACTION_KEY_SECRET_ARN",
        ),
        ({"COLLECTOR_SQLITE_PATH": "/"}, "COLLECTOR_SQLITE_PATH must be a file path, not the folder"),
        ({"AWS_ENDPOINT_URL": "localhost:8000"}, "AWS_ENDPOINT_URL must be an endpoint URL"),
        ({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:99999"}, "AWS_ENDPOINT_URL_DYNAMODB"),
        ({"AWS_ENDPOINT_URL_SQS": "ftp://queue"}, "AWS_ENDPOINT_URL_SQS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


SECRETS = "arn:aws:secretsmanager"
GOV_SECRETS = "arn:aws-us-gov:secretsmanager"


@pytest.mark.parametrize(
    "env",
    [
        {"COLLECTOR_TABLE_NAME": "WorkMailCollector-AuditTable1A2B3C4D-1Q2W3E4R5T6Y"},
        {"COLLECTOR_TABLE_NAME": "a.b_c-d"},
        {
            "COLLECTOR_RULE_MODE": "sync",
            "COLLECTOR_FAILURE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/Collector-Failures_1",
        },
        {"COLLECTOR_FAILURE_QUEUE_URL": "http://127.0.0.1:5000/123456789012/failures.fifo"},
        {
            "COLLECTOR_REDACT": "true",
            "COLLECTOR_REDACTION_KEY_SECRET_ARN": f"{SECRETS}:us-east-1:123456789012:secret:k-AbCdEf",
        },
        {"COLLECTOR_REDACTION_KEY_SECRET_ARN": f"{GOV_SECRETS}:us-gov-west-1:123456789012:secret:k"},
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:8000",
            "AWS_ENDPOINT_URL_SQS": "https://sqs.us-east-1.amazonaws.com",
        },
        {"COLLECTOR_SQLITE_PATH": "~/audit/trail.sqlite3"},
    ],
)
def test_values_the_services_accept_pass(env: dict[str, str]) -> None:
    Settings.from_env({"HOME": "/home/u", **env})
