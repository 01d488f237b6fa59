"""The dashboards and alarms the stack deploys, exported for the offline pages (collector/view).

`workmail-collector dashboard` renders the dashboards without the CDK or Node.js, so it reads their
synthesized definitions from JSON files shipped in the collector package. This module writes those
files from a real synth, one per sources setting the stack supports (workmail; ses; workmail and
ses), and tests/cdk/test_dashboard_export.py checks the files equal what the stack synthesizes.

A dashboard's body is a CloudFormation `Fn::Join` of strings and references; references are
written as the placeholders `Fn::Sub` would read, `${LogicalId}` for `Ref` (`${AWS::Region}` for the
region) and `${LogicalId.Attribute}` for `Fn::GetAtt`. An alarm widget lists alarms by ARN, so each
alarm is keyed by its `${LogicalId.Arn}` placeholder. Alarm actions are left out: the pages have
nobody to notify.

    python -m cdk.dashboard_export    # after changing dashboards/ or the alarms
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "collector" / "view" / "data"
ORG_ID = "m-0123456789abcdef0123456789abcdef"
# One synth per sources setting, with the contexts tests/cdk synthesizes for the same variants.
VARIANTS: dict[str, dict[str, Any]] = {
    "workmail": {"organizationId": ORG_ID},
    "ses": {
        "sources": "ses",
        "stackName": "SesCollector",
        "sesRuleSet": "inbound-rules",
        "sesRuleName": "collector",
        "sesConfigurationSet": "outbound",
        "sesEventDestination": "eventbridge",
    },
    "workmail+ses": {
        "organizationId": ORG_ID,
        "sources": "workmail,ses",
        "sesRuleSet": "inbound-rules",
        "sesCreateRule": "true",
        "sesRecipients": "example.com,example.org",
        "sesInvocationType": "RequestResponse",
        "sesConfigurationSet": "outbound",
    },
}
LEFT_OUT = ("AlarmActions", "OKActions", "InsufficientDataActions")


def resolve(value: Any) -> Any:
    """A template value with every reference written as its `Fn::Sub` placeholder."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return f"${{{value['Ref']}}}"
    if set(value) == {"Fn::GetAtt"}:
        logical, attribute = value["Fn::GetAtt"]
        return f"${{{logical}.{attribute}}}"
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(resolve(p)) for p in parts)
    return {k: resolve(v) for k, v in value.items()}


def export(template: Mapping[str, Any], variant: str, service: str) -> dict[str, Any]:
    """What the pages need of one synthesized template: its dashboards and alarms."""
    resources: Mapping[str, Any] = template["Resources"]
    dashboards = [
        {
            "name": resolve(r["Properties"]["DashboardName"]),
            "body": json.loads(resolve(r["Properties"]["DashboardBody"])),
        }
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    alarms = {
        f"${{{logical}.Arn}}": {k: resolve(v) for k, v in r["Properties"].items() if k not in LEFT_OUT}
        for logical, r in sorted(resources.items())
        if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    }
    return {
        "variant": variant,
        "context": VARIANTS[variant],
        "service": service,
        "dashboards": sorted(dashboards, key=lambda d: str(d["name"])),
        "alarms": alarms,
    }


def text(exported: Mapping[str, Any]) -> str:
    return json.dumps(exported, indent=1, sort_keys=True) + "\n"


def main() -> None:
    # Before aws_cdk starts its Node.js kernel: the project's Node.js first on PATH, as the tests do.
    os.environ["PATH"] = os.pathsep.join([str(REPO_ROOT / "node_modules" / ".bin"), os.environ["PATH"]])
    from aws_cdk.assertions import Template

    from cdk.app import build_app

    cdk_context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    for variant, context in VARIANTS.items():
        with tempfile.TemporaryDirectory() as outdir:
            app, stack = build_app({**cdk_context, **context}, outdir=outdir)
            app.synth()
            template = Template.from_stack(stack).to_json()
        path = DATA_DIR / f"{variant}.json"
        path.write_text(text(export(template, variant, stack.stack_name)))
        print(f"wrote {path.relative_to(REPO_ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
