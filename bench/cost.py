"""DynamoDB's item size rules, and dollars per million messages from what the comparison measured.

The per-message view compares the collector with the Powertools baseline in `python -m bench`;
what an organization pays per month, every line of the bill, is bench/bill.py. Prices come from
bench/prices.py (dated, with their pages).

What is priced, per message (one unique event, plus its share of redeliveries):
* Lambda requests and duration (arm64, GB-seconds at the stated memory size, each invocation's
  measured duration rounded up to the next millisecond, as Lambda bills);
* DynamoDB on-demand write request units: 1 WRU per started KB of the item written, once for the
  table and once more for every global secondary index the item appears in; a failed condition
  still consumes WRUs for the size of the existing item (minimum 1) and writes no index;
  UpdateItem consumes for the larger of the item before and after;
* CloudWatch Logs ingestion of the EMF documents (plus the 26 bytes CloudWatch counts per event).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench import prices

PRICES_AS_OF = prices.PRICES_AS_OF
LAMBDA_PRICING_URL = prices.LAMBDA_PAGE
DYNAMODB_PRICING_URL = prices.DYNAMODB_PAGE
CLOUDWATCH_PRICING_URL = prices.CLOUDWATCH_PAGE

LAMBDA_ARM64_USD_PER_GB_SECOND = prices.LAMBDA_ARM64_GB_SECOND.usd
LAMBDA_USD_PER_REQUEST = prices.LAMBDA_REQUESTS.usd / 1_000_000
DYNAMODB_USD_PER_WRU = prices.DYNAMODB_WRITE_UNITS.usd / 1_000_000  # Standard class, as the bench's tables
CLOUDWATCH_LOGS_USD_PER_GB = prices.LOG_INGESTION.usd
CLOUDWATCH_LOGS_EVENT_OVERHEAD_BYTES = prices.LOG_EVENT_OVERHEAD_BYTES
GB = prices.GB


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


def query_read_units(read_bytes: float) -> float:
    """Read units of an eventually consistent Query that reads `read_bytes` of items: 4 KB a unit,
    halved, and half a unit however little it reads."""
    return max(0.5, math.ceil(read_bytes / 4096) / 2)


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
