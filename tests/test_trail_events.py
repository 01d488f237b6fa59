"""Which events the trail exporter takes as the schedule: only EventBridge's scheduled event as
the stack's rule sends it (source aws.events AND detail-type Scheduled Event, no key EventBridge
does not send), or none at all. One that looks like it but carries a backfill key or one of ours
is refused, not run as the schedule with the key ignored (a backfill that silently did nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from collector.config import ConfigError
from collector.trail_handler import check_event, explicit, scheduled

RULE = {  # what the hourly rule (no input of its own) hands Lambda
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-06T00:20:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/TrailExport"],
    "detail": {},
}


def test_only_eventbridges_scheduled_event_or_none_is_the_schedule() -> None:
    for event in (RULE, {"source": "aws.events", "detail-type": "Scheduled Event"}, {}, None):
        assert scheduled(event)
        check_event(event)
        assert not explicit(event)


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.events", "first_day": "2026-01-01"},
        {"detail-type": "Scheduled Event", "first_day": "2026-01-01", "last_day": "2026-01-31"},
        {"source": "aws.events", "fisrt_day": "2026-01-01"},
        {**RULE, "first_day": "2026-01-01"},
        {**RULE, "last_day": "2026-01-01"},
        {**RULE, "first_time": "05:00"},
        {**RULE, "force": True},
        {**RULE, "note": "mine"},
        {**RULE, "source": "my.app"},
        {**RULE, "detail-type": "Something Else"},
        {"source": "aws.events"},
        {"detail-type": "Scheduled Event"},
    ],
)
def test_an_eventbridge_like_event_with_anything_else_is_refused(event: dict[str, Any]) -> None:
    assert not scheduled(event)
    with pytest.raises(ConfigError, match="not EventBridge's scheduled event") as refused:
        check_event(event)
    assert "\n" not in str(refused.value)
    ours = sorted(
        k for k in event if k in ("first_day", "last_day", "first_time", "force", "note", "fisrt_day")
    )
    for key in ours:
        assert key in str(refused.value).split("does not send:")[1]
