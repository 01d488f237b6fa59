"""UTC time and the one timestamp format the audit trail uses (sortable ISO 8601, milliseconds)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_millis(moment: datetime) -> str:
    """`2026-11-21T23:43:02.123Z`: sorts as text, so stores can range-query it as a string."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_day(text: str) -> date:
    """A UTC day written exactly YYYY-MM-DD, and a real one; ValueError otherwise. Not
    `date.fromisoformat` alone: it also reads an ISO week date (`2026-W10-1`) and a basic date
    (`20260310`), which would match no day partition, ledger key or day a person meant."""
    if not _DAY.fullmatch(text):
        raise ValueError(f"not a day written YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


def parse_iso_millis(text: str) -> datetime:
    """The moment an `iso_millis` string names (UTC); ValueError when it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
