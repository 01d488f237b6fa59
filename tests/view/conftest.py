"""One replay of the bundled samples and one render of its EMF, shared by the page tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = Path(sys.executable).parent / "workmail-collector"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed script, as a user runs it."""
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        cwd=ROOT,
    )


@dataclass(frozen=True)
class Demo:
    emf: Path
    out: Path
    pages: list[Path]
    replay_summary: str  # what replay printed on stderr

    def page(self, suffix: str) -> Path:
        return next(p for p in self.pages if p.name.endswith(suffix))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """What scripts/demo.sh does: replay samples/, then render the EMF it wrote."""
    work = tmp_path_factory.mktemp("demo")
    emf = work / "emf.jsonl"
    env = {"COLLECTOR_SQLITE_PATH": str(work / "audit.sqlite3"), "COLLECTOR_SOURCES": "workmail"}
    replay = cli("replay", "samples/", "--emf-out", str(emf), "--quiet", env=env)
    assert replay.returncode == 0, replay.stderr
    rendered = cli("dashboard", "--emf", str(emf), "--out", str(work / "dashboards"), env=env)
    assert rendered.returncode == 0, rendered.stderr
    pages = [Path(line) for line in rendered.stdout.splitlines()]
    return Demo(emf, work / "dashboards", pages, replay.stderr)
