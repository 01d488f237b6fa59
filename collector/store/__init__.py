"""Audit stores: one small interface, a DynamoDB and a SQLite implementation, one contract suite.

Modelled on Powertools' idempotency persistence layer: the Lambda pipeline only ever asks for one
conditional write (`put_once`) and the CLI for reads; each backend keeps its own I/O details.

`replay` also keeps a record's `countState` (see COUNT_STATE) with one compare-and-set,
`set_count_state`, so that a replay stopped between a write and its EMF line counts that event on
the next run, and nothing twice. The Lambda path never writes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from collector.model import EventType, Item


@dataclass(frozen=True)
class Inserted:
    """The write created the record: this delivery is the first."""


@dataclass(frozen=True)
class Duplicate:
    """A record with this key already existed; `existing` is it, read by the same call."""

    existing: Item


PutResult = Inserted | Duplicate

# The attribute `replay` keeps on the records it writes; absent on the Lambda's records.
COUNT_STATE = "countState"
# Written with the record: its metrics were not emitted yet; a later replay of the event counts it.
PENDING = "PENDING"
# `EMITTED:<attemptId>`: claimed by that processing attempt right before it wrote the EMF line.
EMITTED_PREFIX = "EMITTED:"


# With no start given, a time range looks back this far from its end: 7 days for a listing, 30 for
# a lookup by sender or message ID (each day is one filtered query of the time index on DynamoDB).
LIST_LOOKBACK = timedelta(days=7)
KEYED_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class Query:
    """Read the trail by one key (messageId, sender or recipient) and/or a time range, newest first.

    `full=False` asks only for what the time index holds (the listing's columns); a store may then
    skip fetching whole records. `recipient` matches one of a record's `recipients`; the time index
    does not hold them, so on DynamoDB it reads whole records (collector/store/dynamodb.py)."""

    message_id: str | None = None
    sender: str | None = None
    recipient: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    full: bool = True
    # Filters on what the time index keeps (`audit list --source --event-type --status`), exact
    # values as stored; a record without a source is WorkMail's (it was written before sources).
    source: str | None = None
    event_type: str | None = None
    status: str | None = None

    @property
    def keyed(self) -> bool:
        return self.message_id is not None or self.sender is not None or self.recipient is not None

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The UTC range both stores read: the default lookback applies when no start is given.
        Raises StoreError for a range whose start is after its end."""
        until = (self.until or now or datetime.now(UTC)).astimezone(UTC)
        since = (self.since or until - (KEYED_LOOKBACK if self.keyed else LIST_LOOKBACK)).astimezone(UTC)
        if since > until:
            raise StoreError("the start of the time range is after its end")
        return since, until


@dataclass(frozen=True)
class Tally:
    """Records of one (status, source, direction) on one UTC day, and their envelope recipients."""

    records: int = 0
    recipients: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.records + other.records, self.recipients + other.recipients)


TallyKey = tuple[str, str, str]  # status (RECORDED, INVALID, EVENT), source (WorkMail, SES), direction
# The tally's status for a recorded fact about a message that is no message itself (an SES
# Delivery, Bounce, ...): kept apart so RECORDED counts exactly what `Messages` counts.
EVENT = "EVENT"
MESSAGE_EVENT_TYPES = frozenset(t.value for t in EventType if t.is_message)


def tally_key(item: Item) -> TallyKey:
    """Records written before sources existed are WorkMail's; one without an event type is a message."""
    status = str(item.get("status", ""))
    event_type = item.get("eventType")
    if status == "RECORDED" and event_type is not None and event_type not in MESSAGE_EVENT_TYPES:
        status = EVENT
    return (status, str(item.get("source") or "WorkMail"), str(item.get("direction") or "UNKNOWN"))


def utc_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(milliseconds=1)


class AuditStore(Protocol):
    async def put_once(self, item: Item) -> PutResult:
        """Store the item unless its key exists; one round trip either way."""

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        """Compare-and-set the record's COUNT_STATE (None: absent) from `expected` to `new`. True if
        the state is now `new` (this call set it, or an SDK retry of this same call already had);
        False if the record is missing or in another state. One conditional write."""

    async def replace_invalid(self, item: Item) -> bool:
        """Write `item` over the INVALID record stored under its key; False (nothing written) if
        the record there is not INVALID. One conditional write. Only for records older versions
        quarantined under the key their payload claimed (collector.pipeline moves them first)."""

    async def get(self, key: str) -> Item | None: ...

    async def query(self, query: Query) -> list[Item]: ...

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        """Records received on one UTC day, counted by status, source and direction."""

    def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        """Whole records received in [since, until] (the listing's records: not expired, with a
        receivedDay), oldest first by (receivedAt, invocationId), at most `page` at a time: the
        trail export's read, which holds one page, never the period."""

    async def close(self) -> None: ...


class PurgesInvalid(Protocol):
    """Removal of quarantined records (status INVALID) received in a time range, for the junk a
    mistaken replay stored; a record of a real message is never touched (each delete is
    conditional on the status). Its own protocol: only `audit purge-invalid` needs it."""

    async def purge_invalid(self, since: datetime, until: datetime, *, apply: bool) -> int:
        """How many such records there are (`apply=False`), or were removed (`apply=True`)."""


class StoreError(RuntimeError):
    """The store could not be reached or refused the request; retrying may help."""


class StoreNotFound(StoreError):
    """The audit database or table does not exist (reads never create one)."""
