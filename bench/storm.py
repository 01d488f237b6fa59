"""Duplicate storm: every event delivered several times by concurrent tasks, copies racing each other.

Shared by `python -m bench --storm` (full size, timed) and tests/reliability/test_storm.py (CI
size, asserted). Copies of one event are placed within a small window of the delivery order, so
with `concurrency` deliveries in flight they really race on the same conditional write instead
of arriving minutes apart.
"""

from __future__ import annotations

import asyncio
import queue
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from collector.clock import utc_now
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation, Outcome, Status
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.store import AuditStore

Event = dict[str, Any]


def storm_events(count: int, seed: int = 0) -> list[Event]:
    """`count` valid events with unique invocationIds, about a third of them outbound."""
    outbound = count // 3
    return generate_events(count=count - outbound, seed=seed, recipients=2) + generate_events(
        count=outbound, direction="OUTBOUND", seed=seed + 1, recipients=3
    )


def storm_deliveries(events: list[Event], copies: int = 3, window: int = 16, seed: int = 0) -> list[Event]:
    """Byte-identical copies, shuffled only within blocks of `window` events so copies overlap in time."""
    rng = random.Random(seed)
    order = list(events)
    rng.shuffle(order)
    deliveries: list[Event] = []
    for start in range(0, len(order), window):
        block = [orjson.loads(orjson.dumps(e)) for e in order[start : start + window] for _ in range(copies)]
        rng.shuffle(block)
        deliveries += block
    return deliveries


async def deliver_concurrently(
    pipeline: Pipeline, deliveries: list[Event], concurrency: int = 64
) -> list[Outcome]:
    """All deliveries as tasks on one loop, at most `concurrency` in flight (like that many containers).

    Unbounded, thousands of ready tasks starve the loop long enough for the SDK's 2 s connect
    timeout to fire on connections that were in fact established.
    """
    gate = asyncio.Semaphore(concurrency)

    async def deliver(n: int, event: Event) -> Outcome:
        async with gate:
            return await pipeline.process(event, Invocation(f"storm-{n}", "1", utc_now()))

    return list(await asyncio.gather(*(deliver(n, e) for n, e in enumerate(deliveries))))


def deliver_in_threads(
    open_store: Callable[[], Awaitable[AuditStore]],
    settings: Settings,
    lines: list[str],
    deliveries: list[Event],
    workers: int = 4,
) -> list[Outcome]:
    """Deliveries pulled by `workers` threads, each its own loop, store connection and pipeline.

    For SQLite, whose calls are synchronous: one loop would serialise them, threads make separate
    connections race on the primary key.
    """
    work: queue.SimpleQueue[tuple[int, Event] | None] = queue.SimpleQueue()
    for n, event in enumerate(deliveries):
        work.put((n, event))
    for _ in range(workers):
        work.put(None)
    outcomes: list[Outcome | None] = [None] * len(deliveries)
    errors: list[BaseException] = []

    async def worker() -> None:
        store = await open_store()
        pipeline = Pipeline(store, EmfWriter(settings.namespace, settings.service, lines.append), settings)
        try:
            while (job := work.get()) is not None:
                n, event = job
                outcomes[n] = await pipeline.process(event, Invocation(f"storm-{n}", "1", utc_now()))
        finally:
            await store.close()

    def run() -> None:
        try:
            asyncio.run(worker())
        except BaseException as error:  # surfaced below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, name=f"storm-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


@dataclass
class StormSummary:
    events: int
    deliveries: int
    seconds: float
    statuses: Counter[str] = field(default_factory=Counter)
    metric_sums: Counter[str] = field(default_factory=Counter)
    stored: int = -1

    def lines(self) -> list[str]:
        rate = self.deliveries / self.seconds if self.seconds else float("inf")
        return [
            f"{self.events} events, {self.deliveries} deliveries: {self.seconds:.1f} s, {rate:,.0f}/s",
            f"audit records {self.stored}, outcomes {dict(sorted(self.statuses.items()))}",
            "EMF sums " + ", ".join(f"{k}={v:g}" for k, v in sorted(self.metric_sums.items())),
        ]


def summarize(events: int, outcomes: list[Outcome], lines: list[str], seconds: float) -> StormSummary:
    summary = StormSummary(events=events, deliveries=len(outcomes), seconds=seconds)
    summary.statuses.update(o.status.value for o in outcomes)
    for line in lines:
        document = orjson.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                summary.metric_sums[metric["Name"]] += document[metric["Name"]]
    return summary


def expected(events: int, copies: int) -> dict[str, int]:
    """What an exact collector reports for a storm of `events` x `copies` valid deliveries."""
    return {
        Status.RECORDED.value: events,
        Status.DUPLICATE.value: events * (copies - 1),
        "Messages": events,
        "DuplicateInvocations": events * (copies - 1),
    }
