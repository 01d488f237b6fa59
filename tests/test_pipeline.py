"""The pipeline end to end on every store: recorded once, counted once, nothing lost."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from collector.config import Settings
from collector.events.detect import parse
from collector.metrics import EmfWriter
from collector.model import Invocation, Status
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.store.dynamodb import DynamoDbStore
from tests.conftest import Backend, run
from tests.emf import MAX_DOCUMENT_BYTES, sum_metric, validate_document
from tests.failing_server import failing_endpoint

KEY = b"an-hmac-key-of-sufficient-length"


def invocation(n: int = 0) -> Invocation:
    return Invocation(f"req-{n}", "7", datetime.now(UTC))


async def with_pipeline(
    backend: Backend, body: Callable[[Pipeline, list[str]], Awaitable[Any]], **settings: Any
) -> Any:
    lines: list[str] = []
    config = dataclasses.replace(backend.settings, **settings)
    store = await dataclasses.replace(backend, settings=config).open()
    pipeline = Pipeline(store, EmfWriter(config.namespace, "test-service", lines.append), config)
    try:
        return await body(pipeline, lines)
    finally:
        await store.close()


def test_records_once_and_emits_one_valid_emf_document(backend: Backend) -> None:
    raw = generate_events(recipients=3, direction="OUTBOUND", seed=1)[0]

    async def body(p: Pipeline, lines: list[str]) -> None:
        outcome = await p.process(raw, invocation())
        assert outcome.status is Status.RECORDED
        assert len(lines) == 1
        doc = validate_document(lines[0])
        assert doc["messageId"] == raw["messageId"] and doc["invocationId"] == raw["invocationId"]
        assert doc["Messages"] == 1 and doc["Recipients"] == 3 and doc["FlowDirection"] == "OUTBOUND"
        assert doc["Source"] == "WorkMail"
        # Only nonzero metrics, each under its one dimension set from the catalog.
        assert [
            (d["Dimensions"], [m["Name"] for m in d["Metrics"]]) for d in doc["_aws"]["CloudWatchMetrics"]
        ] == [([["Service", "Source", "FlowDirection"]], ["Messages", "Recipients"])]
        stored = await p.store.get(raw["invocationId"])
        assert stored is not None
        assert stored["requestId"] == "req-0" and stored["functionVersion"] == "7"
        assert stored["recipients"] == [r["address"] for r in raw["envelope"]["recipients"]]
        assert stored["subject"] == raw["subject"] and stored["summaryVersion"] == "2019-07-28"
        assert stored["expiresAt"] - datetime.fromisoformat(
            stored["receivedAt"]
        ).timestamp() == pytest.approx(365 * 86400, abs=1)

    run(with_pipeline(backend, body))


def test_sequential_redeliveries_count_once(backend: Backend) -> None:
    raw = generate_events(seed=2)[0]

    async def body(p: Pipeline, lines: list[str]) -> None:
        statuses = [(await p.process(raw, invocation(i))).status for i in range(3)]
        assert statuses == [Status.RECORDED, Status.DUPLICATE, Status.DUPLICATE]
        assert sum_metric(lines, "Messages") == 1
        assert sum_metric(lines, "DuplicateInvocations") == 2
        assert sum_metric(lines, "Recipients") == 2

    run(with_pipeline(backend, body))


def test_concurrent_redeliveries_200_events_3_times(backend: Backend) -> None:
    events = generate_events(count=120, seed=3) + generate_events(count=80, direction="OUTBOUND", seed=4)
    deliveries = [e for e in events for _ in range(3)]
    random.Random(5).shuffle(deliveries)

    async def body(p: Pipeline, lines: list[str]) -> None:
        outcomes = await asyncio.gather(*(p.process(e, invocation(i)) for i, e in enumerate(deliveries)))
        assert sum(o.status is Status.RECORDED for o in outcomes) == 200
        assert sum(o.status is Status.DUPLICATE for o in outcomes) == 400
        assert len(lines) == 600
        assert sum_metric(lines, "Messages") == 200
        assert sum_metric(lines, "Messages", FlowDirection="INBOUND") == 120
        assert sum_metric(lines, "Messages", FlowDirection="OUTBOUND") == 80
        assert sum_metric(lines, "DuplicateInvocations") == 400
        stored = [await p.store.get(e["invocationId"]) for e in events]
        assert all(s is not None and s["status"] == "RECORDED" for s in stored)

    run(with_pipeline(backend, body))


def test_conflicting_redelivery_is_counted_and_logged_without_values(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    raw = generate_events(seed=6)[0]
    changed = dict(raw, subject="a different secret subject", flowDirection="OUTBOUND")

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.process(raw, invocation(1))
        with caplog.at_level(logging.WARNING, logger="workmail_collector"):
            outcome = await p.process(changed, invocation(2))
        assert outcome.status is Status.CONFLICT
        assert outcome.differing_fields == ("direction", "subject")
        assert sum_metric(lines, "Conflicts") == 1 and sum_metric(lines, "Messages") == 1
        stored = await p.store.get(raw["invocationId"])
        assert stored is not None and stored["subject"] == raw["subject"]  # first write wins
        text = caplog.text
        assert "conflicting redelivery" in text and raw["invocationId"] in text
        assert "secret" not in text and raw["subject"] not in text

    run(with_pipeline(backend, body))


@pytest.mark.parametrize(
    "raw",
    [
        ["not", "an", "object"],
        {
            "invocationId": "f" * 32,
            "flowDirection": "INBOUND",
            "messageId": "m",
            "truncated": "no",
            "envelope": {"mailFrom": {"address": "a@b.c"}, "recipients": []},
        },
        {"messageId": "m", "envelope": {"recipients": [{"address": 5}]}, "padding": "x" * 500_000},
    ],
    ids=["array", "wrong-type", "huge-and-missing-id"],
)
def test_invalid_payloads_are_quarantined_once_and_logged(
    backend: Backend, raw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        with caplog.at_level(logging.ERROR, logger="workmail_collector"):
            first = await p.process(raw, invocation(1))
        again = await p.process(raw, invocation(2))
        assert first.status is Status.QUARANTINED
        assert again.status is Status.QUARANTINED_DUPLICATE
        assert sum_metric(lines, "InvalidEvents") == 1 and sum_metric(lines, "Messages") == 0
        assert sum_metric(lines, "DuplicateInvocations") == 1
        stored = await p.store.get(first.dedupe_key)
        assert stored is not None and stored["status"] == "INVALID" and stored["reason"]
        raw_bytes = len(orjson.dumps(raw))
        assert stored["rawBytes"] == raw_bytes
        if raw_bytes < 300_000:
            assert orjson.loads(stored["raw"]) == raw and not stored["rawTruncated"]
        else:
            assert stored["rawTruncated"] and len(stored["raw"]) <= 300_000
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "invalid event quarantined" in errors[0].getMessage()

    run(with_pipeline(backend, body))


def test_redaction_stores_and_emits_no_clear_text(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    raw = generate_events(seed=7)[0]
    raw["unknownField"] = {"note": "contact carol@example.net"}
    clear = [
        raw["sender"]["address"],
        raw["subject"],
        "carol@example.net",
        *(r["address"] for r in raw["envelope"]["recipients"]),
    ]
    bad = {"invocationId": "e" * 32, "messageId": "m", "subject": "secret plan", "envelope": "broken"}

    async def body(p: Pipeline, lines: list[str]) -> None:
        with caplog.at_level(logging.DEBUG, logger="workmail_collector"):
            await p.process(raw, invocation())
            await p.process(bad, invocation())
        stored = await p.store.get(raw["invocationId"])
        quarantined = await p.store.get(parse(bad).dedupe_key)
        dumped = orjson.dumps([stored, quarantined]).decode() + "".join(lines) + caplog.text
        for value in [*clear, "secret plan"]:
            assert value not in dumped
        assert stored is not None and stored["redacted"] is True
        assert stored["sender"].startswith("hmac:") and stored["messageId"] == raw["messageId"]
        assert quarantined is not None and orjson.loads(quarantined["raw"])["invocationId"] == "e" * 32
        assert quarantined["claimedKey"] == "e" * 32
        from collector.store import Query

        found = await p.store.query(Query(sender=p.redactor.value(raw["sender"]["address"])))
        assert [f["invocationId"] for f in found] == [raw["invocationId"]]

    run(with_pipeline(backend, body, redact=True, redaction_key=KEY))
    # Opting in to PII in logs does not undo redaction: the logs then carry the same HMACs.
    caplog.clear()
    run(with_pipeline(backend, body, redact=True, redaction_key=KEY, log_pii=True))


def test_no_subject_or_address_in_emf_or_logs_unless_opted_in(
    sqlite_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    raw = generate_events(seed=8)[0]

    async def body(p: Pipeline, lines: list[str]) -> str:
        with caplog.at_level(logging.DEBUG, logger="workmail_collector"):
            await p.process(raw, invocation())
        return lines[0] + caplog.text

    hidden = run(with_pipeline(sqlite_backend, body))
    assert raw["subject"] not in hidden and raw["sender"]["address"] not in hidden
    shown = run(
        with_pipeline(
            sqlite_backend,
            body,
            log_pii=True,
            sqlite_path=sqlite_backend.settings.sqlite_path.with_suffix(".2"),
        )
    )
    assert raw["subject"] in shown and raw["sender"]["address"] in shown


@pytest.mark.parametrize("fault", ["throttle", "server-error", "unavailable", "slow"])
def test_transient_store_fault_raises_after_retries_and_emits_nothing(
    fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = generate_events(seed=9)[0]
    lines: list[str] = []

    async def body(endpoint: str) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        store = await DynamoDbStore.open("audit-table")
        settings = Settings(store="dynamodb", table_name="audit-table")
        pipeline = Pipeline(store, EmfWriter("NS", "svc", lines.append), settings)
        try:
            with pytest.raises(Exception) as raised:
                await pipeline.process(raw, invocation())
            assert "ConditionalCheckFailed" not in str(raised.value)
        finally:
            await store.close()

    with failing_endpoint(fault, delay=6.0) as (endpoint, hits):
        run(body(endpoint))
    assert len(hits) == 3  # the SDK's standard retries, then the fault surfaces to Lambda
    assert lines == []  # no metric for an event that was not recorded


def test_unreachable_store_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.dynamodb_local import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    lines: list[str] = []

    async def body() -> None:
        store = await DynamoDbStore.open("audit-table")
        pipeline = Pipeline(store, EmfWriter("NS", "svc", lines.append), Settings(store="dynamodb"))
        try:
            with pytest.raises(Exception, match=r"(?i)connect"):
                await pipeline.process(generate_events(seed=10)[0], invocation())
        finally:
            await store.close()

    run(body())
    assert lines == []


def test_lost_put_item_response_retried_by_the_sdk_still_counts_once(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import make_table
    from tests.failing_server import response_dropping_proxy

    table = make_table(dynamodb_local)
    raw = generate_events(seed=13)[0]
    lines: list[str] = []

    async def body(endpoint: str) -> Status:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        store = await DynamoDbStore.open(table)
        pipeline = Pipeline(
            store, EmfWriter("NS", "svc", lines.append), Settings(store="dynamodb", table_name=table)
        )
        try:
            return (await pipeline.process(raw, invocation())).status
        finally:
            await store.close()

    with response_dropping_proxy(dynamodb_local) as (endpoint, targets):
        status = run(body(endpoint))
    assert [t.rsplit(".", 1)[-1] for t in targets] == ["PutItem", "PutItem"]  # applied, lost, retried
    assert status is Status.RECORDED
    assert sum_metric(lines, "Messages") == 1 and sum_metric(lines, "DuplicateInvocations") == 0


def _mutated(seed: int, **changes: Any) -> dict[str, Any]:
    raw = generate_events(seed=seed)[0]
    for path, value in changes.items():
        node = raw
        *parents, last = path.split("__")
        for name in parents:
            node = node[name]
        node[last] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "moved"),
    [
        (_mutated(30, sender__address=""), "senderUnindexed"),
        (_mutated(31, sender__address="s" * 3000 + "@example.com"), "senderUnindexed"),
        (_mutated(32, messageId="m" * 3000), "messageIdUnindexed"),
        (_mutated(33, invocationId="i" * 3000), None),
        (_mutated(34, envelope__mailFrom={"address": "m" * 210_000}, summaryVersion="v" * 210_000), None),
    ],
    ids=["empty-sender", "3kb-sender", "3kb-message-id", "3kb-invocation-id", "item-over-400kb"],
)
def test_values_dynamodb_cannot_store_as_sent_are_still_recorded(
    backend: Backend, raw: dict[str, Any], moved: str | None
) -> None:
    async def body(p: Pipeline, lines: list[str]) -> None:
        outcome = await p.process(raw, invocation())
        assert outcome.status is Status.RECORDED
        assert (await p.process(raw, invocation(2))).status is Status.DUPLICATE  # the key is stable
        stored = await p.store.get(outcome.dedupe_key)
        assert stored is not None
        if moved is not None:
            assert moved in stored and moved.removesuffix("Unindexed") not in stored
        if outcome.key_synthesized:
            assert len(outcome.dedupe_key) < 100
        if "trimmedFields" in stored:  # only as much as it takes, longest first
            assert stored["trimmedFields"] == ["mailFrom"] and len(stored["summaryVersion"]) == 210_000

    run(with_pipeline(backend, body))


def test_an_invalid_copy_under_a_recorded_key_is_quarantined_beside_it(sqlite_backend: Backend) -> None:
    """An invalid payload never takes (or contests) a valid event's key: it is kept under its own."""
    raw = generate_events(seed=35)[0]
    broken = {k: v for k, v in raw.items() if k != "messageId"}

    async def body(p: Pipeline, lines: list[str]) -> None:
        assert (await p.process(raw, invocation())).status is Status.RECORDED
        outcome = await p.process(broken, invocation(2))
        assert outcome.status is Status.QUARANTINED and outcome.dedupe_key != raw["invocationId"]
        assert sum_metric(lines, "Conflicts") == 0 and sum_metric(lines, "InvalidEvents") == 1
        kept = await p.store.get(outcome.dedupe_key)
        assert kept is not None and kept["claimedKey"] == raw["invocationId"]

    run(with_pipeline(sqlite_backend, body))


def test_redaction_covers_unexpected_directions_and_nested_look_alikes(sqlite_backend: Backend) -> None:
    raw = generate_events(seed=36)[0]
    raw["flowDirection"] = "to alice@example.com"
    raw["note"] = {"messageId": "carol@example.net"}

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.process(raw, invocation())
        stored = await p.store.get(raw["invocationId"])
        assert stored is not None and stored["direction"] == "UNKNOWN"
        dumped = orjson.dumps(stored).decode()
        assert "alice@example.com" not in dumped and "carol@example.net" not in dumped
        assert stored["messageId"] == raw["messageId"]  # the event's own id stays in clear

    run(with_pipeline(sqlite_backend, body, redact=True, redaction_key=KEY))


def test_an_over_long_message_id_stays_out_of_emf(sqlite_backend: Backend) -> None:
    raw = generate_events(seed=37)[0]
    raw["messageId"] = "m" * 5000

    async def body(p: Pipeline, lines: list[str]) -> None:
        assert (await p.process(raw, invocation())).status is Status.RECORDED
        document = validate_document(lines[0])
        assert "messageId" not in document and len(lines[0]) < 2000

    run(with_pipeline(sqlite_backend, body))


def test_unicode_line_separators_never_split_an_emf_document(sqlite_backend: Backend) -> None:
    """U+0085, U+2028 and U+2029 are legal unescaped in JSON; line-splitting readers would cut there."""
    raw = generate_events(seed=38)[0]
    raw["invocationId"] = "0\x850\u2028x\u2029y"

    async def body(p: Pipeline, lines: list[str]) -> None:
        await p.process(raw, invocation())
        assert len("".join(lines).splitlines()) == 1
        assert validate_document(lines[0].rstrip("\n"))["invocationId"] == raw["invocationId"]

    run(with_pipeline(sqlite_backend, body))


@pytest.mark.parametrize(
    ("case", "settings"),
    [
        ("240 KB subject of U+2028 with personal data in EMF", {"log_pii": True}),
        ("300 KB request id from a replayed failure record", {}),
        ("300 KB request id, invalid payload", {}),
    ],
)
def test_every_emf_document_and_log_line_stays_under_the_log_event_limit(
    sqlite_backend: Backend, caplog: pytest.LogCaptureFixture, case: str, settings: dict[str, Any]
) -> None:
    raw: Any = generate_events(seed=39)[0]
    request = Invocation("r" * 300_000 if "request id" in case else "req-1", "7", datetime.now(UTC))
    if "U+2028" in case:
        raw["subject"] = "\u2028" * 80_000  # 240 KB of UTF-8, 480 KB once escaped in JSON
        raw["sender"] = {"address": "\u2028" * 40_000 + "@example.com"}
    if "invalid" in case:
        raw = ["not", "an", "object"]

    async def body(p: Pipeline, lines: list[str]) -> None:
        with caplog.at_level(logging.DEBUG, logger="workmail_collector"):
            outcome = await p.process(raw, request)
        assert outcome.status in (Status.RECORDED, Status.QUARANTINED)
        (line,) = lines
        document = validate_document(line)
        assert len(line.encode()) < 64 * 1024, len(line.encode())
        # Metrics are never what gets dropped to fit.
        assert document.get("Messages", 0) + document.get("InvalidEvents", 0) == 1
        for record in caplog.records:
            assert len(record.getMessage().encode()) < MAX_DOCUMENT_BYTES // 4
            for value in (getattr(record, "requestId", ""), getattr(record, "invocationId", "")):
                assert len(str(value)) <= 1100

    run(with_pipeline(sqlite_backend, body, **settings))
