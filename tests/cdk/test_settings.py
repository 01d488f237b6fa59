"""Context settings: a clear error for every bad value, CLI strings and cdk.json types alike."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.app import build_app
from cdk.settings import SettingsError, StackSettings
from tests.cdk.support import ORG_ID


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context(context.get)


def test_defaults_need_only_the_organization() -> None:
    s = settings(organizationId=ORG_ID)
    assert s == StackSettings(organization_id=ORG_ID)
    # The trail in S3 keeps the year; the table a 7-day hot window, in the Standard class.
    assert s.trail.enabled and (s.retention_days, s.table_class) == (7, "standard")
    assert s.system_log_level == "WARN"
    assert (s.log_retention_days, s.redact, s.alarm_email) == (90, False, None)
    assert s.enrichment is False
    assert (s.namespace, s.reserved_concurrency) == ("WorkMailCollector", 10)
    assert s.stack_name == "WorkMailCollector"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_organization_id_says_how_to_pass_it(value: str | None) -> None:
    with pytest.raises(SettingsError, match=r"organizationId is required.*-c organizationId=m-"):
        settings(organizationId=value)


@pytest.mark.parametrize(
    "value",
    [
        "m-0123",
        "0123456789abcdef0123456789abcdef",
        "m-0123456789abcdef0123456789abcdeg",
        "m-0123456789abcdef0123456789abcdef0",
        "o-0123456789abcdef0123456789abcdef",
        "arn:aws:workmail:us-east-1:111122223333:organization/m-0123456789abcdef0123456789abcdef",
    ],
)
def test_malformed_organization_id_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match=r"organizationId must be 'm-' followed by 32 hexadecimal"):
        settings(organizationId=value)


def test_organization_id_is_lower_cased_as_workmail_spells_it() -> None:
    assert settings(organizationId=" M-0123456789ABCDEF0123456789ABCDEF ").organization_id == ORG_ID


def test_cli_strings_and_json_values_mean_the_same() -> None:
    from_cli = settings(
        organizationId=ORG_ID,
        retentionDays="30",
        redact="true",
        reservedConcurrency="5",
        logRetentionDays="365",
        enrichment="yes",
    )
    from_json = settings(
        organizationId=ORG_ID,
        retentionDays=30,
        redact=True,
        reservedConcurrency=5,
        logRetentionDays=365,
        enrichment=True,
    )
    assert from_cli == from_json
    assert (from_cli.retention_days, from_cli.redact, from_cli.reserved_concurrency) == (30, True, 5)


@pytest.mark.parametrize("value", ["none", "None", "unreserved", ""])
def test_reserved_concurrency_can_be_switched_off(value: str) -> None:
    assert settings(organizationId=ORG_ID, reservedConcurrency=value).reserved_concurrency is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retentionDays", "-1", "retentionDays must be between 0"),
        ("retentionDays", "a year", "retentionDays must be a whole number"),
        ("retentionDays", True, "retentionDays must be a whole number"),
        ("logRetentionDays", "42", "logRetentionDays must be one of"),
        ("redact", "maybe", "redact must be true or false"),
        ("enrichment", "sometimes", "enrichment must be true or false"),
        ("alarmEmail", "not-an-address", "alarmEmail must be an e-mail address"),
        ("namespace", "AWS/Lambda", "namespace must be 1-255 characters and not start with 'AWS/'"),
        ("reservedConcurrency", "0", "reservedConcurrency must be between 1 and 1000"),
        ("reservedConcurrency", 5000, "reservedConcurrency must be between 1 and 1000"),
        ("stackName", "1-bad_name", "stackName must start with a letter"),
        ("ruleMode", "eventually", "ruleMode must be async or sync"),
    ],
)
def test_bad_values_name_their_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(organizationId=ORG_ID, **{key: value})


def test_the_app_refuses_to_build_without_an_organization(tmp_path: Any) -> None:
    with pytest.raises(SettingsError, match="organizationId is required"):
        build_app({}, outdir=str(tmp_path), asset_dir=tmp_path)


@pytest.mark.parametrize(
    ("context", "synchronous"),
    [
        ({}, False),  # WorkMail's asynchronous rule, the default
        ({"ruleMode": "sync"}, True),
        ({"sesRuleSet": "in", "sesCreateRule": "true"}, False),  # the created rule's Event default
        ({"sesRuleSet": "in", "sesCreateRule": "true", "sesInvocationType": "RequestResponse"}, True),
        # A rule of the user's own: sesInvocationType sets nothing there (ruleMode=sync says it).
        ({"sesRuleSet": "in", "sesRuleName": "mine", "sesInvocationType": "RequestResponse"}, False),
    ],
)
def test_synchronous_means_a_caller_waits_for_the_answer(context: dict[str, Any], synchronous: bool) -> None:
    """Only then is a throttle the caller's error, and ThrottlesSustained made (dashboards/health.py)."""
    sources = {"sources": "workmail,ses"} if "sesRuleSet" in context else {}
    assert settings(organizationId=ORG_ID, **sources, **context).synchronous is synchronous
