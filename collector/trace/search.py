"""One trace query: records by message ID, sender or recipient over a time range, a page at a time.

Paging is a cursor, not an offset: a page token names the newest moment the next page may show
(inclusive) and the records at exactly that moment it already showed, so every record is shown
once even when many share one millisecond, whatever order a store gives ties in. The token also
carries a digest of the search, so a token from another search is refused, not misread.

A recipient search on DynamoDB reads whole records (the time index holds no recipients): with a
`deadline`, the range is walked one UTC day at a time and a page ends once the deadline passes,
its token pointing at the first day not read, so one call's cost stays bounded and the next
page goes on from there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import orjson

from collector.clock import iso_millis, parse_iso_millis
from collector.events.fields import normalize_address
from collector.model import Item
from collector.redaction import PREFIX, Redactor
from collector.store import Query

Key = Literal["message_id", "sender", "recipient"]
KEYS: tuple[Key, ...] = ("message_id", "sender", "recipient")
KEY_LABELS: dict[Key, str] = {"message_id": "message ID", "sender": "sender", "recipient": "recipient"}
MAX_LIMIT = 1000  # a page is held in memory and, in the widget, returned in one answer
MAX_VALUE_CHARS = 2048  # longer than any address or message ID an index could hold
TOKEN_VERSION = 1
ONE_MS = timedelta(milliseconds=1)
HASHED = re.compile(re.escape(PREFIX) + "[0-9a-f]{64}")


class Records(Protocol):
    """What a trace asks of a place that holds records: an audit store's `query` (the exported
    trail, collector/trace/trail.py, answers it too)."""

    async def query(self, query: Query) -> list[Item]: ...


class TraceError(ValueError):
    """The search itself is wrong (an empty value, a token from elsewhere): the user's to fix."""


@dataclass(frozen=True)
class TraceQuery:
    key: Key
    value: str  # as the user gave it: normalised and, with redaction on, hashed by `search`
    since: datetime
    until: datetime
    limit: int = 50
    token: str | None = None

    def __post_init__(self) -> None:
        if self.key not in KEYS:
            raise TraceError(f"search by one of {', '.join(KEYS)}, not {self.key!r}")
        if not self.value.strip():
            raise TraceError(f"the {KEY_LABELS[self.key]} to search for is empty")
        if len(self.value) > MAX_VALUE_CHARS:
            raise TraceError(f"the {KEY_LABELS[self.key]} is longer than {MAX_VALUE_CHARS} characters")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise TraceError(f"a page holds 1 to {MAX_LIMIT} records, not {self.limit}")
        if self.since > self.until:
            raise TraceError("the start of the time range is after its end")


@dataclass(frozen=True)
class Cursor:
    at: str  # receivedAt (iso_millis): the next page shows records at or before it
    seen: tuple[str, ...] = ()  # invocationIds at exactly `at` already shown


@dataclass(frozen=True)
class Page:
    query: TraceQuery
    searched: str  # what the store was asked for: the normalised value, or its hash
    records: list[Item] = field(default_factory=list)  # newest first
    next_token: str | None = None
    redacted: bool = False


def searched_value(key: Key, value: str, redactor: Redactor) -> str:
    """The value as the trail stores it: an address normalised as the adapters do, then hashed as
    `audit query --sender` hashes it; a message ID is kept in clear (never redacted). With
    redaction on, a value that is already such a hash is searched as it is."""
    value = value.strip()
    if key == "message_id":
        return value
    if redactor.enabled and HASHED.fullmatch(value):
        return value  # already a hash the trail shows (a paging link, a hash copied from a page)
    return redactor.value(normalize_address(value))


def _digest(key: Key, searched: str) -> str:
    return hashlib.sha256(f"{key}\0{searched}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def encode_token(cursor: Cursor, key: Key, searched: str) -> str:
    body = {"v": TOKEN_VERSION, "s": _digest(key, searched), "at": cursor.at, "seen": list(cursor.seen)}
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode_token(token: str, key: Key, searched: str) -> Cursor:
    try:
        body = orjson.loads(base64.urlsafe_b64decode(token.strip() + "=" * (-len(token.strip()) % 4)))
        at, seen = body["at"], body["seen"]
        if body["v"] != TOKEN_VERSION or not isinstance(at, str) or not isinstance(seen, list):
            raise ValueError("shape")
        parse_iso_millis(at)
        cursor = Cursor(at, tuple(str(s) for s in seen))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, KeyError, TypeError):
        raise TraceError("the page token is not one this command printed") from None
    if body["s"] != _digest(key, searched):
        raise TraceError("the page token belongs to another search: repeat that search's key and value")
    return cursor


def newest_first(items: list[Item]) -> list[Item]:
    """Newest first, ties by invocationId: the order pages are cut in."""
    ordered = sorted(items, key=lambda i: str(i.get("invocationId", "")))
    return sorted(ordered, key=lambda i: str(i.get("receivedAt", "")), reverse=True)


def _days_newest_first(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    windows = []
    end = until
    while end >= since:
        midnight = datetime(end.year, end.month, end.day, tzinfo=UTC)
        start = max(since, midnight)
        windows.append((start, end))
        end = start - ONE_MS
    return windows


def _after(page: list[Item], cursor: Cursor | None) -> Cursor:
    """The cursor past the last record of a full page."""
    at = str(page[-1]["receivedAt"])
    seen = [str(i["invocationId"]) for i in page if i.get("receivedAt") == at]
    if cursor is not None and cursor.at == at:
        seen = list(cursor.seen) + seen
    return Cursor(at, tuple(dict.fromkeys(seen)))


async def search(
    store: Records, query: TraceQuery, redactor: Redactor, *, deadline: float | None = None
) -> Page:
    """One page of records, newest first. `deadline` (a time.monotonic() instant) bounds a
    recipient search's walk; without one the store is asked once for the whole range."""
    searched = searched_value(query.key, query.value, redactor)
    cursor = None if query.token is None else decode_token(query.token, query.key, searched)
    since, until = query.since.astimezone(UTC), query.until.astimezone(UTC)
    seen: frozenset[str] = frozenset()
    if cursor is not None:
        until = min(until, parse_iso_millis(cursor.at))
        seen = frozenset(cursor.seen)
    page = Page(query, searched, redacted=redactor.enabled)
    if since > until:
        return page
    windows = (
        _days_newest_first(since, until)
        if query.key == "recipient" and deadline is not None
        else [(since, until)]
    )
    found: list[Item] = []
    for n, (start, end) in enumerate(windows):
        wanted = query.limit + 1 - len(found)  # one more than the page: says whether more follow
        asked = Query(
            message_id=searched if query.key == "message_id" else None,
            sender=searched if query.key == "sender" else None,
            recipient=searched if query.key == "recipient" else None,
            since=start,
            until=end,
            limit=wanted + len(seen),
            full=True,
        )
        found += newest_first([i for i in await store.query(asked) if i.get("invocationId") not in seen])
        if len(found) > query.limit:
            shown = found[: query.limit]
            token = encode_token(_after(shown, cursor), query.key, searched)
            return Page(query, searched, shown, token, redactor.enabled)
        if deadline is not None and time.monotonic() > deadline and n < len(windows) - 1:
            token = encode_token(Cursor(iso_millis(start - ONE_MS)), query.key, searched)
            return Page(query, searched, found, token, redactor.enabled)
    return Page(query, searched, found, None, redactor.enabled)
