"""The audit table's shape, defined once: `table create` and the CDK stack both read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSpec:
    partition_key: str
    ttl_attribute: str
    indexes: tuple[IndexSpec, ...]

    def index(self, name: str) -> IndexSpec:
        return next(i for i in self.indexes if i.name == name)

    def attribute_definitions(self) -> list[dict[str, str]]:
        names = [self.partition_key]
        for index in self.indexes:
            names += [n for n in (index.partition_key, index.sort_key) if n not in names]
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """CreateTable parameters (on-demand), as the SDK takes them."""
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": self.partition_key, "KeyType": "HASH"}],
            "AttributeDefinitions": self.attribute_definitions(),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": i.name,
                    "KeySchema": [
                        {"AttributeName": i.partition_key, "KeyType": "HASH"},
                        {"AttributeName": i.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for i in self.indexes
            ],
        }


BY_MESSAGE_ID = "byMessageId"
BY_SENDER = "bySender"
BY_DAY = "byDay"

AUDIT_TABLE = TableSpec(
    partition_key="invocationId",
    ttl_attribute="expiresAt",
    indexes=(
        IndexSpec(BY_MESSAGE_ID, "messageId", "receivedAt"),
        IndexSpec(BY_SENDER, "sender", "receivedAt"),
        IndexSpec(BY_DAY, "receivedDay", "receivedAt"),
    ),
)
