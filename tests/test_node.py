"""One supported Node.js, the same everywhere: package.json, the scripts' check, the README, the
deploy guide, and what the jsii kernel of aws-cdk-lib actually runs on."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

NODE_ENV = ROOT / "scripts" / "node-env.sh"
NODE_BIN = ROOT / "node_modules" / ".bin"


def supported_major() -> str:
    found = re.search(r"^NODE_MAJOR=(\d+)$", NODE_ENV.read_text(), re.MULTILINE)
    assert found, "scripts/node-env.sh names the supported major version"
    return found.group(1)


def test_one_version_is_stated_everywhere() -> None:
    major = supported_major()
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["node"]
    assert pinned.split(".")[0] == major
    assert f"Node.js {major}" in (ROOT / "README.md").read_text()
    assert f"Node.js {major} for the CDK CLI" in (ROOT / "docs" / "deploy.md").read_text()
    for script in ("test.sh", "bench.sh"):
        assert ". scripts/node-env.sh" in (ROOT / "scripts" / script).read_text(), script


def test_npm_ci_installed_the_supported_node() -> None:
    version = subprocess.run(
        [str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith(f"v{supported_major()}."), version


def test_the_cdk_kernel_runs_on_it_without_end_of_life_banners() -> None:
    """What scripts/test.sh and `npx cdk` give aws-cdk-lib's jsii kernel: node_modules/.bin first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [sys.executable, "-c", "import aws_cdk; print(aws_cdk.App().node.id == '')"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "True"
    assert "end-of-life" not in result.stderr and "not supported" not in result.stderr, result.stderr


def test_the_scripts_stop_clearly_on_another_node(tmp_path: Path) -> None:
    fake = tmp_path / "node_modules" / ".bin" / "node"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho v20.20.2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail; . '{NODE_ENV}'; echo reached"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "reached" not in result.stdout
    assert result.stderr.startswith(f"workmail-collector needs Node.js {supported_major()}; found v20.20.2")
    assert len(result.stderr.splitlines()) == 1
