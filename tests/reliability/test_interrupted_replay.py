"""Interrupted replays, as a property: stop a replay at a random point, run it again, count each once.

Hypothesis picks the input (unique events, redeliveries inside it, invalid payloads), the order,
the concurrency, and one fault at a random point of the first run: the EMF destination filling up,
the store refusing every call from some call on, the store dying right after it applied a write,
an input read error, or Ctrl-C, SIGTERM or SIGHUP (once: finish what is in flight; twice: abandon
it). Then a clean
rerun and a third run. Over the EMF documents written by all runs, every unique event has
Messages 1 and every unique invalid payload InvalidEvents 1: never zero, never twice.

The faults wrap the real stores (SQLite, and DynamoDB Local over HTTP) and the real EMF sink; the
replay loop is the CLI's own (`collector.cli.replay.replay_events`).
"""

from __future__ import annotations

import errno
import io
import itertools
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.cli.inputs import Delivery
from collector.cli.replay import EmfSink, ReplayRun, replay_events
from collector.config import Settings
from collector.events.detect import parse
from collector.metrics import EmfWriter
from collector.model import Item
from collector.pipeline import Pipeline
from collector.progress import Progress
from collector.runtime import open_store
from collector.sampling import generate_events
from collector.store import AuditStore, PutResult, Query, StoreError, Tally, TallyKey
from tests.conftest import make_table, run
from tests.emf import validate_document

SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sighup": signal.SIGHUP}
KINDS = (
    "emf-full",
    "store-down",
    "store-dies-after-write",
    "read-error",
    *SIGNALS,
    *(f"double-{name}" for name in SIGNALS),
)


@dataclass(frozen=True)
class Fault:
    kind: str
    at: int  # the n-th EMF line, store call, write or input event at which it strikes (1-based)


class FaultyStore:
    """A real store that, from the `at`-th call on, refuses every call (`store-down`), or applies
    the `at`-th write and then refuses everything (`store-dies-after-write`); for `sigint`,
    `sigterm` or `sighup`, it sends this process that signal on that call (and on the second call
    after, for `double-...`)."""

    def __init__(self, inner: AuditStore, fault: Fault | None) -> None:
        self.inner = inner
        self.fault = fault
        self.calls = 0
        self.puts = 0
        self.dead = False

    def _call(self) -> None:
        if self.dead:
            raise StoreError("the store is gone")
        self.calls += 1
        if self.fault is None:
            return
        kind, at = self.fault.kind, self.fault.at
        if kind == "store-down" and self.calls == at:
            self.dead = True
            raise StoreError("the store went down")
        name = kind.removeprefix("double-")
        if name in SIGNALS and (self.calls == at or (kind.startswith("double-") and self.calls == at + 2)):
            os.kill(os.getpid(), SIGNALS[name])

    async def put_once(self, item: Item) -> PutResult:
        self._call()
        result = await self.inner.put_once(item)
        if self.fault is not None and self.fault.kind == "store-dies-after-write":
            self.puts += 1
            if self.puts == self.fault.at:
                self.dead = True
                raise StoreError("the store died after applying the write")
        return result

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        self._call()
        return await self.inner.set_count_state(key, expected, new)

    async def replace_invalid(self, item: Item) -> bool:
        self._call()
        return await self.inner.replace_invalid(item)

    async def get(self, key: str) -> Item | None:
        self._call()
        return await self.inner.get(key)

    async def query(self, query: Query) -> list[Item]:
        self._call()
        return await self.inner.query(query)

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        self._call()
        return await self.inner.tally(day)

    def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        self._call()
        return self.inner.oldest_first(since, until, page)

    async def close(self) -> None:
        await self.inner.close()


class FillingSink(EmfSink):
    """The real sink on a file whose disk is full from the `at`-th line on."""

    def __init__(self, path: Path, full_at: int | None) -> None:
        super().__init__(str(path))
        self.full_at = full_at
        self.lines = 0

    def _put(self, text: str) -> None:
        self.lines += 1
        if self.full_at is not None and self.lines >= self.full_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        super()._put(text)


def deliveries_with_read_error(deliveries: list[Delivery], fault: Fault | None) -> Iterator[Delivery]:
    for n, delivery in enumerate(deliveries, start=1):
        if fault is not None and fault.kind == "read-error" and n == fault.at:
            raise OSError(errno.EIO, "Input/output error")
        yield delivery


def invalid_payload(n: int) -> dict[str, Any]:
    return {"invocationId": f"{n:040x}", "flowDirection": "INBOUND", "envelope": "not an envelope"}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Delivery], int, Fault]:
    unique = draw(st.integers(min_value=1, max_value=24))
    events: list[Any] = generate_events(count=unique, seed=draw(st.integers(0, 10_000)))
    events += [invalid_payload(n) for n in range(draw(st.integers(0, 3)))]
    copies = draw(st.lists(st.sampled_from(range(len(events))), max_size=12))
    payloads = draw(st.permutations([*events, *(events[i] for i in copies)]))
    fault = Fault(draw(st.sampled_from(KINDS)), draw(st.integers(min_value=1, max_value=2 * len(payloads))))
    return [(p, None) for p in payloads], draw(st.sampled_from([1, 4])), fault


def replay_once(
    settings_: Settings, deliveries: list[Delivery], concurrency: int, fault: Fault | None, emf: Path
) -> ReplayRun:
    async def body() -> ReplayRun:
        store = FaultyStore(await open_store(settings_), fault)
        sink = FillingSink(emf, fault.at if fault is not None and fault.kind == "emf-full" else None)
        pipeline = Pipeline(store, EmfWriter(settings_.namespace, "replay", sink.write), settings_)
        progress = Progress(io.StringIO(), enabled=False)
        replayed = ReplayRun()
        try:
            await replay_events(
                pipeline,
                deliveries_with_read_error(deliveries, fault),
                concurrency,
                settings_,
                sink,
                progress,
                replayed,
            )
        finally:
            await pipeline.close()
            sink.close()
        return replayed

    return run(body())


def counted(emf_files: list[Path]) -> tuple[Counter[str], Counter[str]]:
    """Messages and InvalidEvents per invocationId, over every EMF document written to the files."""
    messages: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    for path in emf_files:
        for line in path.read_text().splitlines() if path.exists() else []:
            document = validate_document(line)
            messages[document["invocationId"]] += document.get("Messages", 0)
            invalid[document["invocationId"]] += document.get("InvalidEvents", 0)
    return +messages, +invalid


def check_interrupted_then_rerun(
    settings_: Settings, deliveries: list[Delivery], concurrency: int, fault: Fault, folder: Path
) -> None:
    first = replay_once(settings_, deliveries, concurrency, fault, folder / "first.jsonl")
    assert first.stopped_by is not None or first.not_done == 0
    second = replay_once(settings_, deliveries, concurrency, None, folder / "second.jsonl")
    assert second.stopped_by is None and second.not_done == 0
    third = replay_once(settings_, deliveries, concurrency, None, folder / "third.jsonl")
    assert third.emitted["Messages"] == 0 and third.emitted["InvalidEvents"] == 0

    payloads = [p for p, _ in deliveries if isinstance(p, dict)]
    valid = {str(p["invocationId"]) for p in payloads if isinstance(p.get("envelope"), dict)}
    invalid = {parse(p).dedupe_key for p in payloads if not isinstance(p.get("envelope"), dict)}
    messages, invalid_events = counted(
        [folder / "first.jsonl", folder / "second.jsonl", folder / "third.jsonl"]
    )
    assert messages == Counter(dict.fromkeys(valid, 1)), (fault, first.stopped_by)
    assert invalid_events == Counter(dict.fromkeys(invalid, 1)), (fault, first.stopped_by)
    # What each run's summary says it emitted is what reached the files.
    assert first.emitted["Messages"] + second.emitted["Messages"] == len(valid)


_examples = itertools.count()
# Each example replays into its own folder under the function's tmp_path (made per example).
REPLAYS = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(REPLAYS, max_examples=60)
@given(scenario=scenarios())
def test_interrupted_replays_on_sqlite_count_each_event_once(
    tmp_path: Path, scenario: tuple[list[Delivery], int, Fault]
) -> None:
    deliveries, concurrency, fault = scenario
    folder = tmp_path / f"example-{next(_examples)}"
    folder.mkdir()
    store_settings = Settings(store="sqlite", sqlite_path=folder / "audit.sqlite3")
    check_interrupted_then_rerun(store_settings, deliveries, concurrency, fault, folder)


@pytest.mark.dynamodb
@settings(REPLAYS, max_examples=15)
@given(scenario=scenarios())
def test_interrupted_replays_on_dynamodb_local_count_each_event_once(
    dynamodb_local: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scenario: tuple[list[Delivery], int, Fault],
) -> None:
    deliveries, concurrency, fault = scenario
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    folder = tmp_path / f"example-{next(_examples)}"
    folder.mkdir()
    store_settings = Settings(store="dynamodb", table_name=make_table(dynamodb_local))
    check_interrupted_then_rerun(store_settings, deliveries, concurrency, fault, folder)
