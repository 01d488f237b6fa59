"""The failure queue keeps what a sync invocation could not record, whatever its characters.

Against moto's SQS over real HTTP: a WorkMail summary near its 128 KB limit written in CJK and emoji
fits the 256 KiB message (ASCII escapes doubled it, past the limit: the event was lost), and
what SQS refuses (U+FFFE, U+FFFF, lone surrogates) is escaped, then read back exactly by replay's
reader, NaN and Infinity included (orjson would have written null).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from collector.failure_queue import SQS_MESSAGE_LIMIT, FailureQueue
from collector.jsonutil import loads
from collector.model import Invocation
from collector.sampling import generate_events

SUMMARY_LIMIT = 128 * 1024  # WorkMail truncates the recipient list past it


def cjk_summary() -> dict[str, Any]:
    """An event whose recipients (internationalized addresses) fill the summary to its limit."""
    event = generate_events(seed=3)[0]
    recipients: list[dict[str, str]] = []
    size = 0
    while size < SUMMARY_LIMIT - 2048:
        address = f"{'会議室📅予約担当者😀' * 4}{len(recipients)}@例え.jp"  # SMTPUTF8 allows any UTF-8
        recipients.append({"address": address})
        size += len(address.encode()) + 16
    event["envelope"]["recipients"] = recipients
    return event


def put_and_read(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, raw: object) -> tuple[int, Any]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    url = sqs.create_queue(QueueName=f"failures-{abs(hash(str(raw))) % 10**8}")["QueueUrl"]
    invocation = Invocation("sync-1", "1", datetime(2026, 12, 1, tzinfo=UTC))

    async def put() -> None:
        queue = await FailureQueue.open(url)
        try:
            await queue.put(raw, invocation, "BudgetExceeded", "the store did not answer in time")
        finally:
            await queue.close()

    asyncio.run(put())
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = message["Body"]
    return len(body.encode()), loads(body)


def test_a_summary_near_its_limit_in_cjk_fits_one_message(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = cjk_summary()
    size, record = put_and_read(moto_endpoint, monkeypatch, raw)
    assert size <= SQS_MESSAGE_LIMIT
    assert record["requestPayload"] == raw


def test_what_sqs_refuses_is_escaped_and_read_back_exactly(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = generate_events(seed=4)[0]
    raw["subject"] = "lone \ud83d, \ufffe and \uffff, 😀 and 会"
    raw["note"] = [2**100, float("inf"), float("-inf")]  # the runtime accepts Infinity and NaN
    raw["ratio"] = float("nan")
    _, record = put_and_read(moto_endpoint, monkeypatch, raw)
    kept = record["requestPayload"]
    assert math.isnan(kept.pop("ratio")) and kept == {k: v for k, v in raw.items() if k != "ratio"}
