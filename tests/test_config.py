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
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
