"""Fault injection between the collector and DynamoDB Local, with Lambda's asynchronous retry rule.

The contract: every event ends recorded exactly once or in the failure destination (nothing is
lost); every recorded event is counted in Messages exactly once (never twice, and never zero times
for an event whose invocation succeeded), even when DynamoDB applied a write whose answer never
reached the client and a retry then finds that write.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from collector.clock import utc_now
from collector.config import Settings
from collector.jsonutil import content_hash
from collector.metrics import EmfWriter
from collector.model import Invocation, Status
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.store.sqlite import SqliteStore
from tests.conftest import run
from tests.emf import validate_document
from tests.reliability.fault_proxy import AFTER_WRITE, Fault, FaultPlan, fault_proxy
from tests.reliability.support import (
    AsyncLambda,
    Delivery,
    group_errors,
    is_transient,
    lambda_containers,
    payload_copy,
    read_items,
)

CONTAINERS = 8
FAULT_SHARE = 0.25


def deliver(
    proxy_url: str, table: str, deliveries: list[Delivery], monkeypatch: pytest.MonkeyPatch
) -> AsyncLambda:
    """Run the deliveries through Lambda's async rule on `CONTAINERS` containers behind the proxy."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy_url)

    async def body() -> AsyncLambda:
        async with lambda_containers(table, min(CONTAINERS, len(deliveries))) as lam:
            await lam.run(deliveries)
            return lam

    return run(body())


@pytest.mark.dynamodb
def test_mixed_faults_every_event_recorded_and_counted_once_or_in_the_failure_destination(
    dynamodb_local: str, audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = generate_events(count=80, seed=21) + generate_events(count=40, direction="OUTBOUND", seed=22)
    rng = random.Random(23)
    deliveries = [Delivery(f"req-{n}", e) for n, e in enumerate(events)]
    deliveries += [Delivery(f"req-again-{n}", payload_copy(e)) for n, e in enumerate(rng.sample(events, 12))]
    rng.shuffle(deliveries)
    # Seed 8's schedule includes Lambda retries of attempts whose write DynamoDB had applied.
    plan = FaultPlan(share=FAULT_SHARE, seed=8)

    with fault_proxy(dynamodb_local, plan) as proxy:
        lam = deliver(proxy.url, audit_table, deliveries, monkeypatch)

    # The schedule really was hostile: at least 20% of requests failed, in every way there is.
    injected = sum(plan.injected.values())
    assert injected / plan.requests >= 0.20, (injected, plan.requests)
    assert set(plan.injected) == set(Fault), plan.injected
    assert all(is_transient(e) for e in lam.errors), group_errors(lam.errors)
    retried = [d for d in deliveries if lam.attempts[d.request_id] > 1]
    assert any(
        set(plan.log[f"{d.payload['invocationId']}/{d.request_id}"][:3]) & AFTER_WRITE for d in retried
    ), "the schedule should include a Lambda retry after a write DynamoDB applied"

    keys = [e["invocationId"] for e in events]
    stored = read_items(dynamodb_local, audit_table, keys, monkeypatch)
    failed = lam.destination_keys()
    counted = lam.messages_by_key()
    recorded = {k for k, item in stored.items() if item is not None}

    assert [k for k in keys if k not in recorded and k not in failed] == [], "events lost"
    for event in events:
        item = stored[event["invocationId"]]
        assert item is None or item["fingerprint"] == content_hash(event)
    assert {k: n for k, n in counted.items() if n > 1} == {}, "events counted twice"
    uncounted = sorted(k for k in recorded - failed if counted[k] != 1)
    assert uncounted == [], f"recorded events whose invocation succeeded but were never counted: {uncounted}"
    assert sum(counted.values()) == len(recorded - failed)
    assert all(counted[k] == 0 for k in failed)  # nothing is counted for an invocation that failed
    assert sum(o.status is Status.RECORDED for o in lam.outcomes) == len(recorded - failed)


@pytest.mark.dynamodb
@pytest.mark.parametrize("fault", sorted(AFTER_WRITE))
def test_sdk_retry_that_finds_its_own_write_counts_the_event_once(
    fault: Fault, dynamodb_local: str, audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB applied the PutItem, the answer was lost; the SDK's retry gets ConditionalCheckFailed
    with the item it wrote itself. That delivery is still the first one: RECORDED, Messages 1."""
    event = generate_events(seed=31)[0]
    steps: list[Fault | None] = [fault]
    plan = FaultPlan(script={f"{event['invocationId']}/req-1": steps})

    with fault_proxy(dynamodb_local, plan) as proxy:
        lam = deliver(proxy.url, audit_table, [Delivery("req-1", event)], monkeypatch)
        puts = proxy.counts["PutItem"]

    assert plan.injected == {fault: 1} and puts == 2  # the applied write, then the SDK's retry
    assert [o.status for o in lam.outcomes] == [Status.RECORDED]
    assert lam.messages_by_key() == {event["invocationId"]: 1}
    assert lam.destination == []


@pytest.mark.dynamodb
@pytest.mark.parametrize("fault", [Fault.DROP_AFTER_WRITE, Fault.ERROR_AFTER_WRITE])
def test_lambda_retry_that_finds_its_own_write_counts_the_event_once(
    fault: Fault, dynamodb_local: str, audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt's write was applied but its answer lost, and the SDK's two retries were
    throttled: the invocation failed. Lambda retries it with the same request id; that attempt
    finds the record the failed attempt wrote, which was never counted. It must be counted now."""
    event = generate_events(seed=32)[0]
    steps: list[Fault | None] = [fault, Fault.THROTTLE, Fault.THROTTLE]
    plan = FaultPlan(script={f"{event['invocationId']}/req-1": steps})

    with fault_proxy(dynamodb_local, plan) as proxy:
        lam = deliver(proxy.url, audit_table, [Delivery("req-1", event)], monkeypatch)

    assert lam.attempts["req-1"] == 2 and lam.destination == []
    stored = read_items(dynamodb_local, audit_table, [event["invocationId"]], monkeypatch)
    assert stored[event["invocationId"]] is not None
    assert lam.messages_by_key() == {event["invocationId"]: 1}, (
        "the event is recorded, its only successful invocation classified it "
        f"{[o.status.value for o in lam.outcomes]}, and no EMF document ever counted it"
    )


@pytest.mark.dynamodb
def test_events_that_fail_every_attempt_go_to_the_failure_destination_and_redrive_counts_them_once(
    dynamodb_local: str, audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three failed attempts put the event in the failure destination; nothing is counted for it.
    One of the two was written by its first attempt (the answer was lost): the audit trail has it.
    Redriven from the destination with the request id the destination record carries, each event
    is then counted exactly once."""
    never_written, written = generate_events(count=2, seed=41)
    script: dict[str, list[Fault | None]] = {
        f"{never_written['invocationId']}/req-a": [Fault.THROTTLE, Fault.SERVER_ERROR, Fault.DROP] * 3,
        f"{written['invocationId']}/req-b": [Fault.DROP_AFTER_WRITE, *[Fault.THROTTLE] * 8],
    }
    plan = FaultPlan(script=script)
    deliveries = [Delivery("req-a", never_written), Delivery("req-b", written)]

    with fault_proxy(dynamodb_local, plan) as proxy:
        lam = deliver(proxy.url, audit_table, deliveries, monkeypatch)
        assert {r.request_id for r in lam.destination} == {"req-a", "req-b"}
        assert lam.attempts == {"req-a": 3, "req-b": 3}  # the first invocation and 2 Lambda retries
        assert all(plan.seen[key] == 9 for key in plan.script)  # each attempt: the SDK's 3 tries
        assert lam.lines == []  # no metric for an event that was not recorded by a successful invocation
        assert all(is_transient(e) for e in lam.errors), group_errors(lam.errors)

        keys = [never_written["invocationId"], written["invocationId"]]
        stored = read_items(dynamodb_local, audit_table, keys, monkeypatch)
        assert stored[keys[0]] is None and stored[keys[1]] is not None

        redrive: list[Delivery] = [Delivery(r.request_id, r.payload) for r in lam.destination]
        again = deliver(proxy.url, audit_table, redrive, monkeypatch)

    statuses: dict[str, Any] = {o.dedupe_key: o.status.value for o in again.outcomes}
    assert again.messages_by_key() == {keys[0]: 1, keys[1]: 1}, f"redrive outcomes: {statuses}"


class Crash(Exception):
    """The process dying (a timeout, out of memory) at one precise instant."""


def test_crash_after_the_write_before_the_emf_line_is_counted_by_lambdas_retry(tmp_path: Path) -> None:
    """The documented window: the record is written, then the invocation dies before its EMF line.
    Lambda retries the failed invocation with the same request id; that retry must count the event
    (it is the only delivery that ever can), or the window loses a Messages count for good."""
    event = generate_events(seed=71)[0]
    lines: list[str] = []
    crashes = iter([True])  # the first EMF line never gets out; later ones do

    def write(line: str) -> None:
        if next(crashes, False):
            raise Crash
        lines.append(line)

    async def body() -> list[str]:
        store = SqliteStore(tmp_path / "audit.sqlite3")
        settings = Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3")
        pipeline = Pipeline(store, EmfWriter(settings.namespace, "crash", write), settings)
        try:
            with pytest.raises(Crash):
                await pipeline.process(event, Invocation("req-1", "1", utc_now()))
            assert await store.get(event["invocationId"]) is not None  # the write happened
            retry = await pipeline.process(event, Invocation("req-1", "1", utc_now()))  # Lambda's retry
            again = await pipeline.process(payload_copy(event), Invocation("req-2", "1", utc_now()))
            return [retry.status.value, again.status.value]
        finally:
            await store.close()

    statuses = run(body())
    counted = sum(validate_document(line).get("Messages", 0) for line in lines)
    assert (statuses, counted) == (["RECORDED", "DUPLICATE"], 1), (
        f"Lambda's retry was classified {statuses[0]}: the event is recorded but never counted"
    )
