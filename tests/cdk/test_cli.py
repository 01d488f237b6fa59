"""The real CDK CLI (node_modules/.bin/cdk, pinned in package.json) synthesizes from the repo root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cdk.support import ORG_ID, ROOT, Synth

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def cdk_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # The app command in cdk.json is `python3 -m cdk.app`: the active venv's python, as in CI.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        CDK_DISABLE_VERSION_CHECK="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
    )
    for name in ("AWS_PROFILE", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        env.pop(name, None)
    return env


def run_cdk(*args: str) -> subprocess.CompletedProcess[str]:
    if not CDK.exists():
        pytest.fail(f"{CDK} is missing: run `npm ci` in {ROOT} first (package.json pins aws-cdk)")
    return subprocess.run(
        [str(CDK), *args], cwd=ROOT, env=cdk_env(), capture_output=True, text=True, timeout=300, check=False
    )


def test_cdk_json_keeps_synth_offline_and_quiet() -> None:
    config = json.loads((ROOT / "cdk.json").read_text())
    assert config["app"] == "python3 -m cdk.app"
    assert config["notices"] is False
    assert config["versionReporting"] is False
    assert config["context"]["cli-telemetry"] is False
    assert "organizationId" not in config["context"], "each deployment names its own organization"


def test_cli_synth_from_the_repository_root(tmp_path: Path, default_synth: Synth) -> None:
    out = tmp_path / "cdk.out"
    result = run_cdk(
        "synth", "--quiet", "--no-notices", "--output", str(out), "-c", f"organizationId={ORG_ID}"
    )
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    template = json.loads((out / "WorkMailCollector.template.json").read_text())
    # Same app, same context: the CLI's template is the one the other tests checked, plus the
    # metadata the CLI asks for.
    expected = default_synth.json["Resources"]
    types = {k: v["Type"] for k, v in template["Resources"].items()}
    assert types == {k: v["Type"] for k, v in expected.items()}
    assert template["Outputs"].keys() == default_synth.json["Outputs"].keys()
    assert "AWS::CDK::Metadata" not in {r["Type"] for r in template["Resources"].values()}
    report = json.loads((out / "validation-report.json").read_text())
    assert [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])] == []
    assert {plugin["conclusion"] for plugin in report["pluginReports"]} <= {"success"}


def test_cli_without_organization_id_explains_itself(tmp_path: Path) -> None:
    result = run_cdk("synth", "--quiet", "--no-notices", "--output", str(tmp_path / "cdk.out"))
    assert result.returncode != 0
    assert "organizationId is required" in result.stderr
    assert "-c organizationId=m-" in result.stderr
