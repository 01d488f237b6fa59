"""Every named query on DuckDB over the export gives what the SQLite store itself says: each
query's answer is computed here again, in plain Python, from the store's own records."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.trail import duck
from collector.trail.queries import NAMED_QUERIES
from tests.trail.trail import FIRST, LAST, Seeded, export_to, seeded

Record = dict[str, Any]
MESSAGE_TYPES = (None, "Received", "Send")


def _at(record: Record) -> datetime:
    return (
        datetime.fromisoformat(record["receivedAt"].replace("Z", "+00:00"))
        .astimezone(UTC)
        .replace(tzinfo=None)
    )


def _day(record: Record) -> str:
    return str(record["receivedDay"])


def _source(record: Record) -> str | None:
    return record.get("source") or ("WorkMail" if record["status"] == "RECORDED" else None)


def _is_message(record: Record) -> bool:
    return record["status"] == "RECORDED" and record.get("eventType") in MESSAGE_TYPES


def _in(records: list[Record], first: str, last: str) -> list[Record]:
    return sorted((r for r in records if first <= _day(r) <= last), key=lambda r: (_at(r), r["invocationId"]))


def _message_id(record: Record) -> Any:
    return record.get("messageId", record.get("messageIdUnindexed"))


def _sender(record: Record) -> Any:
    return record.get("sender", record.get("senderUnindexed"))


def message_trace(records: list[Record], first: str, last: str, message_id: str) -> list[tuple[Any, ...]]:
    return [
        (_day(r), _at(r), r["invocationId"], _source(r), r.get("eventType"), r["status"], r["direction"],
         _sender(r), r.get("recipientCount"), r.get("recipients"), r.get("subject"))
        for r in _in(records, first, last)
        if _message_id(r) == message_id
    ]  # fmt: skip


def by_sender(records: list[Record], first: str, last: str, sender: str) -> list[tuple[Any, ...]]:
    return [
        (_day(r), _at(r), r["invocationId"], _source(r), r.get("eventType"), r["status"], r["direction"],
         _message_id(r), r.get("recipientCount"), r.get("subject"))
        for r in _in(records, first, last)
        if _sender(r) == sender
    ]  # fmt: skip


def by_recipient(records: list[Record], first: str, last: str, recipient: str) -> list[tuple[Any, ...]]:
    return [
        (_day(r), _at(r), r["invocationId"], _source(r), r.get("eventType"), r["status"], r["direction"],
         _message_id(r), _sender(r), r.get("recipientCount"), r.get("subject"))
        for r in _in(records, first, last)
        if recipient in (r.get("recipients") or [])
    ]  # fmt: skip


def daily_volume(records: list[Record], first: str, last: str) -> list[tuple[Any, ...]]:
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in _in(records, first, last):
        counts = groups[(_day(r), _source(r), r["direction"])]
        if _is_message(r):
            counts[0] += 1
            counts[3] += r.get("recipientCount") or 0
        elif r["status"] == "RECORDED":
            counts[1] += 1
        else:
            counts[2] += 1
    order = sorted(groups, key=lambda k: (k[0], k[1] is None, k[1] or "", k[2]))
    return [(*k, *groups[k]) for k in order]


def top_sender_domains(records: list[Record], first: str, last: str) -> list[tuple[Any, ...]]:
    messages: Counter[str] = Counter()
    recipients: Counter[str] = Counter()
    for r in _in(records, first, last):
        sender = r.get("sender")
        if _is_message(r) and sender is not None:
            domain = sender.split("@", 1)[1] if "@" in sender else sender
            messages[domain] += 1
            recipients[domain] += r.get("recipientCount") or 0
    ranked = sorted(messages, key=lambda d: (-messages[d], d))[:25]
    return [(d, messages[d], recipients[d]) for d in ranked]


def truncated_and_invalid(records: list[Record], first: str, last: str) -> list[tuple[Any, ...]]:
    return [
        (_day(r), _at(r), r["invocationId"], _source(r), r["status"], r["direction"], r.get("truncated"),
         r.get("headersTruncated"), r.get("rawTruncated"), r.get("trimmedFields"), r.get("recipientCount"),
         r.get("reason"))
        for r in _in(records, first, last)
        if r["status"] == "INVALID" or r.get("truncated") or r.get("headersTruncated")
        or r.get("rawTruncated") or r.get("trimmedFields") is not None
    ]  # fmt: skip


def ses_bounces_complaints(records: list[Record], first: str, last: str) -> list[tuple[Any, ...]]:
    kinds = ("Send", "Delivery", "Bounce", "Complaint")
    days: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for r in _in(records, first, last):
        kind = r.get("eventType")
        if r.get("source") != "SES" or r["status"] != "RECORDED" or kind not in kinds:
            continue
        counts = days[_day(r)]
        counts[kinds.index(kind)] += 1
        if kind in ("Bounce", "Complaint"):
            counts[4 if kind == "Bounce" else 5] += r.get("recipientCount") or 0
    return [(day, *days[day]) for day in sorted(days)]


REFERENCES: dict[str, Callable[..., list[tuple[Any, ...]]]] = {
    "message_trace": message_trace,
    "by_sender": by_sender,
    "by_recipient": by_recipient,
    "daily_volume": daily_volume,
    "top_sender_domains": top_sender_domains,
    "truncated_and_invalid": truncated_and_invalid,
    "ses_bounces_complaints": ses_bounces_complaints,
}
RANGES = [(str(FIRST), str(LAST)), (str(FIRST + timedelta(days=1)), str(FIRST + timedelta(days=2)))]


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Seeded, Path]:
    folder = tmp_path_factory.mktemp("trail")
    s = seeded(folder)
    export_to(s.path, folder / "trail")
    return s, folder / "trail"


def _keys(name: str, records: list[Record]) -> list[str]:
    """Values to look up: each one that occurs (the busiest first), and one that never does."""
    if name == "message_trace":
        seen = Counter(str(_message_id(r)) for r in records if _message_id(r) is not None)
    elif name == "by_sender":
        seen = Counter(str(_sender(r)) for r in records if _sender(r) is not None)
    else:
        seen = Counter(a for r in records for a in r.get("recipients") or [])
    return [k for k, _ in seen.most_common(12)] + ["nobody@nowhere.invalid"]


def test_every_named_query_has_a_reference() -> None:
    assert set(REFERENCES) == set(NAMED_QUERIES)


def test_the_seeded_trail_holds_every_case(trail: tuple[Seeded, Path]) -> None:
    records = trail[0].records
    assert any(r.get("truncated") for r in records)
    assert any(r["status"] == "INVALID" and r.get("source") is None for r in records)
    assert {"Received", "Send", "Delivery", "Bounce", "Complaint"} <= {r.get("eventType") for r in records}
    assert len({_message_id(r) for r in records if r.get("eventType") in ("Send", "Bounce")}) < sum(
        1 for r in records if r.get("eventType") in ("Send", "Bounce")
    )  # a bounce shares its message id with its send: message_trace finds both


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("days", RANGES, ids=["all-days", "two-days"])
def test_named_query_on_duckdb_equals_the_store(
    trail: tuple[Seeded, Path], name: str, days: tuple[str, str]
) -> None:
    s, folder = trail
    con = duck.connect(folder)
    query = NAMED_QUERIES[name]
    keyed = len(query.parameters) == 3
    found = []
    for key in _keys(name, s.records) if keyed else [None]:
        params = [*days, key] if keyed else list(days)
        got = duck.run_named(con, name, params).rows
        expected = REFERENCES[name](s.records, *params)
        assert got == expected, (name, params)
        found.append(len(got))
    assert max(found) >= 2, (name, found)  # each query has something to say about these days
