"""The dashboard's trace widget, called as CloudWatch calls it, against DynamoDB Local holding
records the collector's pipeline wrote: the form, hostile subjects inert, paging through its own
`<cwdb-action>` parameters, redaction."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from collector.trace_widget import DOCS, handler
from tests.conftest import Backend, run
from tests.trace_support import ARN, EVIL_ARN, HOSTILE_SUBJECT, Elements, now, record, workmail_event

pytestmark = pytest.mark.dynamodb
CONTEXT = SimpleNamespace(invoked_function_arn=ARN)
KEY = "widget-test-redaction-key-0123456789"


def widget_event(form: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    """What the dashboard sends: its time range (ms), the form's inputs, a call's parameters."""
    end = now()
    start = end - timedelta(days=2)
    return {
        "widgetContext": {
            "dashboardName": "svc-MailFlow",
            "widgetId": "widget-1",
            "timeRange": {
                "mode": "relative",
                "start": int(start.timestamp() * 1000),
                "end": int(end.timestamp() * 1000),
            },
            "params": {"limit": 3},
            "forms": {"all": form or {}},
        },
        **params,
    }


@pytest.fixture
def widget_env(dynamodb_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    monkeypatch.setenv("COLLECTOR_STORE", "dynamodb")
    monkeypatch.setenv("COLLECTOR_TABLE_NAME", dynamodb_backend.settings.table_name)
    return dynamodb_backend


def test_describe_gets_the_docs_and_an_empty_form_asks_for_a_search(widget_env: Backend) -> None:
    assert handler({"describe": True}, CONTEXT) == DOCS
    found = Elements(handler(widget_event(), CONTEXT))
    assert {"form", "select", "input", "cwdb-action"} <= found.tags()
    assert [a.attrs for a in found.actions()] == [{"action": "call", "endpoint": ARN, "display": "widget"}]


def test_hostile_subjects_are_inert_and_paging_by_its_own_actions_shows_every_record_once(
    widget_env: Backend,
) -> None:
    events = [
        (workmail_event(n, subject=f"{HOSTILE_SUBJECT} #{n}#", sender="mallory@example.com"), now())
        for n in range(7)
    ]
    assert run(record(widget_env, events)) == ["RECORDED"] * 7

    form = {"key": "sender", "value": "mallory@EXAMPLE.com"}
    markup = handler(widget_event(form), CONTEXT)
    pages: list[list[str]] = []
    for _ in range(10):
        found = Elements(markup)
        assert "script" not in found.tags() and "img" not in found.tags()
        assert all(a.attrs.get("endpoint") == ARN for a in found.actions())
        assert EVIL_ARN in found.shown() and '<script>alert("x")</script>' in found.shown()
        pages.append(re.findall(r" #(\d)#", found.shown()))
        older = [c for c in (json.loads(a.text) for a in found.actions()) if "token" in c]
        if not older:
            break
        (params,) = older
        assert params["key"] == "sender" and params["value"] == "mallory@EXAMPLE.com"
        markup = handler(widget_event(form, **params), CONTEXT)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(n for p in pages for n in p) == [str(n) for n in range(7)]


def test_a_message_id_link_traces_that_message(widget_env: Backend) -> None:
    run(record(widget_env, [(workmail_event(1, recipients=("r@example.com",), message_id="m-1"), now())]))
    found = Elements(handler(widget_event({"key": "recipient", "value": "r@example.com"}), CONTEXT))
    (link,) = [json.loads(a.text) for a in found.actions() if "value" in a.text]
    assert link == {"key": "message_id", "value": "m-1"}
    again = Elements(handler(widget_event({"key": "recipient", "value": "r@example.com"}, **link), CONTEXT))
    assert "message ID m-1" in again.shown() and "1 record" in again.shown()


def test_with_redaction_the_widget_hashes_the_search_and_shows_hashes(
    widget_env: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(
        record(
            widget_env,
            [(workmail_event(1, subject="Board minutes", sender="alice@example.com"), now())],
            redact=True,
            redaction_key=KEY.encode(),
        )
    )
    monkeypatch.setenv("COLLECTOR_REDACT", "true")
    monkeypatch.setenv("COLLECTOR_REDACTION_KEY", KEY)
    found = Elements(handler(widget_event({"key": "sender", "value": "alice@example.com"}), CONTEXT))
    text = found.shown()
    assert "1 record" in text and "hmac:" in text and "(redacted)" in text
    assert "Board minutes" not in text and "alice" not in text
