"""Reads across the hot window's edge: recent days from the store, older days from the trail.

The table keeps a hot window of recent days; the trail (Parquet, one object per UTC day, written
by `export` or the deployed exporter) keeps every day. `audit list` and `audit query` ask one
question of both: the range is split at the first day of the hot window, the store answers for
that day and after, the trail for the days before, and the two answers are joined newest first
under the same limit (every store record is newer than every trail record, so joining is
appending). Offline, the trail is a folder read with DuckDB (`--trail DIR`); deployed, the Glue
table queried with Athena in the trail's workgroup (`--athena WORKGROUP`), the same SQL with its
values passed as execution parameters, in the stack's Glue database (`--athena-database`, the
stack's `trailDatabase`: workmail_collector unless a second stack in the account and region named
another).

A record from the trail has every attribute its columns keep (collector/trail/schema.py) and its
receivedDay; bookkeeping attributes the trail leaves out (countState, attemptId) are absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from collector.clock import iso_millis
from collector.model import Item
from collector.store import AuditStore, PutResult, Query, StoreError, Tally, TallyKey

HOT_DAYS = 7  # the stack's hot window (cdk/settings.py): what `--trail` leaves to the store by default
# A Glue database name Athena reads without quoting: lowercase letters, digits and `_`, at most 255
# (the stack's `trailDatabase`, cdk/settings.py, and `--athena-database`).
GLUE_DATABASE_NAME = re.compile(r"[a-z0-9_]{1,255}")


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

    async def replace_invalid(self, item: Item) -> bool:
        return await self._store.replace_invalid(item)

    async def get(self, key: str) -> Item | None:
        return await self._store.get(key)

    def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        return self._store.oldest_first(since, until, page)  # the export reads the store, never the trail

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

        sql, parameters = trail_sql(query)
        con = connect(self._folder)
        try:
            cursor = con.execute(sql, parameters)
            names = [d[0] for d in cursor.description or ()]
            return [record_of(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]
        finally:
            con.close()


def trail_sql(query: Query, select: str = "*", database: str | None = None) -> tuple[str, list[Any]]:
    """The trail's answer to `query` as SQL both engines run: `?` parameters (first and last day,
    so only those partitions are read; the time range; the key filters), newest first. `database`:
    the Glue database holding the table (collector/trail/schema.py's by default, DuckDB's view)."""
    from collector.trail.schema import DATABASE, PARTITION, TABLE

    since, until = query.window()
    sql = (
        f"SELECT {select} FROM {database or DATABASE}.{TABLE}"
        f" WHERE {PARTITION} BETWEEN ? AND ? AND received_at BETWEEN ? AND ?"
    )
    parameters: list[Any] = [since.date().isoformat(), until.date().isoformat(), _naive(since), _naive(until)]
    filters = (
        (query.message_id, "message_id = ?"),
        (query.sender, "sender = ?"),
        (query.recipient, "contains(recipients, ?)"),
        # a record from before sources is WorkMail's, as in the stores
        (query.source, "coalesce(source, 'WorkMail') = ?"),
        (query.event_type, "event_type = ?"),
        (query.status, "status = ?"),
    )
    for value, clause in filters:
        if value is not None:
            sql += f" AND {clause}"
            parameters.append(value)
    return f"{sql} ORDER BY received_at DESC, invocation_id LIMIT {int(query.limit)}", parameters


POLL_SECONDS = (0.1, 0.2, 0.5, 1.0)  # then every second


class AthenaTrail:
    """The deployed trail: Athena in the trail's workgroup (which sets the results location, their
    encryption and the bytes one query may scan). Each query is one StartQueryExecution with its
    values as execution parameters, polled until it ends, and its results read page by page."""

    def __init__(self, workgroup: str, session: Any = None, database: str | None = None) -> None:
        self._workgroup = workgroup
        self._session = session
        self._database = database  # the stack's trailDatabase; None: workmail_collector

    async def query(self, query: Query) -> list[Item]:
        from collector.trail.schema import COLUMNS, PARTITION

        # Arrays come back as text; as JSON they parse back exactly.
        select = ", ".join(
            f"json_format(CAST({c.name} AS JSON)) AS {c.name}" if c.glue_type.startswith("array<") else c.name
            for c in COLUMNS
        )
        sql, parameters = trail_sql(query, f"{select}, {PARTITION}", self._database)
        async with contextlib.AsyncExitStack() as stack:
            import aioboto3

            session = self._session or aioboto3.Session()
            client = await stack.enter_async_context(session.client("athena"))
            started = await client.start_query_execution(
                QueryString=sql,
                WorkGroup=self._workgroup,
                ExecutionParameters=[athena_literal(p) for p in parameters],
            )
            execution_id = started["QueryExecutionId"]
            await _finished(client, execution_id)
            rows: list[list[str | None]] = []
            request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            while True:
                page = await client.get_query_results(**request)
                rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        if not rows:
            return []
        header, *values = rows
        names = [str(name) for name in header]
        return [record_of(athena_row(dict(zip(names, v, strict=True)))) for v in values]


async def _finished(client: Any, execution_id: str) -> None:
    for attempt in range(1_000_000):
        execution = (await client.get_query_execution(QueryExecutionId=execution_id))["QueryExecution"]
        status = execution["Status"]
        if status["State"] == "SUCCEEDED":
            return
        if status["State"] in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or status["State"]
            raise StoreError(f"the trail's Athena query {execution_id} ended {status['State']}: {reason}")
        await asyncio.sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])


def athena_literal(value: Any) -> str:
    """An execution parameter: Athena puts it into the statement as written, so it is a literal."""
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='milliseconds')}'"
    return "'" + str(value).replace("'", "''") + "'"


def athena_row(text: dict[str, str | None]) -> dict[str, Any]:
    """A result row (every value text, null absent) with the trail's column types."""
    from collector.trail.schema import COLUMNS

    types = {c.name: c.glue_type for c in COLUMNS}
    row: dict[str, Any] = {}
    for name, value in text.items():
        kind = types.get(name, "string")
        if value is None:
            row[name] = None
        elif kind == "timestamp":
            row[name] = datetime.fromisoformat(value)
        elif kind == "bigint":
            row[name] = int(value)
        elif kind == "boolean":
            row[name] = value == "true"
        elif kind.startswith("array<"):
            row[name] = json.loads(value)
        else:
            row[name] = value
    return row


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
