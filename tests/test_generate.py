"""`generate-event` makes events one at a time: any count in flat memory, and `| head` stops it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import orjson

from collector.sampling import generate_events, iter_events
from tests.conftest import ROOT

SCRIPT = Path(sys.executable).parent / "workmail-collector"


def test_events_are_made_one_at_a_time() -> None:
    first = list(itertools.islice(iter_events(count=10**12, seed=5), 3))
    assert first == generate_events(count=3, seed=5)
    assert len({e["invocationId"] for e in first}) == 3


def test_a_reader_that_stops_early_ends_generation_quietly() -> None:
    with subprocess.Popen(
        [str(SCRIPT), "generate-event", "-n", str(10**9), "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        process.stdout.close()
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == b""
    assert orjson.loads(line) == generate_events(seed=1)[0]
