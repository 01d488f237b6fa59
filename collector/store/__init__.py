"""Audit stores: one small interface, a DynamoDB and a SQLite implementation, one contract suite.

Modelled on Powertools' idempotency persistence layer: the pipeline only ever asks for one
conditional write (`put_once`) and reads for the CLI; each backend keeps its own I/O details.
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

    async def get(self, key: str) -> Item | None: ...

    async def query(self, query: Query) -> list[Item]: ...

    async def close(self) -> None: ...


class StoreError(RuntimeError):
    """The store could not be reached or refused the request; retrying may help."""
