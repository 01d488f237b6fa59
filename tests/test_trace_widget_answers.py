"""The trace widget answers every call with its form and a line, never a Lambda error (whose stack
trace the dashboard would show): malformed events, AWS errors, configuration and Secrets Manager
failures; it says which parameters it could not use; with redaction on it never echoes the clear
address the viewer typed (the input and the paging link carry its hash)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from collector.trace_widget import handler
from tests.conftest import Backend, run
from tests.failing_server import failing_endpoint, serve
from tests.trace_support import ARN, Elements, now, record, workmail_event

CONTEXT = SimpleNamespace(invoked_function_arn=ARN)
KEY = "widget-test-redaction-key-0123456789"
ADDRESS = "alice@example.com"
SEARCH = {"key": "sender", "value": ADDRESS}


def call(form: dict[str, Any] | None = None, limit: Any = 3, **extra: Any) -> dict[str, Any]:
    end = now()
    start = end - timedelta(days=2)
    span = {"start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)}
    widget = {"timeRange": span, "params": {"limit": limit}, "forms": {"all": form or {}}}
    return {"widgetContext": widget, **extra}


def answered(event: object) -> Elements:
    """The widget's answer, which must hold its form."""
    found = Elements(handler(event, CONTEXT))
    assert {"form", "input", "cwdb-action"} <= found.tags(), found.shown()
    return found


@pytest.fixture
def sqlite_env(sqlite_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("COLLECTOR_STORE", "sqlite")
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(sqlite_backend.settings.sqlite_path))
    return sqlite_backend


@pytest.mark.parametrize(
    "event",
    [
        {"widgetContext": "x"},
        {"widgetContext": [1]},
        {"widgetContext": {"params": [1], "forms": {"all": {"value": "m-1"}}}},
        {"widgetContext": {"params": "x", "forms": {"all": {"value": "m-1"}}}},
        {"widgetContext": {"timeRange": "x", "forms": {"all": {"value": "m-1"}}}},
        {"widgetContext": {"timeRange": {"zoom": [1], "start": 1}, "forms": {"all": {"value": "m-1"}}}},
        {"widgetContext": {"forms": "x"}},
        {"widgetContext": {"forms": {"all": [1]}}},
        {"widgetContext": {"forms": {"all": {"key": ["sender"], "value": {"a": 1}}}}},
        {"widgetContext": {}, "key": "sender", "value": ["a"], "token": 1},
        {"widgetContext": {}, "key": {}, "value": "m-1", "token": 7},
    ],
)
def test_a_malformed_event_gets_the_form_and_a_line(sqlite_env: Backend, event: dict[str, Any]) -> None:
    assert answered(event).shown().strip()


def test_bad_parameters_are_named_on_the_page(sqlite_env: Backend) -> None:
    form = {"key": "message_id", "value": "m-1"}
    for limit, says in [
        ("1e9", "The limit parameter '1e9' is not a whole number: showing 50 records a page."),
        ("abc", "The limit parameter 'abc' is not a whole number: showing 50 records a page."),
        (2.5, "The limit parameter 2.5 is not a whole number: showing 50 records a page."),
        (5000, "The limit parameter 5000 is outside 1 to 1000: showing 1000 records a page."),
    ]:
        assert says in answered(call(form, limit=limit)).shown()
    overflowing = call(form)
    overflowing["widgetContext"]["timeRange"]["end"] = 10**30
    said = answered(overflowing).shown()
    assert "time range could not be read: searching the last day instead." in said
    said = answered(call({"key": "subject", "value": "m-1"})).shown()
    assert "There is no search by 'subject': searching by message ID instead." in said
    # Good parameters say nothing of the kind.
    said = answered(call(form, limit="7")).shown()
    assert "parameter" not in said and "instead" not in said and "0 records" in said


@pytest.fixture
def failing_sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A search whose log would quote the address, if anything logged an error's message."""
    monkeypatch.setenv("COLLECTOR_TABLE_NAME", "audit")
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    yield


def _denied() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps(
                {"__type": "AccessDeniedException", "Message": f"not authorized for {ADDRESS}"}
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.mark.parametrize("fault", ["throttle", "denied", "down"])
def test_an_aws_error_is_one_line_and_the_log_has_its_type_not_the_address(
    failing_sender: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    if fault == "throttle":
        with failing_endpoint("throttle") as (endpoint, _):
            monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
            found = answered(call(SEARCH))
        says = "The search failed (ThrottlingException); see the function's log."
    elif fault == "denied":
        with serve(_denied()) as endpoint:
            monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
            found = answered(call(SEARCH))
        says = "The search failed (ClientError: AccessDeniedException); see the function's log."
    else:
        with serve(_denied()) as endpoint:
            pass  # a port nothing listens on any more
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        found = answered(call(SEARCH))
        says = "The search failed (EndpointConnectionError); see the function's log."
    assert says in found.shown()
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged and "Traceback" not in caplog.text and 'File "' in caplog.text
    assert ADDRESS not in caplog.text and "alice" not in found.shown()


def test_configuration_and_secrets_manager_failures_are_one_line(
    sqlite_env: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECTOR_STORE", "cassandra")
    said = answered(call(SEARCH)).shown()
    assert "The search failed (ConfigError); see the function's log." in said
    monkeypatch.setenv("COLLECTOR_STORE", "sqlite")
    monkeypatch.setenv("COLLECTOR_REDACT", "true")
    monkeypatch.setenv(
        "COLLECTOR_REDACTION_KEY_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf",
    )
    with failing_endpoint("throttle") as (endpoint, _):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        said = answered(call(SEARCH)).shown()
    assert "The search failed (ClientError: ThrottlingException); see the function's log." in said


def test_with_redaction_neither_the_input_nor_the_paging_link_echoes_the_address(
    sqlite_env: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [(workmail_event(n, sender=ADDRESS), now()) for n in range(5)]
    redacted = dataclasses.replace(sqlite_env, settings=sqlite_env.settings)
    statuses = run(record(redacted, events, redact=True, redaction_key=KEY.encode()))
    assert statuses == ["RECORDED"] * 5
    monkeypatch.setenv("COLLECTOR_REDACT", "true")
    monkeypatch.setenv("COLLECTOR_REDACTION_KEY", KEY)
    markup = handler(call(SEARCH), CONTEXT)
    shown: list[int] = []
    for _ in range(5):
        assert "alice" not in markup.lower()
        found = Elements(markup)
        (value,) = [e.attrs["value"] for e in found.elements if e.tag == "input"]
        assert value is not None and value.startswith("hmac:")
        shown.append(found.shown().count("hmac:"))
        older = [c for c in (json.loads(a.text) for a in found.actions()) if "token" in c]
        if not older:
            break
        (params,) = older
        assert params["value"] == value
        markup = handler(call(SEARCH, **params), CONTEXT)
    assert len(shown) == 2 and "2 records" in found.shown()


def test_without_redaction_the_input_keeps_what_was_typed(sqlite_env: Backend, tmp_path: Path) -> None:
    found = answered(call(SEARCH))
    assert [e.attrs["value"] for e in found.elements if e.tag == "input"] == [ADDRESS]
