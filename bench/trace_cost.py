"""What one message trace search costs on DynamoDB: read units, dollars and Lambda time, per key.

Measured here: the mean size of a whole audit record and of its time-index copy, on real audit
items (collector.audit.record_item on generated WorkMail events, as bench/lookup.py seeds them),
and the widget function's wall time for one search of one day against DynamoDB Local (its timings
are its own, not DynamoDB's: read it as a ratio, recipient against sender, in the same run).

Modelled for every size, as the store reads (collector/store/dynamodb.py):

* by message ID or sender: a filtered Query of each day in range, which reads every index item of
  the day (eventually consistent: half a unit per 4 KB), then BatchGetItem of the page's matches
  (strongly consistent: one unit per started 4 KB of each record);
* by recipient: the same index reads, plus every record of the day read whole by BatchGetItem
  (eventually consistent, like the index: half a unit per started 4 KB), since the index holds no
  recipients.

`python -m bench.trace_cost` prints the table; no AWS account.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.billing import index_item
from bench.cost import item_size, query_read_units
from bench.prices import DYNAMODB_IA_READ_UNITS, LAMBDA_ARM64_GB_SECOND, LAMBDA_REQUESTS

SAMPLE = 1_000
MEMORY_GB = 256 / 1024
PAGE = 50  # records a widget page shows
VOLUMES = (100, 1_000, 10_000)  # messages a day
RANGES = (1, 7, 30)  # days a search covers


def sample_items(count: int = SAMPLE) -> list[dict[str, Any]]:
    """Real audit items, DynamoDB-encoded, received over one day."""
    from collector.audit import record_item
    from collector.events.workmail import parse
    from collector.model import Invocation, MailEvent
    from collector.redaction import Redactor
    from collector.sampling import generate_events
    from collector.store.dynamodb import encode_item

    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    items = []
    for n, event in enumerate(generate_events(count=count, recipients=2, seed=17)):
        parsed = parse(event)
        assert isinstance(parsed, MailEvent)
        received = start + timedelta(seconds=86_399 * n / count)
        invocation = Invocation(str(uuid.uuid4()), "$LATEST", received)
        items.append(encode_item(record_item(parsed, invocation, 365, Redactor(None))))
    return items


def sizes(items: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean bytes of a whole record and of its time-index copy."""
    from collector.store.schema import TIME_INDEX

    copies = [index_item(item, TIME_INDEX) for item in items]
    return statistics.fmean(item_size(i) for i in items), statistics.fmean(
        item_size(c) for c in copies if c is not None
    )


def read_units(key: str, per_day: int, days: int, record_bytes: float, index_bytes: float) -> float:
    index = days * query_read_units(per_day * index_bytes)
    started = math.ceil(record_bytes / 4096)  # each record is billed per started 4 KB
    if key == "recipient":
        return index + days * per_day * started / 2  # eventually consistent, like the index
    return index + PAGE * started  # at most a page of matches, strongly consistent


async def widget_seconds(items: list[dict[str, Any]]) -> dict[str, float]:
    """Wall time of the widget's answer for one day's search, each key, against DynamoDB Local."""
    import os

    from bench.dynamodb_local import dynamodb_local
    from collector.store.dynamodb import DynamoDbStore, create_table, decode_item
    from collector.trace_widget import SEARCH_FAILED, answer

    with dynamodb_local() as endpoint:
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        table = f"trace-{uuid.uuid4().hex[:8]}"
        await create_table(table)
        store = await DynamoDbStore.open(table)
        try:
            for start in range(0, len(items), 50):
                await asyncio.gather(*(store.put_once(decode_item(i)) for i in items[start : start + 50]))
        finally:
            await store.close()
        env = {"COLLECTOR_STORE": "dynamodb", "COLLECTOR_TABLE_NAME": table}
        now = datetime.now(UTC)
        window = {
            "start": int((now - timedelta(days=1)).timestamp() * 1000),
            "end": int(now.timestamp() * 1000),
        }
        sender = items[0]["sender"]["S"]
        recipient = items[0]["recipients"]["L"][0]["S"]
        out = {}
        for key, value in (
            ("sender", sender),
            ("recipient", "nobody@example.com"),
            ("recipient-hit", recipient),
        ):
            event = {
                "widgetContext": {"timeRange": window, "params": {"limit": PAGE}},
                "key": key.removesuffix("-hit"),
                "value": value,
            }
            await answer(
                event, "arn:aws:lambda:us-east-1:123456789012:function:t", env, time.monotonic() + 60
            )
            began = time.perf_counter()
            shown = await answer(
                event, "arn:aws:lambda:us-east-1:123456789012:function:t", env, time.monotonic() + 60
            )
            out[key] = time.perf_counter() - began
            if SEARCH_FAILED in shown:  # the widget answers a failure as a page: never time one
                raise RuntimeError(f"the {key} search failed: {shown}")
        return out


def report() -> list[str]:
    items = sample_items()
    record_bytes, index_bytes = sizes(items)
    lines = [
        f"# Message trace: what a search reads (bench/trace_cost.py; {SAMPLE} real audit items)",
        "",
        f"whole record {record_bytes:.0f} B on average, its time-index copy {index_bytes:.0f} B",
        "",
        "| messages/day | days searched | by message ID or sender: read units, USD"
        " | by recipient: read units, USD | ratio |",
        "|---:|---:|---:|---:|---:|",
    ]
    price = DYNAMODB_IA_READ_UNITS.usd / 1e6
    for per_day in VOLUMES:
        for days in RANGES:
            keyed = read_units("sender", per_day, days, record_bytes, index_bytes)
            recipient = read_units("recipient", per_day, days, record_bytes, index_bytes)
            lines.append(
                f"| {per_day:,} | {days} | {keyed:,.0f}, ${keyed * price:.6f} | "
                f"{recipient:,.0f}, ${recipient * price:.6f} | {recipient / keyed:.1f}x |"
            )
    seconds = asyncio.run(widget_seconds(items))
    lines += [
        "",
        f"widget answer, one day of {SAMPLE} records on DynamoDB Local (warm): "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in seconds.items())
        + f"; recipient/sender {seconds['recipient'] / seconds['sender']:.1f}x",
        f"Lambda per widget call: ${LAMBDA_REQUESTS.usd / 1e6:.7f} a request + "
        f"${LAMBDA_ARM64_GB_SECOND.usd * MEMORY_GB:.8f} a second at 256 MB (arm64)",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(report()))
