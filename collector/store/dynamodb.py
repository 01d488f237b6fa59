"""DynamoDB audit store on aioboto3: one conditional PutItem per delivery, duplicates read for free.

`ReturnValuesOnConditionCheckFailure=ALL_OLD` makes a failed `attribute_not_exists` condition
return the stored item, so a redelivery costs exactly one request and no second read. Transient
faults (throttling, 5xx, timeouts) are retried by the SDK's standard mode and then raised, so
Lambda's asynchronous retries and the on-failure destination keep the event.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.aws import open_client
from collector.clock import iso_millis
from collector.model import Item
from collector.store import COUNT_STATE, Duplicate, Inserted, PutResult, Query, StoreError
from collector.store.schema import AUDIT_TABLE, BY_DAY, BY_MESSAGE_ID, BY_SENDER

DEFAULT_LOOKBACK = timedelta(days=7)


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
        until = (query.until or datetime.now(UTC)).astimezone(UTC)
        if query.message_id is not None:
            found = await self._query_index(BY_MESSAGE_ID, query.message_id, query.since, query.until, None)
            if query.sender is not None:  # both keys: the index serves one, the other filters
                found = [i for i in found if i.get("sender") == query.sender]
            return found[: query.limit]
        if query.sender is not None:
            return await self._query_index(BY_SENDER, query.sender, query.since, query.until, query.limit)
        # A time range: one byDay partition per UTC day, newest first, until the limit is met.
        since = (query.since or until - DEFAULT_LOOKBACK).astimezone(UTC)
        if since > until:
            raise StoreError("the start of the time range is after its end")
        out: list[Item] = []
        day = until.date()
        while day >= since.date() and len(out) < query.limit:
            out += await self._query_index(BY_DAY, day.isoformat(), since, until, query.limit - len(out))
            day -= timedelta(days=1)
        return out

    async def _query_index(
        self, index: str, value: str, since: datetime | None, until: datetime | None, limit: int | None
    ) -> list[Item]:
        """Newest first; `limit=None` reads every match (for a second key filtered in code)."""
        spec = AUDIT_TABLE.index(index)
        names = {"#p": spec.partition_key}
        values: dict[str, Any] = {":p": {"S": value}}
        condition = "#p = :p"
        if since is not None or until is not None:
            names["#s"] = spec.sort_key
            values[":a"] = {"S": iso_millis(since or datetime(1970, 1, 1, tzinfo=UTC))}
            values[":b"] = {"S": iso_millis(until or datetime(9999, 1, 1, tzinfo=UTC))}
            condition += " AND #s BETWEEN :a AND :b"
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        out: list[Item] = []
        while limit is None or len(out) < limit:
            page = {} if limit is None else {"Limit": limit - len(out)}
            response = await self._client.query(**request, **page)
            out += [decode_item(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return out

    async def close(self) -> None:
        await self._exit_stack.aclose()


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
