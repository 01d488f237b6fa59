"""Audit stores: one small interface, a DynamoDB and a SQLite implementation, one contract suite.

Modelled on Powertools' idempotency persistence layer: the Lambda pipeline only ever asks for one
conditional write (`put_once`) and the CLI for reads; each backend keeps its own I/O details.

`replay` also keeps a record's `countState` (see COUNT_STATE) with one compare-and-set,
`set_count_state`, so that a replay stopped between a write and its EMF line counts that event on
the next run, and nothing twice. The Lambda path never writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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

# The attribute `replay` keeps on the records it writes; absent on the Lambda's records.
COUNT_STATE = "countState"
# Written with the record: its metrics were not emitted yet; a later replay of the event counts it.
PENDING = "PENDING"
# `EMITTED:<attemptId>`: claimed by that processing attempt right before it wrote the EMF line.
EMITTED_PREFIX = "EMITTED:"


@dataclass(frozen=True)
class Query:
    """Read the trail by one key (messageId or sender) and/or a time range, newest first."""

    message_id: str | None = None
    sender: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


class AuditStore(Protocol):
    async def put_once(self, item: Item) -> PutResult:
        """Store the item unless its key exists; one round trip either way."""

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        """Compare-and-set the record's COUNT_STATE (None: absent) from `expected` to `new`. True if
        the state is now `new` (this call set it, or an SDK retry of this same call already had);
        False if the record is missing or in another state. One conditional write."""

    async def get(self, key: str) -> Item | None: ...

    async def query(self, query: Query) -> list[Item]: ...

    async def close(self) -> None: ...


class StoreError(RuntimeError):
    """The store could not be reached or refused the request; retrying may help."""


class StoreNotFound(StoreError):
    """The audit database or table does not exist (reads never create one)."""
