"""The exporter as Lambda runs it: the collector's asset and the pyarrow layer (their x86_64 twins,
same locks and recipe), Python 3.13, nothing else on the path, against DynamoDB Local and S3 on
moto. Its object is byte for byte what a local export of the same records writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cdk.asset import LOCAL_PLATFORM, build_asset, find_runtime_python
from cdk.trail_layer import build_layer
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.sampling import iter_events
from collector.sampling_ses import iter_ses_events
from collector.store.dynamodb import DynamoDbStore
from collector.trail.export import FolderSink, export
from collector.trail.layout import part_key
from collector.trail.s3 import TRAIL_PREFIX
from tests.cdk.support import LAMBDA_ENV, run_probe
from tests.conftest import make_table, run
from tests.trail_support import new_bucket

pytestmark = pytest.mark.dynamodb
DAY = (datetime.now(UTC) - timedelta(days=3)).date()


async def seed(table: str, folder: Path) -> None:
    store = await DynamoDbStore.open(table)
    try:
        settings = Settings(store="dynamodb", table_name=table)
        pipeline = Pipeline(store, EmfWriter("T", "trail-probe", lambda _line: None), settings)
        events: list[Any] = [
            *iter_events(count=4, direction="INBOUND", recipients=2, seed=31),
            *iter_ses_events(count=2, event="bounce", recipients=1, via="sns", seed=32),
            {"flowDirection": "INBOUND", "note": "invalid"},
        ]
        for n, event in enumerate(events):
            moment = datetime(DAY.year, DAY.month, DAY.day, 9, n, tzinfo=UTC)
            await pipeline.process(event, Invocation(f"r{n}", "1", moment))
        await export(store, FolderSink(folder), DAY, DAY)  # what `workmail-collector export` writes
    finally:
        await store.close()


def test_the_exporter_runs_from_its_asset_and_layer_and_writes_a_local_exports_bytes(
    dynamodb_local: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    python = find_runtime_python()
    assert python is not None, "no Python 3.13 here"
    asset = build_asset(platform=LOCAL_PLATFORM)  # both built by scripts/test.sh
    layer = build_layer(platform=LOCAL_PLATFORM) / "python"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    table = make_table(dynamodb_local)
    run(seed(table, tmp_path))
    local = tmp_path / part_key(DAY, 0, 1439)
    s3, bucket = new_bucket(moto_endpoint)
    env = {
        **LAMBDA_ENV,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": "WorkMailCollector-TrailFunction",
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": table,
        "COLLECTOR_TRAIL_BUCKET": bucket,
        "COLLECTOR_TRAIL_EXPORT_DAYS": "3",
    }
    spec = {
        "scenario": "entry",
        "module": "collector.trail_handler",
        "asset": str(asset),
        "paths": [str(layer)],
        "event": {"first_day": DAY.isoformat()},
    }
    report = run_probe(python, spec, env)
    assert report["answer"]["rows"] == 7 and report["answer"]["written"] == 1
    body = s3.get_object(Bucket=bucket, Key=TRAIL_PREFIX + part_key(DAY, 0, 1439))["Body"].read()
    assert body == local.read_bytes()
