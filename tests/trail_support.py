"""What the exporter's tests on DynamoDB Local and moto share: a bucket, a deployment (table,
bucket and the exporter's environment) and events recorded through the real pipeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import boto3

from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.sampling import iter_events
from tests.conftest import Backend, make_table

Deployment = tuple[dict[str, str], Any, Backend]


def new_bucket(moto_endpoint: str, object_lock: bool = False) -> tuple[Any, str]:
    """An S3 client on moto and a bucket of its own (Object Lock also turns versioning on)."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    if object_lock:
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=bucket)
    return s3, bucket


def deployment(dynamodb_local: str, moto_endpoint: str, *, export_days: int, object_lock: bool) -> Deployment:
    """A table on DynamoDB Local, a bucket on moto, and the exporter's environment; the caller points
    the SDK at both (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3)."""
    table = make_table(dynamodb_local)
    s3, bucket = new_bucket(moto_endpoint, object_lock)
    env = {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": table,
        "COLLECTOR_TRAIL_BUCKET": bucket,
        "COLLECTOR_TRAIL_EXPORT_DAYS": str(export_days),
    }
    return env, s3, Backend("dynamodb-local", Settings(store="dynamodb", table_name=table), dynamodb_local)


async def process(
    backend: Backend, moments: list[datetime], seed_: int = 8, direction: str = "OUTBOUND"
) -> list[str]:
    """One generated event recorded at each moment, through the pipeline; their keys."""
    store = await backend.open()
    try:
        pipeline = Pipeline(store, EmfWriter("T", "trail-test", lambda _line: None), backend.settings)
        events = iter_events(count=len(moments), direction=direction, recipients=1, seed=seed_)
        keys = []
        for n, (event, at) in enumerate(zip(events, moments, strict=True)):
            await pipeline.process(event, Invocation(f"p{seed_}-{n}", "1", at))
            keys.append(str(event["invocationId"]))
        return keys
    finally:
        await store.close()
