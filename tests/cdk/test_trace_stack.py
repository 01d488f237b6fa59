"""The message trace widget in the synthesized stack (`-c traceWidget=true`, on in reconcile_synth
with redaction): on the mail-flow dashboard, a function of the collector's asset whose role can
only read the audit trail, nag and cfn-lint clean (tests/cdk/test_reconcile_stack.py checks both
for the whole of that stack)."""

from __future__ import annotations

from typing import Any

from collector.store.schema import TIME_INDEX
from tests.cdk.support import Synth
from tests.cdk.test_dashboards import dashboards
from tests.cdk.test_nag import acknowledgments
from tests.cdk.test_reconcile_stack import functions, statements

HANDLER = "collector.trace_widget.handler"


def trace_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, p) for k, p in functions(synth).items() if p["Handler"] == HANDLER]
    return found


def test_off_by_default(default_synth: Synth) -> None:
    assert not [p for p in functions(default_synth).values() if p["Handler"] == HANDLER]


def test_the_widget_is_on_the_mail_flow_dashboard_and_calls_the_function(reconcile_synth: Synth) -> None:
    logical_id, props = trace_function(reconcile_synth)
    collector = next(
        p for p in functions(reconcile_synth).values() if p["Handler"] == "collector.handler.handler"
    )
    assert props["Code"] == collector["Code"], "the collector's own asset, nothing added"
    prefix = reconcile_synth.stack.stack_name
    (widget,) = [
        w for w in dashboards(reconcile_synth)[f"{prefix}-MailFlow"]["widgets"] if w["type"] == "custom"
    ]
    assert widget["width"] == 24 and widget["properties"]["params"] == {"limit": 50}
    assert widget["properties"]["updateOn"] == {"refresh": False, "resize": False, "timeRange": True}
    body = next(
        r["Properties"]["DashboardBody"]
        for r in reconcile_synth.resources("AWS::CloudWatch::Dashboard").values()
        if r["Properties"]["DashboardName"] == f"{prefix}-MailFlow"
    )
    assert {"Fn::GetAtt": [logical_id, "Arn"]} in body["Fn::Join"][1]
    assert reconcile_synth.json["Outputs"]["TraceFunctionArn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_the_function_can_only_read_the_audit_trail(reconcile_synth: Synth) -> None:
    _, props = trace_function(reconcile_synth)
    role = props["Role"]["Fn::GetAtt"][0]
    table = reconcile_synth.only("AWS::DynamoDB::Table")[0]
    (secret,) = reconcile_synth.resources("AWS::SecretsManager::Secret")
    granted = {
        (action, str(statement["Resource"]))
        for statement in statements(reconcile_synth.json, role)
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if not action.startswith("logs:")
    }
    index = {"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, f"/index/{TIME_INDEX.name}"]]}
    assert granted == {
        ("dynamodb:Query", str(index)),
        ("dynamodb:GetItem", str({"Fn::GetAtt": [table, "Arn"]})),
        ("dynamodb:BatchGetItem", str({"Fn::GetAtt": [table, "Arn"]})),
        ("secretsmanager:GetSecretValue", str({"Ref": secret})),
    }
    assert all("Condition" not in s for s in statements(reconcile_synth.json, role))
    variables = props["Environment"]["Variables"]
    assert variables["COLLECTOR_REDACT"] == "true" and variables["COLLECTOR_REDACTION_KEY_SECRET_ARN"] == {
        "Ref": secret
    }
    acknowledged = {
        path: set(rules)
        for path, rules in acknowledgments(reconcile_synth).items()
        if path.startswith("Trace/")
    }
    assert acknowledged == {
        "Trace/Function": {
            "AwsSolutions::AwsSolutions-L1",
            "Serverless::Serverless-LambdaLatestVersion",
            "Serverless::Serverless-LambdaDLQ",
            "Serverless::Serverless-LambdaAsyncFailureDestination",
            "Serverless::Serverless-LambdaTracing",
        }
    }
