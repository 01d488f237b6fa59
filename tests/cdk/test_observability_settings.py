"""The coverage and reconcile settings: defaults, CLI strings and cdk.json types, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.settings import SettingsError, StackSettings
from tests.cdk.support import ORG_ID


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get)


def test_defaults() -> None:
    s = settings()
    assert (s.coverage_threshold, s.coverage_min_messages) == (80, 5)
    assert s.workmail_metric_dimension == "OrganizationId"
    assert (s.reconcile, s.reconcile_fix) == (False, False)


def test_strings_and_json_types() -> None:
    from_cli = settings(
        coverageThreshold="55",
        coverageMinMessages="3",
        workmailMetricDimension="OrganizationName",
        reconcile="yes",
        reconcileFix="true",
    )
    from_json = settings(
        coverageThreshold=55,
        coverageMinMessages=3,
        workmailMetricDimension="OrganizationName",
        reconcile=True,
        reconcileFix=True,
    )
    assert from_cli == from_json
    assert (from_cli.coverage_threshold, from_cli.coverage_min_messages) == (55, 3)
    assert from_cli.workmail_metric_dimension == "OrganizationName"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"coverageThreshold": "0"}, r"coverageThreshold must be a percentage between 1 and 100"),
        ({"coverageThreshold": "101"}, r"coverageThreshold must be a percentage"),
        ({"coverageThreshold": "ninety"}, r"coverageThreshold must be a whole number"),
        ({"coverageMinMessages": "0"}, r"coverageMinMessages must be between 1 and 1000000"),
        ({"workmailMetricDimension": ":Org"}, r"workmailMetricDimension must be a CloudWatch dimension name"),
        ({"workmailMetricDimension": "Org Id"}, r"list-metrics --namespace AWS/WorkMail"),
        ({"reconcile": "maybe"}, r"reconcile must be true or false"),
        ({"reconcileFix": "true"}, r"reconcileFix=true needs reconcile=true"),
    ],
)
def test_bad_values_name_the_key(context: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**context)
