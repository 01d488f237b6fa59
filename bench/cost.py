"""Dollars per million messages, from what the benchmark measured and public us-east-1 list prices.

Prices are named constants with their source. They are us-east-1 list prices as of 2026-11-22 from
the pages named below (the figures this model uses: no free tier, first usage tier, no Savings
Plans); re-check the pages before quoting the result.

What is priced, per message (one unique event, plus its share of redeliveries):
* Lambda requests and duration (arm64, GB-seconds at the stated memory size, each invocation's
  measured duration rounded up to the next millisecond, as Lambda bills);
* DynamoDB on-demand write request units: 1 WRU per started KB of the item written, once for the
  table and once more for every global secondary index the item appears in; a failed condition
  still consumes WRUs for the size of the existing item (minimum 1) and writes no index;
  UpdateItem consumes for the larger of the item before and after;
* CloudWatch Logs ingestion of the EMF documents (plus the 26 bytes CloudWatch counts per event).
Not priced (the same for both handlers, or not per message): Lambda's START/END/REPORT log lines,
storage, and CloudWatch custom metrics (a fixed monthly price per metric and dimension set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PRICES_AS_OF = "2026-11-22"
LAMBDA_PRICING_URL = "https://aws.amazon.com/lambda/pricing/"
DYNAMODB_PRICING_URL = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
CLOUDWATCH_PRICING_URL = "https://aws.amazon.com/cloudwatch/pricing/"

LAMBDA_ARM64_USD_PER_GB_SECOND = 0.0000133334  # arm64, first 7.5 billion GB-seconds per month
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
DYNAMODB_USD_PER_WRU = 0.625 / 1_000_000  # on-demand, Standard table class (after the Nov 2024 cut)
CLOUDWATCH_LOGS_USD_PER_GB = 0.50  # ingestion, Standard log class, first tier
CLOUDWATCH_LOGS_EVENT_OVERHEAD_BYTES = 26
GB = 1024**3


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in its wire form ({"S": ...} and so on)."""
    ((kind, inner),) = value.items()
    if kind in ("S", "B"):
        return len(inner.encode("utf-8", "surrogatepass")) if kind == "S" else len(inner)
    if kind == "N":
        digits = len(inner.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """DynamoDB's item size: attribute names plus values (the rule the WRU count uses)."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def wru(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass(frozen=True)
class Workload:
    """One handler's measured figures, per unique message."""

    name: str
    invocations_per_message: float
    billed_ms_per_invocation: float
    wru_per_message: float
    emf_bytes_per_invocation: float


@dataclass(frozen=True)
class Cost:
    name: str
    lambda_requests: float
    lambda_duration: float
    dynamodb_writes: float
    logs_ingestion: float

    @property
    def total(self) -> float:
        return self.lambda_requests + self.lambda_duration + self.dynamodb_writes + self.logs_ingestion


def per_million_messages(workload: Workload, memory_mb: int) -> Cost:
    invocations = workload.invocations_per_message * 1_000_000
    gb_seconds = invocations * workload.billed_ms_per_invocation / 1000 * memory_mb / 1024
    log_bytes = invocations * (workload.emf_bytes_per_invocation + CLOUDWATCH_LOGS_EVENT_OVERHEAD_BYTES)
    return Cost(
        name=workload.name,
        lambda_requests=invocations * LAMBDA_USD_PER_REQUEST,
        lambda_duration=gb_seconds * LAMBDA_ARM64_USD_PER_GB_SECOND,
        dynamodb_writes=workload.wru_per_message * 1_000_000 * DYNAMODB_USD_PER_WRU,
        logs_ingestion=log_bytes / GB * CLOUDWATCH_LOGS_USD_PER_GB,
    )


def cost_table(costs: list[Cost], memory_mb: int) -> list[str]:
    """A Markdown table, one column per handler, plus the price sources."""
    rows = [
        ("Lambda requests", [c.lambda_requests for c in costs]),
        (f"Lambda duration (arm64, {memory_mb} MB)", [c.lambda_duration for c in costs]),
        ("DynamoDB writes (on-demand WRU)", [c.dynamodb_writes for c in costs]),
        ("CloudWatch Logs ingestion (EMF)", [c.logs_ingestion for c in costs]),
        ("**total**", [c.total for c in costs]),
    ]
    out = [
        "| USD per million messages | " + " | ".join(c.name for c in costs) + " |",
        "|---|" + "---:|" * len(costs),
    ]
    out += [f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " |" for label, values in rows]
    out.append(
        f"\nPrices: us-east-1 list prices as of {PRICES_AS_OF} from {LAMBDA_PRICING_URL} "
        f"(${LAMBDA_ARM64_USD_PER_GB_SECOND}/GB-s arm64, $0.20 per 1M requests), {DYNAMODB_PRICING_URL} "
        f"($0.625 per 1M WRU) and {CLOUDWATCH_PRICING_URL} ($0.50/GB logs ingested)."
    )
    return out
