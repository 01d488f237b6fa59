"""UTC time and the one timestamp format the audit trail uses (sortable ISO 8601, milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_millis(moment: datetime) -> str:
    """`2026-11-21T23:43:02.123Z`: sorts as text, so stores can range-query it as a string."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_millis(text: str) -> datetime:
    """The moment an `iso_millis` string names (UTC); ValueError when it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
