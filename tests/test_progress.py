"""The replay progress bar: drawn on a terminal for large inputs, absent from pipes and logs."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import orjson

from collector.progress import Progress
from collector.sampling import generate_events
from tests.conftest import ROOT


def test_bar_counts_bytes_and_events_and_ends_the_line() -> None:
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.start(1_000_000)
    progress.advance(500_000)
    progress.count()
    progress.close()
    text = stream.getvalue()
    assert "[###############---------------]  50.0%  1 events" in text and text.endswith("\n")


def test_small_inputs_and_pipes_get_no_bar() -> None:
    stream = io.StringIO()
    small = Progress(stream, enabled=True)
    small.start(10_000)
    small.count()
    small.close()
    assert stream.getvalue() == ""


def test_replay_draws_the_bar_on_a_terminal(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate_events(count=1500, seed=1)))
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    process = subprocess.run(
        [sys.executable, "-m", "collector.cli", "replay", str(events), "--emf-out", str(tmp_path / "emf")],
        stderr=secondary,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    screen = b"".join(chunks).decode()
    assert process.returncode == 0
    assert "100.0%  1500 events" in screen and "recorded 1500" in screen
