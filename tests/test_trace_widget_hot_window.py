"""The trace widget searches no further back than the table keeps (COLLECTOR_RETENTION_DAYS, 7 with
the trail in S3 on by default) and says where older days are, instead of answering by chance from
records TTL has expired but DynamoDB has not deleted yet."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from collector.trace_widget import handler
from tests.conftest import Backend, run
from tests.trace_support import ARN, Elements, now, record, workmail_event

CONTEXT = SimpleNamespace(invoked_function_arn=ARN)
SENDER = "alice@example.com"


def call(start: datetime, end: datetime) -> dict[str, Any]:
    span = {"start": int(start.timestamp() * 1000), "end": int(end.timestamp() * 1000)}
    return {"widgetContext": {"timeRange": span, "forms": {"all": {"key": "sender", "value": SENDER}}}}


@pytest.fixture
def seven_days(sqlite_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A store holding one message 2 days old and one 10 days old (as a table past its TTL may)."""
    monkeypatch.setenv("COLLECTOR_STORE", "sqlite")
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(sqlite_backend.settings.sqlite_path))
    monkeypatch.setenv("COLLECTOR_RETENTION_DAYS", "7")
    events = [
        (workmail_event(1, sender=SENDER, message_id="recent"), now() - timedelta(days=2)),
        (workmail_event(2, sender=SENDER, message_id="expired"), now() - timedelta(days=10)),
    ]
    assert run(record(sqlite_backend, events)) == ["RECORDED", "RECORDED"]
    return sqlite_backend


def test_a_month_is_cut_to_the_week_the_table_keeps_and_says_so(
    seven_days: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECTOR_TRAIL", "1")  # cdk/trace.py sets it only with the trail on
    said = Elements(handler(call(now() - timedelta(days=30), now()), CONTEXT)).shown()
    assert "The table keeps records 7 days: searching from" in said
    assert "older days are in the S3 trail" in said
    assert "recent" in said and "expired" not in said


@pytest.mark.parametrize("trail", [None, "0"])
def test_without_the_trail_it_never_points_to_one(
    seven_days: Backend, monkeypatch: pytest.MonkeyPatch, trail: str | None
) -> None:
    """A stack deployed with trail=false has no S3 trail: older days are simply gone."""
    if trail is None:
        monkeypatch.delenv("COLLECTOR_TRAIL", raising=False)
    else:
        monkeypatch.setenv("COLLECTOR_TRAIL", trail)
    said = Elements(handler(call(now() - timedelta(days=30), now()), CONTEXT)).shown()
    assert "The table keeps records 7 days: searching from" in said
    assert "S3 trail" not in said and "athena" not in said.lower()
    before = Elements(handler(call(now() - timedelta(days=20), now() - timedelta(days=8)), CONTEXT)).shown()
    assert "The table keeps records 7 days and this range ends before them" in before
    assert "S3 trail" not in before


def test_a_range_inside_the_week_says_nothing_of_it(seven_days: Backend) -> None:
    said = Elements(handler(call(now() - timedelta(days=3), now()), CONTEXT)).shown()
    assert "keeps records" not in said and "recent" in said


def test_a_range_wholly_before_the_week_searches_nothing(seven_days: Backend) -> None:
    said = Elements(handler(call(now() - timedelta(days=20), now() - timedelta(days=8)), CONTEXT)).shown()
    assert "The table keeps records 7 days and this range ends before them" in said
    assert "expired" not in said


def test_a_table_kept_for_good_is_searched_over_the_whole_range(
    seven_days: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECTOR_RETENTION_DAYS", "0")
    said = Elements(handler(call(now() - timedelta(days=30), now()), CONTEXT)).shown()
    assert "keeps records" not in said and "recent" in said and "expired" in said
