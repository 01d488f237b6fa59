"""The Lambda entry point as the runtime calls it: env configuration, warm reuse, pass-through."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

import collector.handler as handler_module
from collector.config import ConfigError
from collector.sampling import generate_events
from tests.conftest import Backend, make_table
from tests.emf import validate_document


@pytest.fixture
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test is a cold start: no loop, no clients left from another test."""
    monkeypatch.setattr(handler_module, "_loop", None)
    monkeypatch.setattr(handler_module, "_pipeline", None)
    yield
    loop, pipeline = handler_module._loop, handler_module._pipeline
    if loop is not None and pipeline is not None:
        loop.run_until_complete(pipeline.store.close())
        loop.close()


def context(n: int) -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=f"request-{n}", function_version="12")


def test_handler_on_dynamodb_local_reuses_its_client_across_warm_invocations(
    dynamodb_local: str, monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    table = make_table(dynamodb_local)
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "collector-fn")  # Lambda default: the DynamoDB store
    monkeypatch.setenv("COLLECTOR_TABLE_NAME", table)
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    events = generate_events(count=3, seed=11)

    responses = [handler_module.handler(e, context(i)) for i, e in enumerate([*events, events[0]])]
    assert all(r == {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]} for r in responses)

    first_pipeline = handler_module._pipeline
    handler_module.handler(generate_events(seed=12)[0], context(9))
    assert handler_module._pipeline is first_pipeline  # warm: same loop, session and client

    documents = [validate_document(line) for line in stdout.getvalue().splitlines()]
    assert [d["status"] for d in documents] == ["RECORDED"] * 3 + ["DUPLICATE", "RECORDED"]
    assert {d["Service"] for d in documents} == {"collector-fn"}
    assert documents[0]["requestId"] == "request-0"
    assert handler_module._loop is not None and first_pipeline is not None
    stored = handler_module._loop.run_until_complete(first_pipeline.store.get(events[1]["invocationId"]))
    assert stored is not None and stored["requestId"] == "request-1" and stored["functionVersion"] == "12"


def test_invalid_event_returns_normally(
    sqlite_backend: Backend, monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(sqlite_backend.settings.sqlite_path))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert handler_module.handler({"garbage": True}, context(1))["actions"][0]["action"]["type"] == "DEFAULT"


def test_bad_configuration_fails_the_cold_start_loudly(
    monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    monkeypatch.setenv("COLLECTOR_REDACT", "true")
    monkeypatch.delenv("COLLECTOR_REDACTION_KEY", raising=False)
    with pytest.raises(ConfigError, match="COLLECTOR_REDACTION_KEY"):
        handler_module.handler({}, context(1))
