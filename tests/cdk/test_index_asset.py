"""The index consumer as Lambda runs it: the collector's asset (its x86_64 twin, same lock and
recipe), Python 3.13, nothing else on the path, handed the real stream of a table on DynamoDB
Local; its pages land in the table and its late markers in S3 on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cdk.asset import LOCAL_PLATFORM, build_asset, find_runtime_python
from collector.store.dynamodb import encode_item
from collector.trail import late
from tests.cdk.support import LAMBDA_ENV, run_probe
from tests.test_index_handler import page_items, record, stream_event, stream_table
from tests.trail_support import new_bucket

pytestmark = pytest.mark.dynamodb
DAY = (datetime.now(UTC) - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def test_the_consumer_runs_from_the_asset_and_pages_a_real_stream(
    dynamodb_local: str, moto_endpoint: str
) -> None:
    python = find_runtime_python()
    assert python is not None, "no Python 3.13 here"
    asset = build_asset(platform=LOCAL_PLATFORM)  # built by scripts/test.sh
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_local, region_name="us-east-1")
    table = stream_table(dynamodb)
    for n in range(3):
        dynamodb.put_item(TableName=table, Item=encode_item(record(n, DAY + timedelta(seconds=n))))
    s3, bucket = new_bucket(moto_endpoint)
    env = {
        **LAMBDA_ENV,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": "WorkMailCollector-IndexFunction",
        "COLLECTOR_TABLE_NAME": table,
        "COLLECTOR_TRAIL_BUCKET": bucket,
    }
    spec = {
        "scenario": "entry",
        "module": "collector.index_handler",
        "asset": str(asset),
        "event": stream_event(dynamodb, table, dynamodb_local),
    }
    report = run_probe(python, spec, env)
    written = page_items(dynamodb, table)
    assert report["answer"] == {"records": 3, "entries": 3, "pages": len(written), "marked": len(written)}
    answer = s3.list_objects_v2(Bucket=bucket, Prefix=late.LATE_PREFIX)
    assert sorted(o["Key"] for o in answer["Contents"]) == sorted(
        late.marker_key(DAY.date().isoformat(), k) for k in written
    )
