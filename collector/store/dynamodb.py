"""DynamoDB audit store on aioboto3: one conditional PutItem per delivery, duplicates read for free.

`ReturnValuesOnConditionCheckFailure=ALL_OLD` makes a failed `attribute_not_exists` condition
return the stored item, so a redelivery costs exactly one request and no second read. Transient
faults (throttling, 5xx, timeouts) are retried by the SDK's standard mode and then raised, so
Lambda's asynchronous retries and the on-failure destination keep the event.

Reads go through the time index (DAY_SHARDS partitions per UTC day, each newest first, merged). A
lookup by sender or message ID is a filtered query of each day in its range: it reads every index
item of those days (about 230 bytes each; half a read unit per 4 KB), so its cost grows with the
mail volume and the range, not with the number of matches. A lookup by recipient reads more: the
index holds no recipients, so it fetches every record of those days whole (BatchGetItem, eventually
consistent like the index: half a read unit per 4 KB of each record) until it has its limit of
matches. A day's shards are read at once, and several days at a time, and for the per-day tally
each shard in a few time slices, so a long range or a busy day is bounded by round trips, not by a
walk one day after another.

The time index lists two kinds of item, and every reader takes both, whatever this store's mode (a
table in transition holds both): a record's own index item (written with it in `record` mode, its
dayShard), and, for records written in `stream` mode (no dayShard: one write unit, not two), index
pages (collector/store/pages.py), one item per shard and minute of a consumer batch, whose
receivedAt is the minute. A read starts at its start's minute, so that minute's pages are listed;
a page is fetched whole (BatchGetItem, eventually consistent) and expanded. Items are grouped by
minute, which is contiguous in the index's order either way; a minute is whole once the next
minute's item or the partition's end is read, so a Query page's last minute waits for the next
page. Within a minute, entries and records' own items are deduped by key (a record's own item
wins, then the newest change),
cut to [since, until] exactly and matched against the filters here (no FilterExpression: a record's
own item must be there to win over a stale page entry), then sorted. What a page costs to read: its
index item (about 100 bytes) in the Query, and the page itself, half a read unit per 4 KB rounded
up per page; an entry is about 64 bytes compressed (a record's own index item about 250), so a full
page reads some 60 entries per half unit where a Query reads some 16 own items, but a page of one
entry costs a half unit by itself: pages read cheaper from about 17 entries a page (a busy table),
dearer below (4,000 records an hour in 60-second batches, about 8 entries a page: that hour's listing
read 452 units paged against 114 per record on DynamoDB Local; both cost well under a cent).

A table being migrated from the unsharded time index (docs/deploy.md) is read through that index
until the sharded one is ACTIVE: every record has a receivedDay, so the old index lists them all
(records written in stream mode as well; pages have no receivedDay, so that index never lists them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Coroutine, Iterable
from dataclasses import replace
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
from collector.store.pages import GONE, expand, is_page, latest, minute_of
from collector.store.schema import (
    AUDIT_TABLE,
    SHARD_ATTRIBUTE,
    TIME_INDEX,
    TIME_INDEX_ATTRIBUTES,
    TIME_INDEX_MODES,
    UNSHARDED_TIME_INDEX,
    IndexSpec,
    day_shard,
    day_shards,
)

# Days of a range read at once, each day's DAY_SHARDS partitions together (at most 64 requests in
# flight: the client's connection pool, collector/aws.py), and slices of a day's tally at once.
# bench/lookup.py: on DynamoDB Local a 2019-to-now range (about 2,900 day queries, one partition a
# day) took 16 s at 8, 14 s at 16, 19 s at 32; against DynamoDB each wave costs one round trip.
PARALLEL_QUERIES = 16
MAX_RANGE_DAYS = 3660  # ten years: a longer range is a mistake, not a question
BATCH_GET_KEYS = 100  # BatchGetItem's own limit
T = TypeVar("T")


def to_attribute(value: Any) -> dict[str, Any]:
    """Encode the plain types audit items hold (str, bool, int, float, list, dict, None; bytes for
    an index page's entries, collector/store/pages.py)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
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
    if kind == "B":
        return bytes(value)
    raise TypeError(f"unexpected DynamoDB type {kind}")


def encode_item(item: Item) -> dict[str, Any]:
    return {k: to_attribute(v) for k, v in item.items() if v is not None}


def decode_item(raw: dict[str, Any]) -> Item:
    return {k: from_attribute(v) for k, v in raw.items()}


def with_shard(item: Item) -> Item:
    """The item as the table stores it: a record (it has a receivedDay) gets its time-index shard."""
    day, key = item.get("receivedDay"), item.get(AUDIT_TABLE.partition_key)
    if isinstance(day, str) and isinstance(key, str):
        return {**item, SHARD_ATTRIBUTE: day_shard(day, key)}
    return item


def decode_record(raw: dict[str, Any]) -> Item:
    """The item as the store's callers know it: the shard is the table's business. An item of the
    sharded index has no receivedDay of its own; its shard's day is it."""
    item = decode_item(raw)
    shard = item.pop(SHARD_ATTRIBUTE, None)
    if isinstance(shard, str) and "receivedDay" not in item:
        item["receivedDay"] = shard.split("#", 1)[0]
    return item


def newest_first(items: Iterable[Item]) -> list[Item]:
    """Items of several partitions in one order: newest first, ties by key (as SQLite orders them)."""
    by_key = sorted(items, key=lambda item: str(item.get(AUDIT_TABLE.partition_key)))
    return sorted(by_key, key=lambda item: str(item.get("receivedAt")), reverse=True)


class DynamoDbStore:
    """Owns one aioboto3 client for the life of the container; `open` enters it, `close` leaves it."""

    # Items per index Query of `oldest_first`; None: DynamoDB's 1 MB pages. A test sets it small so
    # a minute's items (records sharing a receivedAt, pages) straddle Query pages.
    index_page_items: int | None = None

    def __init__(
        self, client: Any, table_name: str, exit_stack: contextlib.AsyncExitStack, time_index: str = "record"
    ) -> None:
        if time_index not in TIME_INDEX_MODES:
            raise ValueError(f"time_index must be one of {', '.join(TIME_INDEX_MODES)}, not {time_index!r}")
        self._client = client
        self._table = table_name
        self._exit_stack = exit_stack
        self._paged = time_index == "stream"
        self._time_index: IndexSpec | None = None  # chosen by the first read (see time_index)
        self._choosing = asyncio.Lock()

    @classmethod
    async def open(cls, table_name: str, session: Any = None, time_index: str = "record") -> DynamoDbStore:
        stack = contextlib.AsyncExitStack()
        client = await open_client("dynamodb", stack, session)
        return cls(client, table_name, stack, time_index)

    def _stored(self, item: Item) -> Item:
        """The item as this store writes it: in stream mode without a dayShard (pages list it)."""
        return item if self._paged else with_shard(item)

    async def put_once(self, item: Item) -> PutResult:
        from botocore.exceptions import ClientError

        try:
            await self._client.put_item(
                TableName=self._table,
                Item=encode_item(self._stored(item)),
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": AUDIT_TABLE.partition_key},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return Duplicate(decode_record(error.response.get("Item") or {}))
            raise
        return Inserted()

    async def replace_invalid(self, item: Item) -> bool:
        from botocore.exceptions import ClientError

        try:
            await self._client.put_item(
                TableName=self._table,
                Item=encode_item(self._stored(item)),  # its place in the time index, as put_once gives it
                ConditionExpression="#s = :invalid",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":invalid": {"S": "INVALID"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
        return None if raw is None else decode_record(raw)

    async def query(self, query: Query) -> list[Item]:
        if not (query.full and query.recipient is None):
            return await self._listing(query)
        # Whole records: `_whole` may leave out an entry (its record expired meanwhile, or a stale
        # entry at a moved record's old minute), so list more until `limit` records remain or the
        # index has no more: `--limit N` then shows N records whenever N exist. The listing at
        # least doubles each time: a lost batch's thousands of stale entries take a few passes.
        ask = query
        while True:
            listed = await self._listing(ask)
            records = await self._whole(listed)
            if len(records) >= query.limit or len(listed) < ask.limit:
                return records[: query.limit]
            ask = replace(ask, limit=max(2 * ask.limit, ask.limit + query.limit - len(records)))

    async def _listing(self, query: Query) -> list[Item]:
        """The newest `query.limit` index entries of the range that match, newest first."""
        since, until = query.window()
        span = (until.date() - since.date()).days + 1
        if span > MAX_RANGE_DAYS:  # before listing the days: a range from the year 1 would overflow
            raise StoreError(f"a time range may span at most {MAX_RANGE_DAYS} days, not {span}")
        days = _days_newest_first(since, until)
        index = await self.time_index()
        fanout = len(_partitions(index, "day"))
        found: list[Item] = []
        for start in range(0, len(days), PARALLEL_QUERIES):  # the client's pool caps requests in flight
            batch = days[start : start + PARALLEL_QUERIES]
            pages = await asyncio.gather(
                *(
                    self._read_partition(index, key, since, until, query)
                    for day in batch
                    for key in _partitions(index, day.isoformat())
                )
            )
            for n in range(len(batch)):  # days newest first, each day's shards merged newest first
                found += newest_first(item for page in pages[n * fanout : (n + 1) * fanout] for item in page)[
                    : query.limit
                ]
            if len(found) >= query.limit:
                break
        return found[: query.limit]

    async def _read_partition(
        self, index: IndexSpec, partition: str, since: datetime, until: datetime, query: Query
    ) -> list[Item]:
        if query.recipient is None:
            return await self._read_index(index, partition, since, until, limit=query.limit, match=query)
        return await self._read_recipient(index, partition, since, until, query)

    async def _read_recipient(
        self, index: IndexSpec, partition: str, since: datetime, until: datetime, query: Query
    ) -> list[Item]:
        """Whole records of one partition that name `query.recipient`, newest first, at most
        `query.limit`. The time index holds no recipients: each page of index items (up to 1 MB,
        some 4,500) has its records fetched (BatchGetItem) and matched here, so the cost is every
        record of the day read whole until the limit is reached, never the whole day in memory."""
        found: list[Item] = []
        async for page in self._index_pages(index, partition, since, until, match=query):
            # The index is eventually consistent already: a strongly consistent read of what it
            # names would double the cost of the dominant read and make nothing surer.
            records = await self._whole(page, consistent=False)
            found += [r for r in records if query.recipient in (r.get("recipients") or [])]
            if len(found) >= query.limit:
                break
        return found[: query.limit]

    async def tally(self, day: date) -> dict[TallyKey, Tally]:
        """Every partition of the day, each in 24 / partitions time slices: 24 queries in all, the
        day's records read in parallel whichever the index."""
        start, _ = utc_day_bounds(day)
        index = await self.time_index()
        partitions = _partitions(index, day.isoformat())
        windows = max(1, 24 // len(partitions))
        spans = [
            (
                start + timedelta(hours=24 * w // windows),
                start + timedelta(hours=24 * (w + 1) // windows, milliseconds=-1),
            )
            for w in range(windows)
        ]
        counts: dict[TallyKey, Tally] = {}
        slices = await _bounded(
            self._read_index(
                index,
                key,
                since,
                until,
                limit=None,
                projection=("status", "source", "direction", "eventType", "recipientCount"),
            )
            for key in partitions
            for since, until in spans
        )
        for items in slices:
            for item in items:
                key = tally_key(item)
                counts[key] = counts.get(key, Tally()) + Tally(1, int(item.get("recipientCount") or 0))
        return counts

    async def oldest_first(self, since: datetime, until: datetime, page: int) -> AsyncIterator[list[Item]]:
        """The time index read forward, day by day, its items fetched whole (BatchGetItem, eventually
        consistent like the index) `page` at a time, ordered by (receivedAt, key). Each of a day's
        partitions is read forward in runs of whole minutes, each sorted (see _index_pages), and the
        runs merged: only what no partition can still precede is passed on, so memory holds about
        one Query page (or one minute, if longer) per partition."""
        key = AUDIT_TABLE.partition_key
        index = await self.time_index()
        ready: list[Item] = []
        for day in reversed(_days_newest_first(since, until)):
            runs = [
                self._index_pages(
                    index,
                    p,
                    since,
                    until,
                    projection=(key, "receivedAt"),
                    forward=True,
                    page_items=self.index_page_items,
                )
                for p in _partitions(index, day.isoformat())
            ]
            buffers: list[list[Item]] = [[] for _ in runs]
            frontier: list[str | None] = [None for _ in runs]  # None: that partition is read out
            live = set(range(len(runs)))
            while True:
                for n in list(live):
                    if buffers[n]:
                        continue
                    try:
                        buffers[n] = await anext(runs[n])
                        frontier[n] = buffers[n][-1]["receivedAt"]
                    except StopAsyncIteration:
                        live.discard(n)
                        frontier[n] = None
                if not live and not any(buffers):
                    break
                # A live partition's later items come after its frontier: anything up to the lowest
                # frontier is final. With every partition read out, everything is.
                bound = min((str(frontier[n]) for n in live), default=None)
                out: list[Item] = []
                for n, buffer in enumerate(buffers):
                    cut = len(buffer) if bound is None else sum(1 for i in buffer if i["receivedAt"] <= bound)
                    out += buffer[:cut]
                    buffers[n] = buffer[cut:]
                ready += sorted(out, key=lambda i: (i["receivedAt"], i[key]))
                while len(ready) >= page:
                    records = await self._whole(ready[:page], consistent=False)
                    ready = ready[page:]
                    if records:
                        yield records
        for start in range(0, len(ready), page):
            records = await self._whole(ready[start : start + page], consistent=False)
            if records:
                yield records

    async def time_index(self) -> IndexSpec:
        """The index this store reads, chosen once: the sharded time index, or while it is missing
        or backfilling (a table being migrated) the unsharded one, which lists every record."""
        async with self._choosing:
            if self._time_index is None:
                self._time_index = await self._choose_index()
            return self._time_index

    async def _choose_index(self) -> IndexSpec:
        from botocore.exceptions import ClientError

        problems: list[str] = []
        for index in (TIME_INDEX, UNSHARDED_TIME_INDEX):
            try:  # one key that never holds a record: an empty answer, half a read unit
                await self._client.query(
                    TableName=self._table,
                    IndexName=index.name,
                    KeyConditionExpression="#p = :p",
                    ExpressionAttributeNames={"#p": index.partition_key},
                    ExpressionAttributeValues={":p": {"S": "-"}},
                    Limit=1,
                )
            except ClientError as error:
                problem = time_index_unavailable(error, self._table, index.name)
                if problem is None:
                    raise
                problems.append(problem)
                continue
            return index
        raise StoreError(problems[0])  # the sharded index's: the one every migration ends with

    async def purge_invalid(self, since: datetime, until: datetime, *, apply: bool) -> int:
        """Quarantined records (status INVALID) received in [since, until], found through the time
        index: counted, or deleted one by one, each delete conditional on the status still INVALID."""
        from botocore.exceptions import ClientError

        span = (until.date() - since.date()).days + 1
        if span > MAX_RANGE_DAYS:
            raise StoreError(f"a time range may span at most {MAX_RANGE_DAYS} days, not {span}")
        keys: list[str] = []
        index = await self.time_index()
        for day in _days_newest_first(since, until):
            for partition in _partitions(index, day.isoformat()):
                items = await self._read_index(
                    index,
                    partition,
                    since,
                    until,
                    limit=None,
                    projection=(AUDIT_TABLE.partition_key, "status"),
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
        index: IndexSpec,
        partition: str,
        since: datetime,
        until: datetime,
        *,
        limit: int | None,
        match: Query | None = None,
        projection: tuple[str, ...] | None = None,
    ) -> list[Item]:
        """Index entries of one partition (a day, or one shard of it) within [since, until], newest
        first; with `match`, only those its filters accept (matched here, after the dedupe)."""
        out: list[Item] = []
        async for page in self._index_pages(
            index, partition, since, until, limit=limit, match=match, projection=projection
        ):
            out += page
        return out if limit is None else out[:limit]

    async def _index_pages(
        self,
        index: IndexSpec,
        partition: str,
        since: datetime,
        until: datetime,
        *,
        limit: int | None = None,
        match: Query | None = None,
        projection: tuple[str, ...] | None = None,
        forward: bool = False,
        page_items: int | None = None,
    ) -> AsyncIterator[list[Item]]:
        """`_read_index` one Query page at a time, so a caller may stop early; `forward`: oldest
        first. Each list is whole minutes of the partition (see `_entries`), never empty: a Query
        page's last minute may go on in the next page, so it waits for it. `limit` counts entries."""
        key = AUDIT_TABLE.partition_key
        bounds = (iso_millis(since), iso_millis(until))
        names = {"#p": index.partition_key, "#s": index.sort_key}
        values: dict[str, Any] = {
            ":p": {"S": partition},
            ":a": {"S": minute_of(bounds[0])},  # a page of since's minute sorts before since
            ":b": {"S": bounds[1]},
        }
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.name,
            "KeyConditionExpression": "#p = :p AND #s BETWEEN :a AND :b",
            "ScanIndexForward": forward,
        }
        # The filters are matched in `_entries`, after `latest`, never by a FilterExpression: one
        # would drop a record's own index item that no longer matches while a stale page entry for
        # it passed whole and won; and DynamoDB reads what a filter drops all the same.
        filters = _filtered(match)
        if projection is not None:
            wanted = list(dict.fromkeys((key, index.partition_key, index.sort_key, *projection)))
            names.update({f"#a{n}": attribute for n, attribute in enumerate(wanted)})
            request["ProjectionExpression"] = ", ".join(f"#a{n}" for n in range(len(wanted)))
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        found, held = 0, list[Item]()
        while limit is None or found < limit:
            # With a filter, `Limit` caps what is read, not what matches: read in full pages. A held
            # minute asks for as many more, so a long minute takes few round trips.
            page = {} if limit is None or filters else {"Limit": limit - found + len(held)}
            if page_items is not None:
                page = {"Limit": min(page_items, page.get("Limit", page_items))}
            response = await self._query(request, page)
            held += [decode_record(raw) for raw in response.get("Items", [])]
            more = "LastEvaluatedKey" in response
            cut = len(held)
            if more and held:
                last = minute_of(str(held[-1]["receivedAt"]))
                while cut and minute_of(str(held[cut - 1]["receivedAt"])) == last:
                    cut -= 1
            entries = await self._entries(held[:cut], bounds, match, projection, forward)
            held = held[cut:]
            found += len(entries)
            if entries:
                yield entries
            if not more:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def _entries(
        self,
        items: list[Item],
        bounds: tuple[str, str],
        match: Query | None,
        projection: tuple[str, ...] | None,
        forward: bool,
    ) -> list[Item]:
        """What whole minutes of index items list: pages fetched and expanded (BatchGetItem,
        eventually consistent like the index), each minute's entries and per-record items deduped
        by key (`latest`), then matched and cut to [since, until] exactly, in the read's order."""
        key = AUDIT_TABLE.partition_key
        pages = await self._fetch([str(i[key]) for i in items if is_page(i)], consistent=False)
        keep = {
            key,
            "receivedAt",
            "receivedDay",
            *(TIME_INDEX_ATTRIBUTES if projection is None else projection),
        }
        out: list[Item] = []
        for _, group in itertools.groupby(items, key=lambda i: minute_of(str(i["receivedAt"]))):
            listed: list[Item] = []
            for item in group:
                if not is_page(item):
                    listed.append(item)
                elif str(item[key]) in pages:  # else it expired meanwhile
                    listed += expand(decode_item(pages[str(item[key])]))
            # A tombstone and an entry of one change (a record moved within its minute) share a
            # version: tombstones go first, so on a tie `latest` keeps the entry, the later one.
            listed.sort(key=lambda i: not i.get(GONE))
            for item in latest(listed, now=time.time()):
                if bounds[0] <= str(item["receivedAt"]) <= bounds[1] and _accepts(item, match):
                    out.append({k: v for k, v in item.items() if k in keep})
        return sorted(out, key=lambda i: (i["receivedAt"], i[key])) if forward else newest_first(out)

    async def _query(self, request: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = await self._client.query(**request, **page)
        except ClientError as error:
            problem = time_index_unavailable(error, self._table, request["IndexName"])
            if problem is not None:
                self._time_index = None  # the table changed (a migration's deploy): choose again next read
                raise StoreError(problem) from error
            raise
        return response

    async def _whole(self, found: list[Item], consistent: bool = True) -> list[Item]:
        """Whole records for index items, in the same order. One expired meanwhile is gone; one
        whose receivedAt is not the listed one's is left out too: a page entry left at a record's
        old minute (its move's batch failed) must not list or export the record a second time."""
        key = AUDIT_TABLE.partition_key
        records = await self._fetch([str(item[key]) for item in found], consistent)
        out = []
        for item in found:
            raw = records.get(str(item[key]))
            record = None if raw is None else decode_record(raw)
            if record is not None and item.get("receivedAt") in (None, record.get("receivedAt")):
                out.append(record)
        return out

    async def _fetch(self, keys: list[str], consistent: bool) -> dict[str, dict[str, Any]]:
        """Items by key, undecoded (BatchGetItem, 100 keys a request, PARALLEL_QUERIES requests at
        a time); a key with no item is left out."""
        name = AUDIT_TABLE.partition_key
        items: dict[str, dict[str, Any]] = {}

        async def batch(chunk: list[str]) -> None:
            pending: dict[str, Any] = {
                self._table: {"Keys": [{name: {"S": k}} for k in chunk], "ConsistentRead": consistent}
            }
            while pending:
                response = await self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._table, []):
                    items[raw[name]["S"]] = raw
                pending = response.get("UnprocessedKeys") or {}

        unique = list(dict.fromkeys(keys))
        await _bounded(batch(unique[n : n + BATCH_GET_KEYS]) for n in range(0, len(unique), BATCH_GET_KEYS))
        return items

    async def close(self) -> None:
        await self._exit_stack.aclose()


def time_index_unavailable(error: Exception, table: str, name: str = TIME_INDEX.name) -> str | None:
    """What to tell a reader when the time index cannot answer yet: a table made by an older
    version has no such index until its migration adds it, and a new index backfills first."""
    response = getattr(error, "response", {}) or {}
    details = response.get("Error", {})
    if details.get("Code") != "ValidationException":
        return None
    message = str(details.get("Message", ""))
    if "backfilling" in message:
        return (
            f"the time index {name} of table {table} is still being built (it backfills after it is "
            "added, minutes to hours by table size); listings and lookups answer once it is ACTIVE: "
            f"aws dynamodb describe-table --table-name {table} "
            f"--query \"Table.GlobalSecondaryIndexes[?IndexName=='{name}'].IndexStatus\""
        )
    if "does not have the specified index" in message:
        fallback = "" if name == UNSHARDED_TIME_INDEX.name else f" (nor {UNSHARDED_TIME_INDEX.name})"
        return (
            f"table {table} has no time index {name}{fallback}: it was created by an older version "
            "(indexes byMessageId, bySender, byDay); "
            "add the index as docs/deploy.md says, section 'Migrating a table that has the three old "
            "indexes'"
        )
    return None


def _filtered(match: Query | None) -> bool:
    """Whether the read has any of the filters `_accepts` applies."""
    if match is None:
        return False
    wanted = (match.message_id, match.sender, match.source, match.event_type, match.status)
    return any(value is not None for value in wanted)


def _accepts(item: Item, match: Query | None) -> bool:
    """Query's message-ID, sender, source, event type and status filters on what the time index
    holds (collector/store/schema.py), for a record's own index item or a page entry alike (neither
    holds None values); a record without a source is WorkMail's, as on SQLite."""
    if match is None:
        return True
    source = item.get("source")
    return all(
        wanted is None or item.get(name) == wanted
        for name, wanted in (
            ("messageId", match.message_id),
            ("sender", match.sender),
            ("eventType", match.event_type),
            ("status", match.status),
        )
    ) and (match.source is None or source == match.source or (match.source == "WorkMail" and source is None))


def _partitions(index: IndexSpec, day: str) -> list[str]:
    """The time-index partition keys of one UTC day."""
    return day_shards(day) if index.partition_key == SHARD_ATTRIBUTE else [day]


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
