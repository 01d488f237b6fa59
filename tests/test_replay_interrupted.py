"""A replay stopped part-way, then run again: every event counted once over both runs, never twice.

Each way a replay can stop is tried on SQLite and on DynamoDB Local, through the installed
`workmail-collector` script: a full disk under `--emf-out` (/dev/full), a closed stdout, an input
file that cannot be read, the store dying right after it applied a write, and Ctrl-C. Each run must
end with exit 1 (130 for Ctrl-C) and one clear line saying why, and the Messages of the run and of a
clean rerun must add up to the number of unique events; a third run counts nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from collector.sampling import generate_events
from tests.conftest import ROOT, make_table
from tests.emf import sum_metric
from tests.test_cli import SCRIPT, cli

EVENTS = 100


@dataclass
class Target:
    """Where a replay writes: the store arguments and environment for the CLI."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]


@pytest.fixture(params=["sqlite", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    if request.param == "sqlite":
        return Target("sqlite", (), env)
    endpoint: str = request.getfixturevalue("dynamodb_local")
    table = make_table(endpoint)
    return Target(
        "dynamodb", ("--store", "dynamodb", "--table", table), {**env, "AWS_ENDPOINT_URL": endpoint}
    )


def events_file(tmp_path: Path, count: int = EVENTS, seed: int = 81) -> Path:
    """`count` unique events, one of them delivered twice (a redelivery inside the input)."""
    events = generate_events(count=count, seed=seed)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in [*events, events[3]]))
    return path


def messages(path: Path) -> float:
    return sum_metric(path.read_text().splitlines(), "Messages") if path.exists() else 0.0


def rerun_counts_the_rest(target: Target, events: Path, tmp_path: Path, counted_before: float) -> None:
    """A clean rerun brings Messages over both runs to the number of unique events; a third, nothing."""
    emf = tmp_path / "rerun.jsonl"
    fast = ("--concurrency", "8")
    again = cli("replay", str(events), "--emf-out", str(emf), *fast, *target.args, env=target.env)
    assert again.returncode == 0, again.stderr
    assert counted_before + messages(emf) == EVENTS, (counted_before, messages(emf), again.stderr)
    third = tmp_path / "third.jsonl"
    once_more = cli("replay", str(events), "--emf-out", str(third), *fast, *target.args, env=target.env)
    assert once_more.returncode == 0 and messages(third) == 0
    deliveries = len(events.read_bytes().splitlines())
    assert sum_metric(third.read_text().splitlines(), "DuplicateInvocations") == deliveries


def one_clear_failure(stderr: str, expected: str) -> None:
    assert expected in stderr, stderr
    assert "Traceback" not in stderr and "store error" not in stderr.replace(expected, ""), stderr
    assert "replay the same input again" in stderr.lower()


def test_a_full_disk_under_emf_out(target: Target, tmp_path: Path) -> None:
    events = events_file(tmp_path)
    full = cli(
        "replay",
        str(events),
        "--emf-out",
        "/dev/full",
        "--concurrency",
        "8",
        *target.args,
        env=target.env,
    )
    assert full.returncode == 1
    one_clear_failure(full.stderr, "cannot write EMF documents to /dev/full: no space left on the device")
    rerun_counts_the_rest(target, events, tmp_path, counted_before=0)


def test_a_closed_stdout(target: Target, tmp_path: Path) -> None:
    """`replay ... | head -n 3`: what reached the pipe counts, the rest is counted by the rerun."""
    events = events_file(tmp_path)
    head = subprocess.run(
        f"'{SCRIPT}' replay '{events}' {' '.join(target.args)} | head -n 3 > '{tmp_path / 'head.jsonl'}'",
        shell=True,
        executable="/bin/bash",
        env={**os.environ, **target.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    one_clear_failure(head.stderr, "stdout was closed")
    # Lines still in the pipe when `head` exited were written (and counted) but never read: the
    # summary's EMF sums say what was written, and the rerun completes exactly that.
    summary = next(line for line in head.stderr.splitlines() if line.startswith("EMF metric sums"))
    written = int(summary.split("Messages ")[1].split(",")[0])
    assert written >= 3
    rerun_counts_the_rest(target, events, tmp_path, counted_before=written)


def test_an_input_file_that_cannot_be_read(target: Target, tmp_path: Path) -> None:
    """/proc/self/mem opens as a regular file and fails every read with EIO: a failing disk."""
    events = events_file(tmp_path)
    emf = tmp_path / "emf.jsonl"
    broken = cli("replay", str(events), "/proc/self/mem", "--emf-out", str(emf), *target.args, env=target.env)
    assert broken.returncode == 1
    one_clear_failure(broken.stderr, "Input/output error")
    assert messages(emf) == EVENTS  # everything before the unreadable file was replayed and counted
    rerun_counts_the_rest(target, events, tmp_path, counted_before=messages(emf))


@pytest.mark.parametrize(
    ("name", "code"), [("SIGINT", 130), pytest.param("SIGTERM", 143), pytest.param("SIGHUP", 129)]
)
def test_a_signal_finishes_the_events_in_flight(target: Target, tmp_path: Path, name: str, code: int) -> None:
    """Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) alike: one line, exit 128 + signal."""
    events = events_file(tmp_path, count=EVENTS)
    big = tmp_path / "big.jsonl"
    # Enough input that Ctrl-C lands mid-way: the same events many times over (duplicates after
    # the first pass), so the unique count stays EVENTS.
    big.write_bytes(events.read_bytes() * 30)
    emf = tmp_path / "emf.jsonl"
    process = subprocess.Popen(
        [str(SCRIPT), "replay", str(big), "--emf-out", str(emf), "--concurrency", "8", *target.args],
        env={**os.environ, **target.env},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (not emf.exists() or emf.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    one_clear_failure(stderr, "finishing the events in flight")
    assert name in stderr or name == "SIGINT", stderr
    assert "replay stopped early" in stderr
    rerun_counts_the_rest(target, big, tmp_path, counted_before=messages(emf))


def test_sqlite_a_stop_with_many_events_in_flight_reports_only_its_cause(tmp_path: Path) -> None:
    """The store closes after the last event finished, and an EMF failure is not a store error."""
    events = events_file(tmp_path)
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    result = cli("replay", str(events), "--emf-out", "/dev/full", "--concurrency", "16", env=env)
    assert result.returncode == 1
    assert "store error" not in result.stderr and "closed database" not in result.stderr
    assert result.stderr.count("ERROR") == 1, result.stderr


@pytest.fixture
def dying_dynamodb(dynamodb_local: str) -> Iterator[str]:
    """A proxy in front of DynamoDB Local that forwards the 10th PutItem, so DynamoDB applies it,
    then drops its answer and every request after it: the store died right after the write."""
    from bench.proxy import Intercept, Request, running_proxy

    puts = 0
    dead = False

    def policy(request: Request) -> Intercept | None:
        nonlocal puts, dead
        if dead:
            return Intercept("dead", drop=True)
        if request.target.endswith("PutItem"):
            puts += 1
            if puts == 10:
                dead = True
                return Intercept("applied-then-dead", forward=True, drop=True)
        return None

    with running_proxy(dynamodb_local, policy) as proxy:
        yield proxy.url


@pytest.mark.dynamodb
def test_dynamodb_dying_right_after_applying_a_write(
    dynamodb_local: str, dying_dynamodb: str, tmp_path: Path
) -> None:
    proxy_url = dying_dynamodb
    table = make_table(dynamodb_local)
    target = Target(
        "dynamodb", ("--store", "dynamodb", "--table", table), {"AWS_ENDPOINT_URL": dynamodb_local}
    )
    events = events_file(tmp_path)
    emf = tmp_path / "emf.jsonl"
    dying = cli(
        "replay",
        str(events),
        "--emf-out",
        str(emf),
        *target.args,
        env={**target.env, "AWS_ENDPOINT_URL": proxy_url},
    )
    assert dying.returncode == 1
    one_clear_failure(dying.stderr, "store error")
    assert messages(emf) == 9  # the 10th record was written, never counted
    rerun_counts_the_rest(target, events, tmp_path, counted_before=messages(emf))


def test_failure_records_replayed_twice_are_counted_once(tmp_path: Path) -> None:
    """An invocation that failed after its write is counted by the first replay of its failure
    record (same request id: the Lambda's own write), and by no replay after that."""
    from collector.clock import utc_now
    from collector.config import Settings
    from collector.metrics import EmfWriter
    from collector.model import Invocation
    from collector.pipeline import Pipeline
    from collector.store.sqlite import SqliteStore
    from tests.conftest import run

    event = generate_events(seed=83)[0]
    db = tmp_path / "audit.sqlite3"
    settings = Settings(store="sqlite", sqlite_path=db)

    async def lambda_wrote_then_failed() -> None:
        lost: list[str] = []  # the EMF line never reached the log: the invocation died there
        pipeline = Pipeline(SqliteStore(db), EmfWriter(settings.namespace, "fn", lost.append), settings)
        await pipeline.process(event, Invocation("req-83", "7", utc_now()))
        await pipeline.close()

    run(lambda_wrote_then_failed())
    record = {
        "requestContext": {"requestId": "req-83", "condition": "RetriesExhausted"},
        "requestPayload": event,
    }
    kept = tmp_path / "kept.json"
    kept.write_bytes(orjson.dumps(record))
    env = {"COLLECTOR_SQLITE_PATH": str(db)}
    first = cli("replay", str(kept), env=env)
    assert first.returncode == 0 and sum_metric(first.stdout.splitlines(), "Messages") == 1
    again = cli("replay", str(kept), env=env)
    assert again.returncode == 0, again.stderr
    assert sum_metric(again.stdout.splitlines(), "Messages") == 0
    assert sum_metric(again.stdout.splitlines(), "DuplicateInvocations") == 1


def test_every_failed_emf_write_is_told_from_a_store_error() -> None:
    """Under concurrency a second event's failed write is still the disk's, not the store's (it was
    reported as "store error: OSError" when the first event was still giving back its claim)."""
    from collector.cli.replay import EmfSink

    sink = EmfSink("/dev/full")
    failures = []
    for _ in range(2):
        with pytest.raises(OSError) as raised:
            sink.write("{}\n")
        failures.append(raised.value)
    sink.close()
    assert failures[0] is not failures[1]
    assert all(sink.raised(error) for error in failures)
    assert not sink.raised(OSError(28, "No space left on device"))  # the same error from elsewhere
    assert sink.describe(failures[1]).endswith("/dev/full: no space left on the device")


@pytest.mark.parametrize(("age_days", "backdated"), [(0, True), (3, False)])
def test_a_record_counted_late_is_counted_on_its_own_day(
    tmp_path: Path, age_days: int, backdated: bool
) -> None:
    """The Lambda wrote the record, then its invocation failed before the EMF line; the replay of its
    failure record counts it when the record was received if that was today, else now: dated back
    to an earlier day it would double a correction reconcile --fix may already have written there."""
    import asyncio
    import json
    from datetime import UTC, datetime, timedelta

    from collector.clock import utc_now
    from collector.config import Settings
    from collector.failure_queue import failure_record
    from collector.metrics import EmfWriter
    from collector.model import Invocation
    from collector.pipeline import Pipeline
    from collector.store.sqlite import SqliteStore

    database = tmp_path / "audit.sqlite3"
    event = generate_events(seed=91)[0]
    now = utc_now()
    earlier_today = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=0, microsecond=0))
    received = now - timedelta(days=age_days) if age_days else earlier_today
    invocation = Invocation("lambda-request-1", "$LATEST", received)

    def crash(_: str) -> None:
        raise OSError("the function died after its write")

    async def lambda_write_then_fail() -> None:
        store = SqliteStore(str(database))
        pipeline = Pipeline(store, EmfWriter("WorkMailCollector", "svc", crash), Settings())
        with pytest.raises(OSError):
            await pipeline.process(event, invocation)
        await store.close()

    asyncio.run(lambda_write_then_fail())
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps(failure_record(event, invocation, "RetriesExhausted", "died")))
    emf = tmp_path / "emf.jsonl"
    result = cli("replay", str(failed), "--emf-out", str(emf), env={"COLLECTOR_SQLITE_PATH": str(database)})
    assert result.returncode == 0, result.stderr
    (document,) = [orjson.loads(line) for line in emf.read_text().splitlines()]
    assert document["status"] == "RECORDED" and document["Messages"] == 1
    stamped = datetime.fromtimestamp(document["_aws"]["Timestamp"] / 1000, UTC)
    if backdated:
        assert abs(stamped - received) < timedelta(milliseconds=1)
    else:
        assert utc_now() - stamped < timedelta(minutes=5)


def test_a_hand_edited_request_id_with_a_lone_surrogate_does_not_stall_replay(tmp_path: Path) -> None:
    """`"\\ud800abc"` is legal JSON; it made the EMF line fail on every run, the record stayed
    PENDING and replay stopped there each time."""
    event = generate_events(seed=92)[0]
    failed = tmp_path / "failed.json"
    payload = orjson.dumps(event).decode()
    failed.write_text('{"requestContext": {"requestId": "\\ud800abc"}, "requestPayload": ' + payload + "}")
    emf = tmp_path / "emf.jsonl"
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    result = cli("replay", str(failed), "--emf-out", str(emf), env=env)
    assert result.returncode == 0, result.stderr
    (document,) = [orjson.loads(line) for line in emf.read_text().splitlines()]
    assert document["status"] == "RECORDED" and document["requestId"] == "\ufffdabc"
