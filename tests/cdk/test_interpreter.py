"""`npx cdk synth` with a python3 that lacks the CDK says in one line which Python the app needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdk import interpreter
from tests.cdk.support import ROOT


def test_a_python_without_aws_cdk_is_told_which_python_and_how() -> None:
    # `-S`: no site-packages, like a system python3 that never saw the project's requirements.
    result = subprocess.run(
        [sys.executable, "-S", "-m", "cdk.app"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "the CDK app needs Python 3.11+" in line and "has no aws_cdk" in line
    assert ". .venv/bin/activate" in line and "Traceback" not in result.stderr


def test_without_a_venv_it_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreter, "ROOT", tmp_path)
    line = interpreter.wrong_python(ModuleNotFoundError("No module named 'aws_cdk'", name="aws_cdk"))
    assert "python3 -m venv .venv" in line and "pip install -e '.[cdk]'" in line


def test_an_old_python_is_named_as_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreter, "NEEDED", (99, 0))
    assert "is older than Python 99.0" in interpreter.wrong_python(ImportError("cannot import name 'UTC'"))
