"""The harness under every benchmark report: the two handlers, their tables in DynamoDB Local, the
deliveries, one handler in one fresh child process behind the counting proxy.

Nothing here imports a report (run, coldstart, variants, emitted, bill, ...): they all build on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.dynamodb_local import ROOT

FUNCTION_NAME = "workmail-collector-bench"
NAMESPACE = "WorkMailCollector"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class Handler:
    name: str
    module: str
    label: str


OURS = Handler("ours", "collector.handler", "workmail-collector")
BASELINE = Handler("baseline", "bench.baseline_handler", "Powertools baseline")


def build_deliveries(count: int, duplicate_share: float, seed: int) -> list[dict[str, Any]]:
    """`count` deliveries: unique events in a realistic mix, plus byte-identical redeliveries placed
    at random later positions. Each entry is {"event": ..., "first": bool}."""
    from collector.sampling import generate_events

    rng = random.Random(seed)
    redeliveries = round(count * duplicate_share)
    unique: list[dict[str, Any]] = []
    for n in range(count - redeliveries):
        unique += generate_events(
            count=1,
            seed=seed * 1_000_003 + n,
            direction="OUTBOUND" if rng.random() < 0.3 else "INBOUND",
            recipients=rng.choice((1, 1, 2, 2, 3, 5, 8)),
            truncated=rng.random() < 0.02,
            layout="flat" if rng.random() < 0.1 else "envelope",
        )
    order: list[tuple[int, bool]] = [(n, True) for n in range(len(unique))]
    for _ in range(redeliveries):
        source = rng.randrange(len(unique))
        position = next(i for i, (n, first) in enumerate(order) if n == source and first)
        order.insert(rng.randint(position + 1, len(order)), (source, False))
    return [{"event": unique[n], "first": first} for n, first in order]


# --- DynamoDB Local tables and checks (boto3, straight to DynamoDB Local) ---------------------------


def dynamodb_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **_boto_credentials())


def _boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def create_audit_table(client: Any, prefix: str = "audit") -> str:
    from collector.store.schema import AUDIT_TABLE

    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    client.create_table(**AUDIT_TABLE.create_table_request(name))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return name


def create_idempotency_table(client: Any) -> str:
    """The table Powertools' DynamoDBPersistenceLayer documents: partition key `id`, TTL `expiration`."""
    name = f"idempotency-{uuid.uuid4().hex[:10]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )
    return name


def scan_items(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return items


def index_count(client: Any, table: str, item: dict[str, Any]) -> int:
    """How many global secondary indexes this item appears in (it needs all their key attributes)."""
    description = client.describe_table(TableName=table)["Table"]
    return sum(
        all(key["AttributeName"] in item for key in index["KeySchema"])
        for index in description.get("GlobalSecondaryIndexes", [])
    )


# --- one child process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the children's DynamoDB requests go (the counting proxy) and how they read its counts."""

    endpoint: str  # DynamoDB Local itself: tables and checks, never counted
    proxy_url: str  # AWS_ENDPOINT_URL in the children
    control_port: int  # the proxy's plain-HTTP port for GET /__proxy/counts
    ca_bundle: Path | None  # AWS_CA_BUNDLE in the children when the proxy speaks HTTPS
    memory_mb: int = 256


def child_env(handler: Handler, target: Target, tables: dict[str, str]) -> dict[str, str]:
    """The variables Lambda sets for a function, plus each handler's own configuration."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONPATH": str(ROOT),
        **CREDENTIALS,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": target.proxy_url,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(target.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "LAMBDA_TASK_ROOT": str(ROOT),
    }
    if target.ca_bundle is not None:
        env["AWS_CA_BUNDLE"] = str(target.ca_bundle)
    if handler is OURS:
        env.update(
            COLLECTOR_STORE="dynamodb", COLLECTOR_TABLE_NAME=tables["audit"], COLLECTOR_NAMESPACE=NAMESPACE
        )
    else:
        env.update(
            POWERTOOLS_METRICS_NAMESPACE=NAMESPACE,
            POWERTOOLS_SERVICE_NAME=FUNCTION_NAME,
            AUDIT_TABLE_NAME=tables["audit"],
            IDEMPOTENCY_TABLE_NAME=tables["idempotency"],
        )
    return env


def run_child(
    handler: Handler,
    deliveries_path: Path,
    workdir: Path,
    control_port: int,
    env: dict[str, str],
    python_flags: tuple[str, ...] = (),
    cwd: Path = ROOT,
    command: list[str] | None = None,
    extra_spec: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bytes, bytes]:
    """Run bench.child; return its report, its stdout (EMF) and its stderr.

    `python -m` puts the working directory first on sys.path: `cwd` decides which collector/ loads.
    `command` replaces `python -m bench.child` (the asset runs: another interpreter, the file path).
    """
    tag = f"{handler.name}-{uuid.uuid4().hex[:6]}"
    spec: dict[str, Any] = {
        "name": handler.name,
        "module": handler.module,
        "deliveries": str(deliveries_path),
        "proxy_port": control_port,
        "report": str(workdir / f"{tag}.report.json"),
        **(extra_spec or {}),
    }
    spec_path = workdir / f"{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    stdout_path, stderr_path = workdir / f"{tag}.stdout", workdir / f"{tag}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        code = subprocess.call(
            [*(command or [sys.executable, *python_flags, "-m", "bench.child"]), str(spec_path)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            timeout=1800,
        )
    stderr = stderr_path.read_bytes()
    if code != 0:
        raise SystemExit(f"{handler.label} child failed ({code}):\n{stderr.decode(errors='replace')[-4000:]}")
    report: dict[str, Any] = json.loads(Path(spec["report"]).read_text())
    return report, stdout_path.read_bytes(), stderr


def metric_sums(lines: list[str]) -> Counter[str]:
    """Sum every metric over EMF documents (Powertools may write a value as a list)."""
    sums: Counter[str] = Counter()
    for line in lines:
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                sums[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return sums


def create_tables(handler: Handler, client: Any) -> dict[str, str]:
    """Fresh tables for one run: the audit table, and Powertools' idempotency table for the baseline."""
    tables = {"audit": create_audit_table(client)}
    if handler is BASELINE:
        tables["idempotency"] = create_idempotency_table(client)
    return tables


@contextlib.contextmanager
def proxied(endpoint: str, workdir: Path, memory_mb: int, plain_http: bool) -> Iterator[Target]:
    """The counting proxy in front of DynamoDB Local, over HTTPS unless `plain_http`."""
    from bench.proxy import running_proxy
    from bench.tls import make_tls

    tls = None if plain_http else make_tls(workdir)
    with running_proxy(endpoint, tls=tls.context if tls else None) as proxy:
        yield Target(endpoint, proxy.url, proxy.control_port, tls.ca_bundle if tls else None, memory_mb)
