"""cdk-nag (AwsSolutions + Serverless) runs on every synth and leaves nothing unacknowledged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Validations
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from tests.cdk.support import CUSTOM_CONTEXT, ORG_ID, Synth, cdk_json_context

MESSAGES = "arn:<AWS::Partition>:workmailmessageflow:<AWS::Region>:<AWS::AccountId>:message"
# Every acknowledged finding, by construct path. Adding one is a deliberate, reviewed change.
ACKNOWLEDGED = {
    "FailureQueue": {"AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"},
    "Function": {
        "AwsSolutions::AwsSolutions-L1",
        "Serverless::Serverless-LambdaLatestVersion",
        "Serverless::Serverless-LambdaDLQ",
        "Serverless::Serverless-LambdaTracing",
    },
    "RedactionKey": {"AwsSolutions::AwsSolutions-SMG4"},
    "FunctionRole": {
        f"AwsSolutions::AwsSolutions-IAM5[Resource::{MESSAGES}/{CUSTOM_CONTEXT['organizationId'].lower()}/*]",
    },
    "Observability/AlarmTopic/mail-ops@example.com": {"Serverless::Serverless-SNSRedrivePolicy"},
    # The trace widget's read-only function (on by default; cdk/trace.py gives the reasons).
    "Trace/Function": {
        "AwsSolutions::AwsSolutions-L1",
        "Serverless::Serverless-LambdaLatestVersion",
        "Serverless::Serverless-LambdaDLQ",
        "Serverless::Serverless-LambdaAsyncFailureDestination",
        "Serverless::Serverless-LambdaTracing",
    },
}


def acknowledgments(synth: Synth) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    prefix = synth.stack.node.path + "/"
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                out.setdefault(construct.node.path.removeprefix(prefix), {}).update(entry.data)
    return out


def unacknowledged(report_path: Path) -> list[str]:
    """Rule names of findings in a CDK validation report that no acknowledgment covers."""
    report = json.loads(report_path.read_text())
    return [v["ruleName"] for plugin in report["pluginReports"] for v in plugin.get("violations", [])]


def test_validation_report_has_no_findings(any_synth: Synth) -> None:
    assert unacknowledged(any_synth.outdir / "validation-report.json") == []


def test_no_unacknowledged_warnings_or_errors(any_synth: Synth) -> None:
    annotations = Annotations.from_stack(any_synth.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_acknowledgments_are_the_reviewed_ones_with_reasons(any_synth: Synth) -> None:
    every = acknowledgments(any_synth)
    # The trail's (on by default) are held to their reviewed list in test_trail_stack.py, the index
    # consumer's in test_index_consumer_stack.py.
    reviewed_elsewhere = ("Trail/", "IndexConsumer/")
    found = {path: rules for path, rules in every.items() if not path.startswith(reviewed_elsewhere)}
    expected = {path: rules for path, rules in ACKNOWLEDGED.items() if path in found or path == "Function"}
    assert {path: set(rules) for path, rules in found.items()} == expected
    for path, rules in every.items():
        for rule, reason in rules.items():
            assert len(reason) >= 60, f"{path} {rule}: give a specific reason"


def test_the_custom_and_default_variants_exercise_every_acknowledgment(
    custom_synth: Synth, default_synth: Synth
) -> None:
    """The custom stack has every option but the trace widget and the trail (it turns both off);
    the default has them."""
    assert {p for p in acknowledgments(custom_synth) if not p.startswith("IndexConsumer/")} == set(
        ACKNOWLEDGED
    ) - {"Trace/Function"}
    assert {"Trace/Function", "Trail/Function"} <= set(acknowledgments(default_synth))


def test_an_unacknowledged_finding_stops_synthesis(asset_dir: Path, tmp_path: Path) -> None:
    """Control: the packs really run. A bare queue (no TLS policy, no DLQ) must fail the synth."""
    from cdk.app import build_app

    app, stack = build_app(
        {**cdk_json_context(), "organizationId": ORG_ID}, outdir=str(tmp_path), asset_dir=asset_dir
    )
    sqs.Queue(stack, "CarelessQueue")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4", "Serverless-SQSRedrivePolicy"} == set(
        unacknowledged(tmp_path / "validation-report.json")
    )
    paths = {
        c["constructPath"]
        for p in report["pluginReports"]
        for v in p["violations"]
        for c in v["violatingConstructs"]
    }
    assert paths == {f"{stack.node.path}/CarelessQueue/Resource"}
