"""A backfill stopped by the time budget has written a day's first parts and deleted the objects
they replace; the day is outside the schedule's window, so nothing continues it but the next
event. The answer carries that event (`continue_event`) and a WARNING line names it; following
it until an answer has none gives every record once, as one uninterrupted run does. Real parts:
the Lambda handler, SQLite, S3 on moto's server."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from collector.store.sqlite import SqliteStore
from collector.trail import layout
from collector.trail.s3 import TRAIL_PREFIX
from collector.trail_handler import BUDGET_MARGIN, handler
from tests.conftest import run

DAY, NEXT = date(2026, 3, 1), date(2026, 3, 2)


class Context:
    """Lambda's context: time for `parts` part starts, then less than the margin."""

    def __init__(self, parts: int) -> None:
        self.left = parts

    def get_remaining_time_in_millis(self) -> int:
        self.left -= 1
        return 15 * 60_000 if self.left >= 0 else int(BUDGET_MARGIN.total_seconds() * 1000) - 1


def _seed(db: Path) -> list[str]:
    async def go() -> list[str]:
        store = SqliteStore(db)
        keys = []
        try:
            for day, count in ((DAY, 8), (NEXT, 3)):
                for n in range(count):
                    key = f"{day}-{n}"
                    await store.put_once(
                        {
                            "invocationId": key,
                            "receivedAt": f"{day}T{n * 3:02d}:00:00.000Z",
                            "receivedDay": str(day),
                            "status": "RECORDED",
                        }
                    )
                    keys.append(key)
        finally:
            await store.close()
        return keys

    return run(go())


def _ids(s3: Any, bucket: str) -> list[str]:
    found = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=TRAIL_PREFIX).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        found += pq.read_table(io.BytesIO(body)).column("invocation_id").to_pylist()
    return sorted(found)


def test_a_stopped_backfill_names_the_event_to_invoke_next_and_following_it_ends_whole(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"continue-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    db = tmp_path / "audit.sqlite3"
    keys = _seed(db)
    for name, value in {
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "COLLECTOR_STORE": "sqlite",
        "COLLECTOR_SQLITE_PATH": str(db),
        "COLLECTOR_TRAIL_BUCKET": bucket,
    }.items():
        monkeypatch.setenv(name, value)
    assert handler({"first_day": str(DAY), "last_day": str(NEXT)}, None)["continue_event"] is None
    assert _ids(s3, bucket) == sorted(keys)  # one object a day (PART_ROWS is a million)

    monkeypatch.setattr(layout, "PART_ROWS", 3)  # the days are big now: DAY is 3 parts
    event: dict[str, Any] | None = {"first_day": str(DAY), "last_day": "2026-03-03", "force": True}
    answers: list[dict[str, Any]] = []
    with caplog.at_level(logging.WARNING, logger="workmail_collector"):
        while event is not None and len(answers) < 10:
            answer = handler(event, Context(parts=2))
            answers.append(answer)
            event = answer["continue_event"]
    assert [(a["continue_day"], a["first_time"]) for a in answers] == [
        (str(DAY), "15:01"),  # parts 00:00-06:00 and 06:01-15:00 written, the rest not yet
        ("2026-03-03", "00:00"),  # DAY's last part and NEXT's one, then out of time
        (None, None),
    ]
    assert answers[0]["continue_event"] == {
        "first_day": str(DAY),
        "first_time": "15:01",
        "last_day": "2026-03-03",  # the event's, as it asked
        "force": True,
    }
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert json.dumps(answers[0]["continue_event"], separators=(",", ":")) in warned[0]
    assert "2026-03-01 from 15:01" in warned[0]
    assert _ids(s3, bucket) == sorted(keys)  # every record once, both days whole
