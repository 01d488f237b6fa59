"""Shared helpers for the CDK tests: the synthesized stack and the context it was built from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before aws_cdk starts its Node.js kernel: the project's Node.js (pinned in package.json, installed
# by `npm ci` as node_modules/.bin/node) first on PATH, as scripts/test.sh and `npx cdk` do.
os.environ["PATH"] = os.pathsep.join(
    dict.fromkeys(
        [
            str(Path(__file__).resolve().parents[2] / "node_modules" / ".bin"),
            *os.environ["PATH"].split(os.pathsep),
        ]
    )
)

from aws_cdk.assertions import Template

from cdk.app import build_app
from cdk.asset import Interpreter
from cdk.stack import CollectorStack

ROOT = Path(__file__).resolve().parents[2]
ORG_ID = "m-0123456789abcdef0123456789abcdef"
# What Lambda's Python 3.13 runtime sets for every function, with test credentials: the probes that
# run an asset as Lambda would start from this.
LAMBDA_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "TZ": "UTC",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
}
TRACE_ID = "Trace"  # the trace widget's construct id in cdk/stack.py
TRAIL_ID = "Trail"  # the trail's (on by default): its exporter, log group, role, queue and alarm
INDEX_ID = "IndexConsumer"  # the time index's consumer (every deployment): function, logs, queue, alarms
CUSTOM_CONTEXT: dict[str, Any] = {
    # As `cdk deploy -c key=value` passes them: strings.
    "organizationId": "M-FEDCBA9876543210FEDCBA9876543210",
    "stackName": "MailCollectorProd",
    "retentionDays": "30",
    "logRetentionDays": "365",
    "redact": "true",
    "enrichment": "true",
    "alarmEmail": "mail-ops@example.com",
    "namespace": "Acme/WorkMail",
    "reservedConcurrency": "none",
    "ruleMode": "sync",
    "traceWidget": "false",  # on by default: this stack checks it can be turned off
    "trail": "false",  # on by default: this stack is the one without it (the whole year in the table)
    "lambdaSystemLogLevel": "info",  # WARN by default: Lambda's platform.start/report lines back on
}
# Both sources side by side (SNS destination, a created receipt rule), and SES alone (EventBridge).
BOTH: dict[str, Any] = {
    "organizationId": ORG_ID,
    "sources": "workmail,ses",
    "sesRuleSet": "inbound-rules",
    "sesCreateRule": "true",
    "sesRecipients": "example.com,example.org",
    "sesInvocationType": "RequestResponse",
    "sesConfigurationSet": "outbound",
}
SES_ONLY: dict[str, Any] = {
    "sources": "ses",
    "stackName": "SesCollector",
    "sesRuleSet": "inbound-rules",
    "sesRuleName": "collector",
    "sesConfigurationSet": "outbound",
    "sesEventDestination": "eventbridge",
}


def run_app(context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`python -m cdk.app` as the CDK CLI runs it: the context in CDK_CONTEXT_JSON, nothing written."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent-never-written"}
    return subprocess.run(
        [sys.executable, "-m", "cdk.app"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synth:
    stack: CollectorStack
    template: Template
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == kind}

    def only(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(kind)
        assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
        return next(iter(found.items()))

    def collector(self, kind: str) -> tuple[str, dict[str, Any]]:
        """The one `kind` that is neither the trace widget's, the trail's nor the index consumer's
        (their resources have logical IDs under their constructs, `Trace`, `Trail`, `IndexConsumer`)."""
        others = (TRACE_ID, TRAIL_ID, INDEX_ID)
        found = {k: v for k, v in self.resources(kind).items() if not k.startswith(others)}
        assert len(found) == 1, (
            f"expected one {kind} besides the trace widget's, trail's and index consumer's, "
            f"found {sorted(found)}"
        )
        return next(iter(found.items()))

    def template_path(self) -> Path:
        return self.outdir / self.stack.template_file


def synthesize(context: dict[str, Any], outdir: Path, asset_dir: Path) -> Synth:
    app, stack = build_app({**cdk_json_context(), **context}, outdir=str(outdir), asset_dir=asset_dir)
    app.synth()  # runs the cdk-nag plugins; raises on any unacknowledged finding
    return Synth(stack=stack, template=Template.from_stack(stack), outdir=outdir)


PROBE = Path(__file__).with_name("asset_probe.py")


def run_probe(python: Interpreter, spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """tests/cdk/asset_probe.py in a fresh Python 3.13 with nothing but the asset (and `paths`) on
    its path: its report, once nothing was loaded from elsewhere."""
    result = subprocess.run(
        [python.path, "-I", "-S", "-B", str(PROBE), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    assert report["outside"] == [], "loaded from outside the asset and the standard library"
    assert report["version"] == [3, 13]
    return report
