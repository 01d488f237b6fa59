"""The exported trail (Parquet under `day=YYYY-MM-DD/`, collector/trail) as one more place a
trace looks, so a search reaches back past the table's retention.

Which records match is decided by the same named queries Athena runs (`message_trace`,
`by_sender`, `by_recipient`), here on DuckDB; the matches' whole rows are then read back as
records, so the trace shows them exactly as it shows the store's. `Both` asks the store and the
trail and keeps one copy of a record both hold (the store's), so the trace's paging sees one
source.

Needs the optional `trail` extra (DuckDB); the widget function never imports this module.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.clock import iso_millis
from collector.model import Item
from collector.store import Query
from collector.trace.search import Records, newest_first


def record_of(row: dict[str, Any]) -> Item:
    """A trail row as the record it was exported from (the columns the row holds, by attribute)."""
    from collector.trail.schema import COLUMNS

    item: Item = {}
    for column in COLUMNS:
        value = row.get(column.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = iso_millis(value.replace(tzinfo=UTC) if value.tzinfo is None else value)
        item[column.attribute] = value
    return item


class TrailRecords:
    """Records of an exported trail folder, answering a keyed `Query` (message ID, sender or
    recipient) newest first; one DuckDB connection for the reader's life."""

    def __init__(self, folder: Path) -> None:
        from collector.trail import duck

        self._duck = duck
        self._con = duck.connect(folder)

    async def query(self, query: Query) -> list[Item]:
        since, until = query.window()
        if query.message_id is not None:
            name, value = "message_trace", query.message_id
        elif query.sender is not None:
            name, value = "by_sender", query.sender
        elif query.recipient is not None:
            name, value = "by_recipient", query.recipient
        else:
            raise ValueError("a trail search needs a message ID, sender or recipient")
        from collector.trail.schema import QUALIFIED_TABLE

        days = [since.date().isoformat(), until.date().isoformat()]
        found = self._duck.run_named(self._con, name, [*days, value])
        first, last = since.replace(tzinfo=None), until.replace(tzinfo=None)
        rows = [dict(zip(found.columns, r, strict=True)) for r in found.rows]
        matched = [r for r in rows if first <= r["received_at"].replace(tzinfo=None) <= last]
        matched.sort(key=lambda r: str(r["invocation_id"]))
        matched.sort(key=lambda r: r["received_at"].replace(tzinfo=None), reverse=True)
        keys = [str(r["invocation_id"]) for r in matched[: query.limit]]
        if not keys:
            return []
        marks = ", ".join("?" for _ in keys)
        whole = self._duck.run(
            self._con,
            f"SELECT * FROM {QUALIFIED_TABLE} WHERE day BETWEEN ? AND ? AND invocation_id IN ({marks})",
            [*days, *keys],
        )
        records: dict[str, Item] = {}
        for values in whole.rows:
            record = record_of(dict(zip(whole.columns, values, strict=True)))
            records.setdefault(str(record["invocationId"]), record)
        return [records[k] for k in keys if k in records]

    async def close(self) -> None:
        self._con.close()


class Both:
    """The store and the trail as one: each asked for the query's limit, one copy of a record
    both hold (the store's, which is newer than any export of it), newest first, cut to the limit.
    The store is asked only from `store_since` on: before it, its records have expired (and on
    DynamoDB each empty day would still cost a request)."""

    def __init__(self, store: Records, trail: Records, store_since: datetime | None = None) -> None:
        self._store = store
        self._trail = trail
        self._store_since = store_since

    async def query(self, query: Query) -> list[Item]:
        found = {str(i.get("invocationId")): i for i in await self._trail.query(query)}
        since, until = query.window()
        if self._store_since is not None and self._store_since > since:
            since = self._store_since
        if since <= until:
            held = await self._store.query(replace(query, since=since, until=until))
            found.update({str(i.get("invocationId")): i for i in held})
        return newest_first(list(found.values()))[: query.limit]
