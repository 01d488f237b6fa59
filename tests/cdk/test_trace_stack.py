"""The message trace widget in the synthesized stack (on by default, `-c traceWidget=false` in the
custom stack turns it off; reconcile_synth has it with redaction): on the mail-flow dashboard, a
function of the collector's asset whose role can only read the audit trail, nag and cfn-lint clean
(tests/cdk/test_reconcile_stack.py checks both for the whole of that stack), and the built asset
answering a widget call as Lambda runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cdk.asset import Interpreter
from cdk.settings import StackSettings
from collector.config import Settings
from collector.store.schema import TIME_INDEX
from tests.cdk.support import ORG_ID, Synth
from tests.cdk.test_asset import local_asset, python313
from tests.cdk.test_dashboards import dashboards
from tests.cdk.test_nag import acknowledgments
from tests.cdk.test_reconcile_stack import functions, statements
from tests.conftest import Backend, make_table, run
from tests.trace_support import ARN, HOSTILE_SUBJECT, Elements, now, record, workmail_event

HANDLER = "collector.trace_widget.handler"
__all__ = ["local_asset", "python313"]  # the asset tests' fixtures, used here too
# Python 3.13 -I -S with only the asset on sys.path, as Lambda runs the handler; prints its answer
# and any module that came from elsewhere than the asset or the standard library.
PROBE = """
import json, sys
asset = sys.argv[1]
sys.path.insert(0, asset)
import collector.trace_widget as widget
class Context:
    invoked_function_arn = sys.argv[3]
html = widget.handler(json.loads(sys.argv[2]), Context())
outside = [n for n, m in list(sys.modules.items()) if getattr(m, "__file__", None)
           and not m.__file__.startswith((asset, sys.base_prefix))]
print(json.dumps({"html": html, "outside": outside}))
"""


def trace_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, p) for k, p in functions(synth).items() if p["Handler"] == HANDLER]
    return found


@pytest.mark.parametrize(("given", "on"), [(None, True), ("true", True), ("false", False)])
def test_the_setting_is_on_unless_turned_off(given: str | None, on: bool) -> None:
    context = {"organizationId": ORG_ID} | ({} if given is None else {"traceWidget": given})
    assert StackSettings.from_context(context.get).trace_widget is on


def test_on_by_default_and_off_with_trace_widget_false(default_synth: Synth, custom_synth: Synth) -> None:
    assert [p for p in functions(default_synth).values() if p["Handler"] == HANDLER]
    assert not [p for p in functions(custom_synth).values() if p["Handler"] == HANDLER]
    assert "TraceFunctionArn" in default_synth.json["Outputs"]
    assert "TraceFunctionArn" not in custom_synth.json["Outputs"]


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
    # The table's hot window (the trail in S3 is on by default): the widget searches no further back.
    assert variables["COLLECTOR_RETENTION_DAYS"] == "7"
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


@pytest.mark.dynamodb
def test_the_asset_answers_a_widget_call_as_lambda_runs_it(
    local_asset: Path, python313: Interpreter, dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    backend = Backend("dynamodb-local", Settings(store="dynamodb", table_name=make_table(dynamodb_local)))
    run(record(backend, [(workmail_event(1, subject=HOSTILE_SUBJECT, message_id="m-asset"), now())]))
    end = int(now().timestamp() * 1000)
    event = {
        "widgetContext": {"timeRange": {"start": end - 86_400_000, "end": end}, "params": {"limit": 5}},
        "key": "message_id",
        "value": "m-asset",
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": dynamodb_local,
        "AWS_LAMBDA_FUNCTION_NAME": "WorkMailCollector-TraceFunction",
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": backend.settings.table_name,
        "COLLECTOR_REDACT": "false",
    }
    result = subprocess.run(
        [python313.path, "-I", "-S", "-B", "-c", PROBE, str(local_asset), json.dumps(event), ARN],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["outside"] == [], "loaded from outside the asset and the standard library"
    found = Elements(report["html"])
    assert "1 record" in found.shown() and '<script>alert("x")</script>' in found.shown()
    assert "script" not in found.tags() and all(a.attrs["endpoint"] == ARN for a in found.actions())
