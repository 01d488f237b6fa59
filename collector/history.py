"""Reads across the hot window's edge: recent days from the store, older days from the trail.

The table keeps a hot window of recent days; the trail (Parquet, one object per UTC day, written
by `export` or the deployed exporter) keeps every day. `audit list` and `audit query` ask one
question of both: the range is split at the first day of the hot window, the store answers for
that day and after, the trail for the days before, and the two answers are joined newest first
under the same limit (every store record is newer than every trail record, so joining is
appending). Offline, the trail is a folder read with DuckDB (`--trail DIR`).

A record from the trail has every attribute its columns keep (collector/trail/schema.py) and its
receivedDay; bookkeeping attributes the trail leaves out (countState, attemptId) are absent.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from collector.clock import iso_millis
from collector.model import Item
from collector.store import AuditStore, PutResult, Query, Tally, TallyKey

HOT_DAYS = 30  # the days `--trail` leaves to the store unless --hot-days says otherwise


class TrailReader(Protocol):
    async def query(self, query: Query) -> list[Item]:
        """Records of the trail in the query's window (given in full), newest first."""


def hot_window_start(now: datetime, hot_days: int) -> datetime:
    """The first instant the store answers for: 00:00 UTC of the hot window's first day."""
    first = now.astimezone(UTC).date() - timedelta(days=hot_days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


class HistoryStore:
    """The store for its hot window, the trail before it; `get`, `tally` and writes are the store's."""

    def __init__(self, store: AuditStore, trail: TrailReader, edge: datetime) -> None:
        self._store = store
        self._trail = trail
        self._edge = edge

    async def query(self, query: Query) -> list[Item]:
        since, until = query.window()
        found: list[Item] = []
        if until >= self._edge:
            found = await self._store.query(replace(query, since=max(since, self._edge), until=until))
        if len(found) < query.limit and since < self._edge:
            older = replace(
                query,
                since=since,
                until=min(until, self._edge - timedelta(milliseconds=1)),
                limit=query.limit - len(found),
            )
            found += await self._trail.query(older)
        return found[: query.limit]

    async def put_once(self, item: Item) -> PutResult:
        return await self._store.put_once(item)  # writes go where new records live

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        return await self._store.set_count_state(key, expected, new)

    async def get(self, key: str) -> Item | None:
        return await self._store.get(key)

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        return await self._store.tally(day)

    async def close(self) -> None:
        await self._store.close()


class DuckDbTrail:
    """An exported trail folder, read with DuckDB through the Glue table's name."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def query(self, query: Query) -> list[Item]:
        return await asyncio.to_thread(self._query, query)

    def _query(self, query: Query) -> list[Item]:
        from collector.trail.duck import connect
        from collector.trail.schema import PARTITION, QUALIFIED_TABLE

        since, until = query.window()
        sql = (
            f"SELECT * FROM {QUALIFIED_TABLE} WHERE {PARTITION} BETWEEN ? AND ?"
            " AND received_at BETWEEN ? AND ?"
        )
        parameters: list[Any] = [
            since.date().isoformat(),
            until.date().isoformat(),
            _naive(since),
            _naive(until),
        ]
        if query.message_id is not None:
            sql += " AND message_id = ?"
            parameters.append(query.message_id)
        if query.sender is not None:
            sql += " AND sender = ?"
            parameters.append(query.sender)
        sql += " ORDER BY received_at DESC, invocation_id LIMIT ?"
        parameters.append(query.limit)
        con = connect(self._folder)
        try:
            cursor = con.execute(sql, parameters)
            names = [d[0] for d in cursor.description or ()]
            return [record_of(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
        finally:
            con.close()


def record_of(row: dict[str, Any]) -> Item:
    """One trail row as the stores return a record: attributes by their own names, no nulls."""
    from collector.trail.schema import COLUMNS, PARTITION

    record: Item = {}
    for column in COLUMNS:
        value = row.get(column.name)
        if value is None:
            continue
        if column.glue_type == "timestamp":
            value = iso_millis(value.replace(tzinfo=UTC))
        elif column.glue_type.startswith("array<"):
            value = list(value)
        record[column.attribute] = value
    record["receivedDay"] = row[PARTITION]
    return record


def _naive(moment: datetime) -> datetime:
    """A UTC instant as the trail's timestamps hold it (no zone, milliseconds)."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
