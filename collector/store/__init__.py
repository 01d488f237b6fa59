"""Audit stores: one small interface, a DynamoDB and a SQLite implementation, one contract suite.

Modelled on Powertools' idempotency persistence layer: the pipeline only ever asks for one
conditional write (`put_once`) and reads for the CLI; each backend keeps its own I/O details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from collector.model import Item


@dataclass(frozen=True)
class Inserted:
    """The write created the record: this delivery is the first."""


@dataclass(frozen=True)
class Duplicate:
    """A record with this key already existed; `existing` is it, read by the same call."""

    existing: Item


PutResult = Inserted | Duplicate


# With no start given, a time range looks back this far from its end: 7 days for a listing, 30 for
# a lookup by sender or message ID (each day is one filtered query of the time index on DynamoDB).
LIST_LOOKBACK = timedelta(days=7)
KEYED_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class Query:
    """Read the trail by one key (messageId or sender) and/or a time range, newest first.

    `full=False` asks only for what the time index holds (the listing's columns); a store may then
    skip fetching whole records."""

    message_id: str | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    full: bool = True

    @property
    def keyed(self) -> bool:
        return self.message_id is not None or self.sender is not None

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The UTC range both stores read: the default lookback applies when no start is given."""
        until = (self.until or now or datetime.now(UTC)).astimezone(UTC)
        since = self.since or until - (KEYED_LOOKBACK if self.keyed else LIST_LOOKBACK)
        return since.astimezone(UTC), until

    def matches(self, item: Item) -> bool:
        """The key filters, as both stores apply them to a record (or its time-index projection)."""
        return (self.message_id is None or item.get("messageId") == self.message_id) and (
            self.sender is None or item.get("sender") == self.sender
        )


@dataclass(frozen=True)
class Tally:
    """Records of one (status, source, direction) on one UTC day, and their envelope recipients."""

    records: int = 0
    recipients: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.records + other.records, self.recipients + other.recipients)


TallyKey = tuple[str, str, str]  # status (RECORDED, INVALID), source (WorkMail, SES), direction


def tally_key(item: Item) -> TallyKey:
    """Records written before sources existed are WorkMail's."""
    return (
        str(item.get("status", "")),
        str(item.get("source") or "WorkMail"),
        str(item.get("direction") or "UNKNOWN"),
    )


def utc_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(milliseconds=1)


class AuditStore(Protocol):
    async def put_once(self, item: Item) -> PutResult:
        """Store the item unless its key exists; one round trip either way."""

    async def get(self, key: str) -> Item | None: ...

    async def query(self, query: Query) -> list[Item]: ...

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        """Records received on one UTC day, counted by status, source and direction."""

    async def close(self) -> None: ...


class StoreError(RuntimeError):
    """The store could not be reached or refused the request; retrying may help."""
