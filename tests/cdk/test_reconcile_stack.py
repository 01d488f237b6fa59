"""The optional scheduled reconcile in the template: its function, schedule, least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from cdk.reconcile import ScheduledReconcile
from cdk.settings import StackSettings
from collector.store.schema import TIME_INDEX
from tests.cdk import test_cfn_lint
from tests.cdk.support import ORG_ID, Synth
from tests.cdk.test_dashboards import dashboards, widget_metrics
from tests.cdk.test_nag import acknowledgments, unacknowledged


def functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in synth.resources("AWS::Lambda::Function").items()}


def reconcile_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, p) for k, p in functions(synth).items() if p["Handler"] == "collector.reconcile_handler.handler"
    ]
    return found


def statements(template: Mapping[str, Any], role_id: str) -> list[dict[str, Any]]:
    out = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            out += resource["Properties"]["PolicyDocument"]["Statement"]
    return out


def grants(template: Mapping[str, Any], role_id: str) -> dict[str, dict[str, Any]]:
    """Action -> the statement granting it, for everything but the log group writes."""
    out = {}
    for statement in statements(template, role_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            if not action.startswith("logs:"):
                out[action] = statement
    return out


def test_off_by_default(default_synth: Synth, custom_synth: Synth) -> None:
    for synth in (default_synth, custom_synth):
        handlers = {p["Handler"] for p in functions(synth).values()}
        assert "collector.reconcile_handler.handler" not in handlers
        assert not {k for k in synth.resources("AWS::Events::Rule") if not k.startswith("Trail")}


def test_same_asset_another_handler_daily_schedule(reconcile_synth: Synth) -> None:
    logical_id, props = reconcile_function(reconcile_synth)
    collector = next(
        p for p in functions(reconcile_synth).values() if p["Handler"] == "collector.handler.handler"
    )
    assert props["Code"] == collector["Code"], "one asset for both functions"
    assert (props["Runtime"], props["Architectures"], props["Timeout"]) == ("python3.13", ["arm64"], 300)
    variables = props["Environment"]["Variables"]
    settings = reconcile_synth.stack.settings
    assert {k: v for k, v in variables.items() if isinstance(v, str)} == {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_NAMESPACE": settings.namespace,
        "COLLECTOR_SERVICE": reconcile_synth.stack.stack_name,
        "COLLECTOR_RETENTION_DAYS": "7",  # the hot window, with the trail on by default
        "COLLECTOR_RECONCILE_FIX": "true",
        "COLLECTOR_WORKMAIL_ORGANIZATION_ID": ORG_ID,
        "COLLECTOR_WORKMAIL_METRIC_DIMENSION": "Organization",
        "COLLECTOR_RECONCILE_MIN_COVERAGE": "70",
        "COLLECTOR_RECONCILE_MIN_MESSAGES": "8",
    }
    table = reconcile_synth.only("AWS::DynamoDB::Table")[0]
    assert variables["COLLECTOR_TABLE_NAME"] == {"Ref": table}
    (rule,) = [
        v for k, v in reconcile_synth.resources("AWS::Events::Rule").items() if k.startswith("Reconcile")
    ]
    assert rule["Properties"]["ScheduleExpression"] == "cron(30 1 * * ? *)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    (config,) = [
        c["Properties"]
        for c in reconcile_synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 3600)


def test_the_role_reads_and_writes_only_what_it_must(reconcile_synth: Synth) -> None:
    _, props = reconcile_function(reconcile_synth)
    role = props["Role"]["Fn::GetAtt"][0]
    found = grants(reconcile_synth.json, role)
    table = reconcile_synth.only("AWS::DynamoDB::Table")[0]
    assert set(found) == {
        "dynamodb:Query",
        "cloudwatch:GetMetricData",
        "cloudwatch:PutMetricData",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",  # the time index's pages, fetched whole (cdk/index_consumer.py)
    }
    assert found["dynamodb:BatchGetItem"]["Resource"] == {"Fn::GetAtt": [table, "Arn"]}
    assert found["dynamodb:BatchGetItem"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["page#*"]}
    }
    assert found["dynamodb:Query"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, f"/index/{TIME_INDEX.name}"]]
    }
    assert found["cloudwatch:PutMetricData"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": reconcile_synth.stack.settings.namespace}
    }
    ledger = found["dynamodb:PutItem"]
    assert ledger is found["dynamodb:GetItem"] and ledger["Resource"] == {"Fn::GetAtt": [table, "Arn"]}
    assert ledger["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["reconcile:*"]}}
    assert "Condition" not in found["dynamodb:Query"] and "Condition" not in found["cloudwatch:GetMetricData"]


def test_without_fix_it_cannot_write(asset_dir: Path) -> None:
    app = App()
    stack = Stack(app, "Bare")
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="invocationId", type=dynamodb.AttributeType.STRING),
    )
    reconcile = ScheduledReconcile(
        stack,
        "Reconcile",
        settings=StackSettings(organization_id=ORG_ID, reconcile=True),
        code=lambda_.Code.from_asset(str(asset_dir)),
        table=table,
        service="svc",
        log_retention=logs.RetentionDays.ONE_MONTH,
        runtime=lambda_.Runtime.PYTHON_3_13,
    )
    template = Template.from_stack(stack).to_json()
    role = stack.get_logical_id(reconcile.role.node.default_child)  # type: ignore[arg-type]
    assert set(grants(template, role)) == {"dynamodb:Query", "cloudwatch:GetMetricData"}
    variables = template["Resources"][stack.get_logical_id(reconcile.function.node.default_child)]  # type: ignore[arg-type]
    assert variables["Properties"]["Environment"]["Variables"]["COLLECTOR_RECONCILE_FIX"] == "false"


def test_reconcile_alarms_and_widgets(reconcile_synth: Synth) -> None:
    names = {
        a["Properties"]["AlarmName"] for a in reconcile_synth.resources("AWS::CloudWatch::Alarm").values()
    }
    prefix = reconcile_synth.stack.stack_name
    assert {f"{prefix}-Warning-ReconcileDifferences", f"{prefix}-Warning-ReconcileFailed"} <= names
    body = dashboards(reconcile_synth)[f"{prefix}-Operations"]
    shown = {m.name for w in body["widgets"] for m in widget_metrics(w)}
    assert {"ReconcileDifferences", "ReconcileCorrections"} <= shown


def test_nag_and_cfn_lint_clean(reconcile_synth: Synth) -> None:
    assert unacknowledged(reconcile_synth.outdir / "validation-report.json") == []
    found = acknowledgments(reconcile_synth)
    reconcile = {path: rules for path, rules in found.items() if path.startswith("Reconcile/")}
    assert {path: set(rules) for path, rules in reconcile.items()} == {
        "Reconcile/Role": {"AwsSolutions::AwsSolutions-IAM5[Resource::*]"},
        "Reconcile/Function": {
            "AwsSolutions::AwsSolutions-L1",
            "Serverless::Serverless-LambdaLatestVersion",
            "Serverless::Serverless-LambdaDLQ",
            "Serverless::Serverless-LambdaAsyncFailureDestination",
            "Serverless::Serverless-LambdaTracing",
        },
        "Reconcile/Daily": {"Serverless::Serverless-EventBusDLQ"},
    }
    for rules in reconcile.values():
        assert all(len(reason) >= 60 for reason in rules.values())
    test_cfn_lint.test_template_is_cfn_lint_clean(reconcile_synth)
