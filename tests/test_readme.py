"""The README's commands run, in order, as written, the way a new user runs them.

Every fenced `sh` block of README.md is either run or listed below with the reason it is not.
The runnable ones are joined into one bash session (so an `export` carries over, as in a
terminal), in a temporary copy of the repository with this test's virtual environment and
node_modules, and a HOME of its own. Each block must exit 0.

Two changes to what is written, both about this machine rather than the README:
* `bash scripts/demo.sh` runs with a stand-in for `scripts/setup-venv.sh`: the demo's own
  install step (pip) would download, and tests download nothing; the venv is already the one
  `scripts/test.sh` built from the same files.
* DynamoDB Local's port 8000 becomes a free port: other processes on a shared machine may hold 8000.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.dynamodb_local import free_port
from tests.conftest import ROOT

README = ROOT / "README.md"

# Sections whose blocks are not run, and why (none today: the benchmarks' command is in docs/).
SKIPPED_SECTIONS: dict[str, str] = {}
# Lines that are not run, and why (the rest of their block is).
SKIPPED_LINES = {
    "bash scripts/test.sh": "this test is part of what it runs",
}
RUN_SECTIONS = ("Two commands", "The local CLI")

SETUP_VENV_STAND_IN = """# Test stand-in for setup-venv.sh: the venv exists; installing would download.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH"
"""


@dataclass(frozen=True)
class Block:
    section: str
    text: str


def readme_blocks() -> list[Block]:
    """Every ```sh block, with the `## ` section it sits in."""
    blocks: list[Block] = []
    section = ""
    inside: list[str] | None = None
    for line in README.read_text().splitlines():
        if inside is not None:
            if line.startswith("```"):
                blocks.append(Block(section, "\n".join(inside)))
                inside = None
            else:
                inside.append(line)
        elif line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```sh":
            inside = []
    return blocks


def runnable(blocks: list[Block]) -> list[Block]:
    unclassified = [b.section for b in blocks if b.section not in (*RUN_SECTIONS, *SKIPPED_SECTIONS)]
    assert not unclassified, f"README sections with sh blocks neither run nor skipped here: {unclassified}"
    kept = []
    for block in blocks:
        if block.section in SKIPPED_SECTIONS:
            continue
        lines = [line for line in block.text.splitlines() if _command(line) not in SKIPPED_LINES]
        kept.append(Block(block.section, "\n".join(lines)))
    return kept


def _command(line: str) -> str:
    return line.split("#")[0].strip()


def copy_of_the_repository(target: Path) -> Path:
    """The files git tracks (what a clone has), plus this run's .venv and node_modules."""
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))
    (target / "node_modules").symlink_to(ROOT / "node_modules")
    (target / "scripts" / "setup-venv.sh").write_text(SETUP_VENV_STAND_IN)
    return target


def test_every_sh_block_is_run_or_skipped_with_a_reason() -> None:
    blocks = readme_blocks()
    assert {b.section for b in blocks} >= set(RUN_SECTIONS)
    run_text = "\n".join(b.text for b in runnable(blocks))
    assert "workmail-collector generate-event" in run_text and "table create" in run_text
    assert run_text.index("> events.jsonl") < run_text.index("replay events.jsonl"), "made before it is read"


@pytest.mark.dynamodb
def test_the_readme_commands_run_in_order_as_written(tmp_path: Path) -> None:
    repo = copy_of_the_repository(tmp_path / "repo")
    port = str(free_port())
    script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for n, block in enumerate(runnable(readme_blocks())):
        text = re.sub(r"\b8000\b", port, block.text)
        script += [f"echo '=== block {n} ({block.section})' >&2", text]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COLLECTOR_")) and k != "VIRTUAL_ENV"
    }
    env.update(HOME=str(tmp_path / "home"), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    env.pop("XDG_DATA_HOME", None)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed_in = [line for line in result.stderr.splitlines() if line.startswith("=== block")][-1:]
    assert result.returncode == 0, f"{failed_in}\n{result.stderr[-4000:]}"
    # What the blocks promise, seen in what they printed:
    assert "processed 72: recorded 65" in result.stderr  # the demo's replay
    assert "processed 72: recorded 0, duplicates 72" in result.stderr  # the CLI's replay of the same
    assert "processed 100: recorded 100" in result.stderr
    assert "created my-audit (ACTIVE)" in result.stdout
    assert (repo / ".demo" / "audit.sqlite3").exists() and (repo / "emf.jsonl").exists()
    assert not (tmp_path / "home" / ".local").exists(), "the README's commands used the demo's store"
