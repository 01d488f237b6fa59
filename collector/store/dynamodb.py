"""DynamoDB audit store on aioboto3: one conditional PutItem per delivery, duplicates read for free.

`ReturnValuesOnConditionCheckFailure=ALL_OLD` makes a failed `attribute_not_exists` condition
return the stored item, so a redelivery costs exactly one request and no second read. Transient
faults (throttling, 5xx, timeouts) are retried by the SDK's standard mode and then raised, so
Lambda's asynchronous retries and the on-failure destination keep the event.

Reads go through the time index (one partition per UTC day, newest first). A lookup by sender or
message ID is a filtered query of each day in its range: it reads every index item of those days
(about 230 bytes each; half a read unit per 4 KB), so its cost grows with the mail volume and the
range, not with the number of matches. Days are read several at a time, and a day's hours in
parallel for the per-day tally, so a long range or a busy day is bounded by round trips, not by a
walk one day after another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from collector.aws import open_client
from collector.clock import iso_millis
from collector.model import Item
from collector.store import (
    COUNT_STATE,
    Duplicate,
    Inserted,
    PutResult,
    Query,
    StoreError,
    Tally,
    TallyKey,
    tally_key,
    utc_day_bounds,
)
from collector.store.schema import AUDIT_TABLE, TIME_INDEX

# Concurrent Query requests of one read (days of a range, hours of a day). bench/lookup.py: on
# DynamoDB Local a 2019-to-now range (about 2,900 day queries) took 16 s at 8, 14 s at 16, 19 s at
# 32; against DynamoDB each wave costs one round trip, so 16 halves a long range's time again.
PARALLEL_QUERIES = 16
MAX_RANGE_DAYS = 3660  # ten years: a longer range is a mistake, not a question
BATCH_GET_KEYS = 100  # BatchGetItem's own limit
T = TypeVar("T")


def to_attribute(value: Any) -> dict[str, Any]:
    """Encode the plain types audit items hold (str, bool, int, float, list, dict, None)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attribute(v) for k, v in value.items()}}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"cannot store {type(value).__name__} in an audit item")


def from_attribute(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "S" or kind == "BOOL":
        return value
    if kind == "N":
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected DynamoDB type {kind}")


def encode_item(item: Item) -> dict[str, Any]:
    return {k: to_attribute(v) for k, v in item.items() if v is not None}


def decode_item(raw: dict[str, Any]) -> Item:
    return {k: from_attribute(v) for k, v in raw.items()}


class DynamoDbStore:
    """Owns one aioboto3 client for the life of the container; `open` enters it, `close` leaves it."""

    def __init__(self, client: Any, table_name: str, exit_stack: contextlib.AsyncExitStack) -> None:
        self._client = client
        self._table = table_name
        self._exit_stack = exit_stack

    @classmethod
    async def open(cls, table_name: str, session: Any = None) -> DynamoDbStore:
        stack = contextlib.AsyncExitStack()
        client = await open_client("dynamodb", stack, session)
        return cls(client, table_name, stack)

    async def put_once(self, item: Item) -> PutResult:
        from botocore.exceptions import ClientError

        try:
            await self._client.put_item(
                TableName=self._table,
                Item=encode_item(item),
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": AUDIT_TABLE.partition_key},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return Duplicate(decode_item(error.response.get("Item") or {}))
            raise
        return Inserted()

    async def set_count_state(self, key: str, expected: str | None, new: str | None) -> bool:
        """One conditional UpdateItem (replay only; the Lambda's role may not call it). A failed
        condition returns the stored item, so an SDK retry of an applied update is recognised."""
        from botocore.exceptions import ClientError

        names = {"#k": AUDIT_TABLE.partition_key, "#s": COUNT_STATE}
        values: dict[str, Any] = {}
        condition = "attribute_exists(#k) AND "
        if expected is None:
            condition += "attribute_not_exists(#s)"
        else:
            condition += "#s = :e"
            values[":e"] = {"S": expected}
        if new is None:
            update = "REMOVE #s"
        else:
            update = "SET #s = :n"
            values[":n"] = {"S": new}
        try:
            await self._client.update_item(
                TableName=self._table,
                Key={AUDIT_TABLE.partition_key: {"S": key}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            current = decode_item(error.response.get("Item") or {})
            return bool(current) and current.get(COUNT_STATE) == new
        return True

    async def get(self, key: str) -> Item | None:
        response = await self._client.get_item(
            TableName=self._table, Key={AUDIT_TABLE.partition_key: {"S": key}}, ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else decode_item(raw)

    async def query(self, query: Query) -> list[Item]:
        since, until = query.window()
        span = (until.date() - since.date()).days + 1
        if span > MAX_RANGE_DAYS:  # before listing the days: a range from the year 1 would overflow
            raise StoreError(f"a time range may span at most {MAX_RANGE_DAYS} days, not {span}")
        days = _days_newest_first(since, until)
        found: list[Item] = []
        for start in range(0, len(days), PARALLEL_QUERIES):
            batch = days[start : start + PARALLEL_QUERIES]
            pages = await asyncio.gather(
                *(
                    self._read_index(day.isoformat(), since, until, limit=query.limit, match=query)
                    for day in batch
                )
            )
            for page in pages:  # days newest first, each newest first
                found += page
            if len(found) >= query.limit:
                break
        found = found[: query.limit]
        return await self._whole(found) if query.full else found

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        start, _ = utc_day_bounds(day)
        hours = [
            (start + timedelta(hours=h), start + timedelta(hours=h + 1, milliseconds=-1)) for h in range(24)
        ]
        counts: dict[TallyKey, Tally] = {}
        slices = await _bounded(
            self._read_index(
                day.isoformat(),
                since,
                until,
                limit=None,
                projection=("status", "source", "direction", "eventType", "recipientCount"),
            )
            for since, until in hours
        )
        for items in slices:
            for item in items:
                key = tally_key(item)
                counts[key] = counts.get(key, Tally()) + Tally(1, int(item.get("recipientCount") or 0))
        return counts

    async def purge_invalid(self, since: datetime, until: datetime, *, apply: bool) -> int:
        """Quarantined records (status INVALID) received in [since, until], found through the time
        index: counted, or deleted one by one, each delete conditional on the status still INVALID."""
        from botocore.exceptions import ClientError

        span = (until.date() - since.date()).days + 1
        if span > MAX_RANGE_DAYS:
            raise StoreError(f"a time range may span at most {MAX_RANGE_DAYS} days, not {span}")
        keys: list[str] = []
        for day in _days_newest_first(since, until):
            items = await self._read_index(
                day.isoformat(), since, until, limit=None, projection=(AUDIT_TABLE.partition_key, "status")
            )
            keys += [str(i[AUDIT_TABLE.partition_key]) for i in items if i.get("status") == "INVALID"]
        if not apply:
            return len(keys)
        removed = 0
        for key in keys:
            try:
                await self._client.delete_item(
                    TableName=self._table,
                    Key={AUDIT_TABLE.partition_key: {"S": key}},
                    ConditionExpression="#s = :invalid",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":invalid": {"S": "INVALID"}},
                )
                removed += 1
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        return removed

    async def _read_index(
        self,
        day: str,
        since: datetime,
        until: datetime,
        *,
        limit: int | None,
        match: Query | None = None,
        projection: tuple[str, ...] | None = None,
    ) -> list[Item]:
        """Index items of one day partition within [since, until], newest first; with `match`, only
        those its key filters accept (a FilterExpression: DynamoDB still reads the rest)."""
        names = {"#p": TIME_INDEX.partition_key, "#s": TIME_INDEX.sort_key}
        values: dict[str, Any] = {
            ":p": {"S": day},
            ":a": {"S": iso_millis(since)},
            ":b": {"S": iso_millis(until)},
        }
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": TIME_INDEX.name,
            "KeyConditionExpression": "#p = :p AND #s BETWEEN :a AND :b",
            "ScanIndexForward": False,
        }
        filters = []
        if match is not None and match.message_id is not None:
            names["#m"], values[":m"] = "messageId", {"S": match.message_id}
            filters.append("#m = :m")
        if match is not None and match.sender is not None:
            names["#f"], values[":f"] = "sender", {"S": match.sender}
            filters.append("#f = :f")
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if projection is not None:
            for n, attribute in enumerate(projection):
                names[f"#a{n}"] = attribute
            request["ProjectionExpression"] = ", ".join(f"#a{n}" for n in range(len(projection)))
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        out: list[Item] = []
        while limit is None or len(out) < limit:
            # With a filter, `Limit` caps what is read, not what matches: read in full pages.
            page = {} if limit is None or filters else {"Limit": limit - len(out)}
            response = await self._query(request, page)
            out += [decode_item(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return out if limit is None else out[:limit]

    async def _query(self, request: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = await self._client.query(**request, **page)
        except ClientError as error:
            problem = time_index_unavailable(error, self._table)
            if problem is not None:
                raise StoreError(problem) from error
            raise
        return response

    async def _whole(self, found: list[Item]) -> list[Item]:
        """Whole records for index items, in the same order (BatchGetItem, 100 keys a request)."""
        key = AUDIT_TABLE.partition_key
        wanted = [item[key] for item in found]
        records: dict[str, Item] = {}
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [{key: {"S": k}} for k in dict.fromkeys(wanted[start : start + BATCH_GET_KEYS])],
                    "ConsistentRead": True,
                }
            }
            while pending:
                response = await self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._table, []):
                    record = decode_item(raw)
                    records[record[key]] = record
                pending = response.get("UnprocessedKeys") or {}
        return [records[k] for k in wanted if k in records]  # an item that expired meanwhile is gone

    async def close(self) -> None:
        await self._exit_stack.aclose()


def time_index_unavailable(error: Exception, table: str) -> str | None:
    """What to tell a reader when the time index cannot answer yet: a table made by an older
    version has no such index until its migration adds it, and a new index backfills first."""
    response = getattr(error, "response", {}) or {}
    details = response.get("Error", {})
    if details.get("Code") != "ValidationException":
        return None
    message = str(details.get("Message", ""))
    name = TIME_INDEX.name
    if "backfilling" in message:
        return (
            f"the time index {name} of table {table} is still being built (it backfills after it is "
            "added, minutes to hours by table size); listings and lookups answer once it is ACTIVE: "
            f"aws dynamodb describe-table --table-name {table} "
            f"--query \"Table.GlobalSecondaryIndexes[?IndexName=='{name}'].IndexStatus\""
        )
    if "does not have the specified index" in message:
        return (
            f"table {table} has no time index {name}: it was created by an older version (indexes "
            "byMessageId, bySender, byDay); add the index as docs/deploy.md says, section "
            "'Migrating a table that has the three old indexes'"
        )
    return None


def _days_newest_first(since: datetime, until: datetime) -> list[date]:
    """Never steps past the first day, so a range starting on 0001-01-01 does not overflow."""
    last = until.date()
    return [last - timedelta(days=n) for n in range((last - since.date()).days + 1)]


async def _bounded(coroutines: Iterable[Coroutine[Any, Any, T]], limit: int = PARALLEL_QUERIES) -> list[T]:
    """Run coroutines at most `limit` at a time; results in the given order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            async with semaphore:
                return await coroutine
        finally:
            coroutine.close()  # one cancelled while waiting never started: close it, no warning

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


async def create_table(table_name: str, session: Any = None) -> dict[str, Any]:
    """Create the audit table exactly as the CDK stack defines it (keys, indexes, TTL) and wait for it."""
    async with contextlib.AsyncExitStack() as stack:
        client = await open_client("dynamodb", stack, session)
        await client.create_table(**AUDIT_TABLE.create_table_request(table_name))
        waiter = client.get_waiter("table_exists")
        await waiter.wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        await client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": AUDIT_TABLE.ttl_attribute},
        )
        description = await client.describe_table(TableName=table_name)
        table: dict[str, Any] = description["Table"]
        return table
