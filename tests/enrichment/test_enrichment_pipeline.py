"""Enrichment wired in: replaying events against the local message-flow server gives byte-exact
sizes and attachment counts in the audit trail and metrics, and every failure path still records."""

from __future__ import annotations

import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

import collector.handler as handler_module
from collector.cli import main
from collector.config import Settings
from collector.model import Invocation
from collector.runtime import build_pipeline
from collector.sampling import generate_events
from tests.conftest import run
from tests.emf import sum_metric, validate_document
from tests.enrichment.flowserver import MessageFlowServer, Reply, error_reply, message_reply
from tests.enrichment.mimecorpus import bounce, large_message, mixed_with_attachments, nested

AUTH_FAIL = (
    b"Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=x.test; dkim=fail; dmarc=fail\r\n"
)


def record_one(event: dict[str, Any]) -> dict[str, Any]:
    """One event through a pipeline built from the environment, as the handler builds it."""

    async def body() -> dict[str, Any]:
        pipeline = await build_pipeline(Settings.from_env(), lambda _: None)
        try:
            await pipeline.process(event, Invocation("r", "1", datetime.now(UTC)))
            stored = await pipeline.store.get(event["invocationId"])
            assert stored is not None
            return stored
        finally:
            await pipeline.close()

    return run(body())


@pytest.fixture
def enriched_env(flow_server: MessageFlowServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW", flow_server.url)
    monkeypatch.setenv("COLLECTOR_ENRICH", "true")
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(tmp_path / "audit.sqlite3"))
    return tmp_path


def test_replay_with_enrichment_records_exact_sizes_attachments_and_every_failure(
    flow_server: MessageFlowServer, enriched_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = generate_events(count=6, direction="INBOUND", seed=21)
    cases = [mixed_with_attachments(), nested(), bounce()]
    for event, case in zip(events, cases, strict=False):
        flow_server.add(event["messageId"], message_reply(case.raw))
    big, big_size = large_message(21 * 1024 * 1024)
    flow_server.add(events[3]["messageId"], message_reply(big, length=big_size))
    flow_server.add(events[4]["messageId"], error_reply(403, "AccessDeniedException", "no"))
    # events[5] is unknown to the server: 404, past the 24-hour window
    source = enriched_env / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))

    assert main(["replay", str(source), "--quiet", "--emf-out", str(enriched_env / "emf.jsonl")]) == 0
    assert "recorded 6," in capsys.readouterr().err
    assert main(["audit", "list", "--json", "--limit", "10"]) == 0
    items = {i["messageId"]: i for i in map(orjson.loads, capsys.readouterr().out.splitlines())}
    assert len(items) == 6  # every event recorded, enriched or not

    for event, case in zip(events, cases, strict=False):
        item = items[event["messageId"]]
        assert item["enrichment"] == "OK"
        assert item["sizeBytes"] == len(case.raw)
        assert item["attachmentCount"] == case.expected["attachment_count"]
    assert items[events[3]["messageId"]]["sizeBytes"] == big_size
    assert items[events[3]["messageId"]]["attachmentTypes"] == ["application/pdf", "video/mp4"]
    assert items[events[4]["messageId"]]["enrichment"] == "ACCESS_DENIED"
    assert items[events[5]["messageId"]]["enrichment"] == "NOT_FOUND"
    assert "sizeBytes" not in items[events[5]["messageId"]]

    emf = (enriched_env / "emf.jsonl").read_text().splitlines()
    for line in emf:
        validate_document(line)
    assert sum_metric(emf, "MessageBytes") == sum(len(c.raw) for c in cases) + big_size
    assert sum_metric(emf, "Attachments") == sum(c.expected["attachment_count"] for c in cases) + 2
    assert sum_metric(emf, "EnrichmentFailures") == 2
    assert sum_metric(emf, "Messages") == 6


def test_authentication_failures_are_counted_for_inbound_mail_only(
    flow_server: MessageFlowServer, enriched_env: Path
) -> None:
    raw = AUTH_FAIL + b"Subject: spoofed\r\nMessage-ID: <s@x.test>\r\n\r\nbody\r\n"
    inbound = generate_events(direction="INBOUND", seed=22)[0]
    outbound = generate_events(direction="OUTBOUND", seed=23)[0]
    for event in (inbound, outbound):
        flow_server.add(event["messageId"], message_reply(raw))
    lines: list[str] = []

    async def body() -> None:
        pipeline = await build_pipeline(Settings.from_env(), lines.append)
        try:
            for event in (inbound, outbound):
                await pipeline.process(event, Invocation("r", "1", datetime.now(UTC)))
            stored = await pipeline.store.get(inbound["invocationId"])
            assert stored is not None
            assert (stored["spf"], stored["dkim"], stored["dmarc"]) == ("fail", "fail", "fail")
        finally:
            await pipeline.close()

    run(body())
    for name in ("SpfFailures", "DkimFailures", "DmarcFailures"):
        assert sum_metric(lines, name) == 1
        assert sum_metric(lines, name, FlowDirection="OUTBOUND") == 0


def test_redaction_hashes_the_message_id_header(
    flow_server: MessageFlowServer, enriched_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECTOR_REDACT", "true")
    monkeypatch.setenv("COLLECTOR_REDACTION_KEY", "k" * 32)
    event = generate_events(seed=24)[0]
    case = mixed_with_attachments()
    flow_server.add(event["messageId"], message_reply(case.raw))

    stored = record_one(event)
    assert str(stored["messageIdHeader"]).startswith("hmac:") and stored["sizeBytes"] == len(case.raw)
    assert b"20240501.1234@example.com" not in orjson.dumps(stored)


class Context(SimpleNamespace):
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_sync_rule_with_a_slow_message_flow_answers_in_budget_and_still_records(
    flow_server: MessageFlowServer, enriched_env: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    queue = boto3.client("sqs", endpoint_url=moto_endpoint).create_queue(QueueName="f")["QueueUrl"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    monkeypatch.setenv("COLLECTOR_RULE_MODE", "sync")
    monkeypatch.setenv("COLLECTOR_SYNC_BUDGET_SECONDS", "6")
    monkeypatch.setenv("COLLECTOR_FAILURE_QUEUE_URL", queue)
    monkeypatch.setattr(handler_module, "_loop", None)
    monkeypatch.setattr(handler_module, "_container", None)
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    event = generate_events(seed=25)[0]
    flow_server.add(event["messageId"], Reply(200, b"x", delay=20.0))
    try:
        started = time.monotonic()
        response = handler_module.handler(event, Context(aws_request_id="s", function_version="1"))
        elapsed = time.monotonic() - started
        assert response["actions"][0]["action"]["type"] == "DEFAULT"
        assert elapsed < 6.5
        loop, container = handler_module._loop, handler_module._container
        assert loop is not None and container is not None
        stored = loop.run_until_complete(container.pipeline.store.get(event["invocationId"]))
        assert stored is not None and stored["enrichment"] == "TIMEOUT"
        document = validate_document(stdout.getvalue().splitlines()[0])
        assert document["Messages"] == 1 and document["EnrichmentFailures"] == 1
    finally:
        loop, container = handler_module._loop, handler_module._container
        if loop is not None and container is not None:
            loop.run_until_complete(container.close())
            loop.close()


def test_hostile_content_types_cannot_push_the_record_past_the_item_limit(
    flow_server: MessageFlowServer, enriched_env: Path
) -> None:
    """Content types come from the sender: three 200 KB ones must not make the record unstorable."""
    huge = "application/" + "x" * 200_000
    parts = b"".join(
        b"--b\r\nContent-Type: " + huge.encode() + b'; name="a.bin"\r\n'
        b"Content-Disposition: attachment\r\n\r\ndata\r\n"
        for _ in range(3)
    )
    raw = b'Subject: big types\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    event = generate_events(seed=26)[0]
    flow_server.add(event["messageId"], message_reply(raw))

    stored = record_one(event)
    assert stored["attachmentCount"] == 3 and stored["sizeBytes"] == len(raw)
    types = stored["attachmentTypes"]
    assert isinstance(types, list) and all(len(t) <= 255 for t in types)
    assert len(orjson.dumps(stored)) < 380_000
