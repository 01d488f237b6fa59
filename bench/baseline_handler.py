"""The baseline: the handler a competent user writes with Powertools for AWS Lambda (Python).

Idempotency keyed on `invocationId` through Powertools' `idempotent` decorator and its DynamoDB
persistence layer (its own table, key `id`), Powertools `Metrics` for EMF with the collector's metric
names and a `FlowDirection` dimension, and one boto3 `put_item` for an audit record with roughly
the collector's attributes. One boto3 client is shared by the persistence layer and the audit
write (a competent user's economy; two clients would only slow the baseline's cold start).

Configuration, as on Lambda: POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME,
AUDIT_TABLE_NAME, IDEMPOTENCY_TABLE_NAME (AWS_ENDPOINT_URL points the SDK at DynamoDB Local).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config

PASS_THROUGH: dict[str, Any] = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
RETENTION = timedelta(days=365)

metrics = Metrics()
dynamodb = boto3.client(
    "dynamodb",
    config=Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5),
)
serializer = TypeSerializer()
AUDIT_TABLE = os.environ["AUDIT_TABLE_NAME"]
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto3_client=dynamodb)


def count_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """Powertools calls this instead of the handler when the key was already processed."""
    metrics.add_metric(name="DuplicateInvocations", unit=MetricUnit.Count, value=1)
    return response


config = IdempotencyConfig(
    event_key_jmespath="invocationId",
    expires_after_seconds=6 * 3600,  # Lambda's longest asynchronous event age
    response_hook=count_duplicate,
)


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_dimension(name="FlowDirection", value=str(event.get("flowDirection") or "UNKNOWN"))
    result: dict[str, Any] = record(event, context)
    return result


@idempotent(config=config, persistence_store=persistence)
def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    envelope = event.get("envelope") or event
    recipients = [r["address"] for r in envelope.get("recipients", [])]
    now = datetime.now(UTC)
    item: dict[str, Any] = {
        "invocationId": event["invocationId"],
        "status": "RECORDED",
        "messageId": event["messageId"],
        "direction": event.get("flowDirection", "UNKNOWN"),
        "sender": (event.get("sender") or {}).get("address"),
        "mailFrom": (envelope.get("mailFrom") or {}).get("address"),
        "recipients": recipients,
        "recipientCount": len(recipients),
        "subject": event.get("subject"),
        "truncated": bool(event.get("truncated", False)),
        "summaryVersion": event.get("summaryVersion"),
        "layout": "envelope" if "envelope" in event else "flat",
        "receivedAt": now.isoformat(timespec="milliseconds"),
        "receivedDay": now.strftime("%Y-%m-%d"),
        "requestId": context.aws_request_id,
        "functionVersion": context.function_version,
        "expiresAt": int((now + RETENTION).timestamp()),
        "fingerprint": hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest(),
    }
    dynamodb.put_item(
        TableName=AUDIT_TABLE,
        Item={k: serializer.serialize(v) for k, v in item.items() if v is not None},
    )
    metrics.add_metric(name="Messages", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Recipients", unit=MetricUnit.Count, value=len(recipients))
    metrics.add_metric(name="TruncatedMessages", unit=MetricUnit.Count, value=int(item["truncated"]))
    return PASS_THROUGH
