"""Invalid means quarantined, whatever its size or shape; valid means recorded, however deep.

Payloads that once raised instead (a store-fault path: Lambda retries them forever, replay stops):
invalid items trimmed as if they were recorded ones, escapes counted as bytes, and nesting deeper than
a recursive encoder goes."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.jsonutil import dumps
from collector.model import Status
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from tests.conftest import ROOT, Backend, run
from tests.test_cli import SCRIPT
from tests.test_pipeline import invocation, with_pipeline


def nested(depth: int, leaf: Any = "bottom") -> Any:
    return functools.reduce(lambda inner, n: [inner] if n % 2 else {"k": inner}, range(depth), leaf)


def event(**fields: Any) -> dict[str, Any]:
    raw = next(iter(generate_events(seed=91)))
    raw.update(fields)
    return raw


INVALID: dict[str, Callable[[], Any]] = {
    "249 KB non-object": lambda: [""] * 83_000,
    "NUL run as a string": lambda: "\x00" * 80_000,
    "quotes and backslashes": lambda: {"messageId": 7, "note": '"\\' * 120_000},
    "control characters": lambda: {"messageId": None, "note": "\x01\x1f" * 100_000},
    "1,100 levels deep": lambda: nested(1100),
    "1,100 levels deep as messageId": lambda: event(messageId=nested(1100)),
    "5,000 levels deep as flowDirection": lambda: event(flowDirection=nested(5000), messageId=[]),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_payloads_of_any_size_or_shape_are_quarantined(store_backend: Backend, case: str) -> None:
    raw = INVALID[case]()

    async def body(p: Pipeline, lines: list[str]) -> None:
        first = await p.process(raw, invocation(1))
        assert first.status is Status.QUARANTINED
        assert (await p.process(raw, invocation(2))).status is Status.QUARANTINED_DUPLICATE
        stored = await p.store.get(first.dedupe_key)
        assert stored is not None and stored["status"] == "INVALID"
        assert isinstance(stored["raw"], str)  # never a nested attribute (DynamoDB allows 32 levels)
        assert stored["rawBytes"] > 0 and len(stored["raw"].encode()) <= 300_000

    run(with_pipeline(store_backend, body))


@pytest.mark.parametrize("depth", [985, 1000, 1023, 1100, 3000])
def test_an_unknown_field_nested_deep_is_recorded(store_backend: Backend, depth: int) -> None:
    raw = event(deep=nested(depth))

    async def body(p: Pipeline, lines: list[str]) -> None:
        outcome = await p.process(raw, invocation(1))
        assert outcome.status is Status.RECORDED
        assert (await p.process(raw, invocation(2))).status is Status.DUPLICATE
        stored = await p.store.get(outcome.dedupe_key)
        assert stored is not None and stored["extra"] == dumps({"deep": raw["deep"]}).decode()

    run(with_pipeline(store_backend, body))


def test_a_deep_payload_goes_to_the_failure_queue_as_replayable_json() -> None:
    from datetime import UTC, datetime

    from collector.cli.inputs import unwrap
    from collector.failure_queue import failure_record
    from collector.jsonutil import ascii_json, canonical, loads
    from collector.model import Invocation

    raw = event(deep=nested(1000), subject="\ud83d")
    body = ascii_json(failure_record(raw, Invocation("r", "1", datetime.now(UTC)), "BudgetExceeded", "slow"))
    assert body.isascii()
    ((replayed, request_id),) = list(unwrap(loads(body)))
    assert request_id == "r" and canonical(replayed) == canonical(raw)


def replay(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "replay", str(path), "--emf-out", os.devnull],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        cwd=ROOT,
    )


def test_replay_quarantines_a_nul_run_and_records_the_events_after_it(tmp_path: Path) -> None:
    """What a crashed writer leaves: a line of NUL bytes between good events."""
    events = list(generate_events(count=4, seed=92))
    lines = [orjson.dumps(e) for e in events]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([*lines[:2], b"\x00" * 80_000, *lines[2:]]) + b"\n")
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    first = replay(path, env)
    assert first.returncode == 0, first.stderr
    assert "processed 5: recorded 4, duplicates 0 (conflicts 0), invalid 1, failed 0" in first.stderr
    again = replay(path, env)
    assert again.returncode == 0, again.stderr
    assert "processed 5: recorded 0, duplicates 5 (conflicts 0), invalid 0, failed 0" in again.stderr
