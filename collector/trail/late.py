"""Late markers: a day the trail may already hold gets a marker when records of it reach the index.

With the index written from the table's stream (collector/store/pages.py), a record reaches the time
index when the index consumer pages it: seconds after its write, or hours after if the consumer was
failing. The exporter writes a day once, FINAL_AFTER after it ends (collector/trail_handler.py).
So the consumer, when it pages records of a day that ended MARK_AFTER ago or more, leaves an empty
object `late/day=YYYY-MM-DD/<page key>` in the trail bucket; the exporter's hourly run lists
`late/` (one LIST), exports each marked day again from 00:00 and deletes the markers it listed
before it began, so a marker left during the export is seen by the next run. Markers live outside
`trail/`, so Athena never reads them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from collector.clock import parse_day

LATE_PREFIX = "late/"
# Pages of a day written this long after it ended may come after the exporter read it (it starts
# FINAL_AFTER, 15 minutes, after the day's end): a margin below that, for the index's own lag.
MARK_AFTER = timedelta(minutes=5)
# A marker is acted on once it is this old: the consumer writes it after its page, and the time
# index (a global secondary index) lists the page a moment later; a read that began in between
# would miss the page and still clear the marker. The next hourly run takes a younger marker.
SETTLE = timedelta(minutes=5)
DELETE_KEYS = 1000  # DeleteObjects' own limit


def needs_mark(day: str, now: datetime) -> bool:
    """Whether records of `day` paged at `now` may be missing from a trail export already made."""
    end = datetime.combine(parse_day(day) + timedelta(days=1), time(), now.tzinfo)
    return now >= end + MARK_AFTER


def marker_key(day: str, token: str) -> str:
    return f"{LATE_PREFIX}day={day}/{quote(token, safe='')}"


async def mark(client: Any, bucket: str, day: str, token: str) -> None:
    """One empty object per page written late (`token`: the page's key), so a retried batch
    rewrites its own marker instead of adding one."""
    await client.put_object(Bucket=bucket, Key=marker_key(day, token), Body=b"")


async def marked(client: Any, bucket: str, *, settled: bool = False) -> dict[date, list[str]]:
    """Every marker, by day: the object keys, for `clear` once the day is exported again; with
    `settled`, only those written SETTLE or longer ago (S3's clock, LastModified)."""
    young = datetime.now(UTC) - SETTLE
    found: dict[date, list[str]] = {}
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=LATE_PREFIX):
        for entry in page.get("Contents", []):
            key = str(entry["Key"])
            written = entry.get("LastModified")
            if settled and isinstance(written, datetime) and written > young:
                continue
            folder = key[len(LATE_PREFIX) :].split("/", 1)[0]
            if not folder.startswith("day="):
                continue
            try:
                day = parse_day(folder[len("day=") :])
            except ValueError:
                continue
            found.setdefault(day, []).append(key)
    return found


async def clear(client: Any, bucket: str, keys: list[str]) -> None:
    """Delete the markers a finished export answered (DeleteObjects, 1,000 keys a request)."""
    for start in range(0, len(keys), DELETE_KEYS):
        chunk = keys[start : start + DELETE_KEYS]
        response = await client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} late marker(s), first {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
