"""A misspelt context key is refused, naming the nearest known one, instead of deploying a default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cdk.app import build_app
from cdk.settings import CDK_CLI_KEYS, SettingsError, StackSettings, check_context_keys, known_context_keys
from tests.cdk.support import BOTH, CUSTOM_CONTEXT, ORG_ID, ROOT, SES_ONLY, cdk_json_context, run_app

EVERYTHING: dict[str, Any] = {
    **BOTH,
    "stackName": "Everything",
    "retentionDays": "30",
    "logRetentionDays": "365",
    "redact": "true",
    "enrichment": "true",
    "alarmEmail": "ops@example.com",
    "namespace": "Acme/Mail",
    "reservedConcurrency": "5",
    "ruleMode": "sync",
    "legacyIndexes": "none",
    "tableClass": "standard",
    "coverageThreshold": "75",
    "coverageMinMessages": "3",
    "workmailMetricDimension": "OrganizationId",
    "reconcile": "true",
    "reconcileFix": "true",
    "sesRuleName": "collector",
    "sesEventDestination": "eventbridge",
}


@pytest.mark.parametrize("context", [EVERYTHING, CUSTOM_CONTEXT, SES_ONLY, {"organizationId": ORG_ID}])
def test_every_key_the_settings_read_is_known(context: dict[str, Any]) -> None:
    read: list[str] = []

    def get(key: str) -> Any:
        read.append(key)
        return context.get(key)

    StackSettings.from_context(get)
    assert set(read) <= known_context_keys()
    assert set(context) <= known_context_keys()


@pytest.mark.parametrize(
    ("key", "nearest"),
    [
        ("retentiondays", "retentionDays"),
        ("alarmemail", "alarmEmail"),
        ("retention-days", "retentionDays"),
        ("retention-dyas", "retentionDays"),  # hyphenated and misspelt: not taken for the CDK's own
        ("alarm-emial", "alarmEmail"),
        ("organizationID", "organizationId"),
        ("reconcileFixes", "reconcileFix"),
        ("sesRuleset", "sesRuleSet"),
    ],
)
def test_a_misspelt_key_is_refused_naming_the_nearest(key: str, nearest: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=f"unknown context key {key} .*did you mean {nearest}\\?"):
        build_app({"organizationId": ORG_ID, key: "30"}, outdir=str(tmp_path), asset_dir=tmp_path)


def test_a_key_like_none_of_ours_lists_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"known keys: alarmEmail, .*workmailMetricDimension"):
        check_context_keys(["zzz"])


def test_the_cdks_own_keys_are_left_alone() -> None:
    check_context_keys(
        [
            *cdk_json_context(),
            "aws:cdk:enable-path-metadata",
            "aws:cdk:bundling-stacks",
            "availability-zones:account=123456789012:region=us-east-1",
            "acknowledged-issue-numbers",
            "cli-telemetry",
        ]
    )


def test_the_cli_keys_left_alone_are_those_the_pinned_cdk_cli_keeps() -> None:
    """Every `context.get/set('<key>')` without a `:` or `@` in the CDK CLI's code is one of ours
    to leave alone, and nothing else is."""
    code = "".join(p.read_text("utf-8") for p in (ROOT / "node_modules/aws-cdk/lib").rglob("*.js"))
    used = set(re.findall(r"""context\.(?:get|set)\(["']([^"'@:]+)["']""", code))
    assert used == CDK_CLI_KEYS


def test_the_cdk_cli_hands_the_mistake_over_in_one_line() -> None:
    """As `cdk synth -c retentiondays=30` runs the app: the context arrives in CDK_CONTEXT_JSON."""
    result = run_app({"organizationId": ORG_ID, "retentiondays": "30"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "workmail-collector: unknown context key retentiondays (-c retentiondays=...): did you mean"
        " retentionDays?"
    ]
