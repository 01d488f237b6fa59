"""The Lambda entry point answers each source in its own terms: CONTINUE for SES, the pass-through
for WorkMail and for what no adapter recognises."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

import collector.handler as handler_module
from collector.sampling import generate_events
from tests.conftest import Backend
from tests.emf import validate_document
from tests.public_samples import SES, load

PASS_THROUGH = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}


@pytest.fixture
def container(sqlite_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(handler_module, "_loop", None)
    monkeypatch.setattr(handler_module, "_container", None)
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(sqlite_backend.settings.sqlite_path))
    monkeypatch.setenv("COLLECTOR_SOURCES", "workmail,ses")
    yield
    loop, started = handler_module._loop, handler_module._container
    if loop is not None and started is not None:
        loop.run_until_complete(started.close())
        loop.close()


def test_one_function_answers_workmail_and_ses_side_by_side(
    container: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)  # the EMF stream, bound at the cold start
    events = [
        generate_events(seed=71)[0],
        load(SES / "sam-cli-ses-email-receiving.template.json"),
        load(SES / "lambda-local-ses-delivery-notification-over-sns.CONVERTED-from-js.json"),
        {"unknown": "payload"},
    ]
    context = SimpleNamespace(aws_request_id="r")
    answers = [handler_module.handler(e, context) for e in events]
    assert answers == [PASS_THROUGH, {"disposition": "CONTINUE"}, {"disposition": "CONTINUE"}, PASS_THROUGH]
    documents = [validate_document(line) for line in stdout.getvalue().splitlines()]
    assert [d["Source"] for d in documents] == ["WorkMail", "SES", "SES", "Unknown"]
    assert [d["status"] for d in documents] == ["RECORDED", "RECORDED", "RECORDED", "QUARANTINED"]
    assert documents[2]["SesDeliveries"] == 1  # the ses feature is on: COLLECTOR_SOURCES
