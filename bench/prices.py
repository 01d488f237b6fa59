"""us-east-1 list prices the bill uses, each with its page, the date it was read and how sure it is.

First usage tier everywhere, no free tier (the bill shows the free tier separately), no Savings
Plans. `basis` says where the figure was confirmed: "AWS" means the AWS page itself was read;
"secondary" means a third-party copy of the AWS page (named), to re-check on the page before
quoting; "unverified" means the well-known list price, whose page could not be retrieved.
Re-check every figure on its page before quoting a result.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-12-01"
LAMBDA_PAGE = "https://aws.amazon.com/lambda/pricing/"
DYNAMODB_PAGE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
CLOUDWATCH_PAGE = "https://aws.amazon.com/cloudwatch/pricing/"
KMS_PAGE = "https://aws.amazon.com/kms/pricing/"
SECRETS_PAGE = "https://aws.amazon.com/secrets-manager/pricing/"
SQS_PAGE = "https://aws.amazon.com/sqs/pricing/"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str  # one billed unit
    page: str
    basis: str
    as_of: str = PRICES_AS_OF

    def line(self, name: str) -> str:
        return f"| {name} | ${self.usd:g} per {self.per} | {self.page} | {self.basis} | {self.as_of} |"


LAMBDA_REQUESTS = Price(0.20, "million requests", LAMBDA_PAGE, "secondary (cloudchipr.com, 2026)")
LAMBDA_ARM64_GB_SECOND = Price(
    0.0000133334, "GB-second, arm64, first 7.5 billion", LAMBDA_PAGE, "secondary (cloudchipr.com, 2026)"
)
# INIT is billed like duration for on-demand ZIP functions on managed runtimes since 2025-08-01
# (AWS Compute Blog, "AWS Lambda standardizes billing for INIT Phase").
LAMBDA_INIT_BILLED_SINCE = "2025-08-01"
DYNAMODB_WRITE_UNITS = Price(
    0.625,
    "million write request units (on-demand, Standard class, after the 2024-11-01 cut)",
    DYNAMODB_PAGE,
    "secondary (airbyte.com 2025-07; the on-demand price cut of 2024-11-01)",
)
DYNAMODB_READ_UNITS = Price(
    0.125, "million read request units (on-demand, Standard class)", DYNAMODB_PAGE, "secondary (airbyte.com)"
)
DYNAMODB_STORAGE = Price(
    0.25, "GB-month (Standard class; first 25 GB free)", "https://aws.amazon.com/dynamodb/pricing/", "AWS"
)
# Standard-Infrequent Access: storage 60% cheaper, requests 25% dearer than Standard. The AWS
# Database Blog gives "up to 60 percent" on storage; the 1.25x request ratio is the one AWS's China
# price list shows for the two classes (write and read); applied here to the us-east-1 on-demand
# prices above.
DYNAMODB_IA_WRITE_UNITS = Price(
    0.78125,
    "million write request units (on-demand, Standard-IA class)",
    DYNAMODB_PAGE,
    "derived: Standard x 1.25 (amazonaws.cn price list ratio)",
)
DYNAMODB_IA_READ_UNITS = Price(
    0.15625,
    "million read request units (on-demand, Standard-IA class)",
    DYNAMODB_PAGE,
    "derived: Standard x 1.25 (amazonaws.cn price list ratio)",
)
DYNAMODB_IA_STORAGE = Price(
    0.10,
    "GB-month (Standard-IA class)",
    "https://aws.amazon.com/dynamodb/pricing/",
    "secondary (AWS Database Blog: 'up to 60 percent' below Standard)",
)
DYNAMODB_PITR = Price(0.20, "GB-month of table size (continuous backups)", DYNAMODB_PAGE, "unverified")
CUSTOM_METRICS = Price(
    0.30,
    "metric-month, first 10,000 (prorated by the hour)",
    CLOUDWATCH_PAGE,
    "secondary (aws-rough issue 37, signoz.io 2026)",
)
ALARM_METRICS = Price(
    0.10, "alarm metric-month (standard resolution)", CLOUDWATCH_PAGE, "secondary (c3x.dev)"
)
HIGH_RESOLUTION_ALARM_METRICS = Price(
    0.30, "alarm metric-month (high resolution)", CLOUDWATCH_PAGE, "secondary (c3x.dev)"
)
COMPOSITE_ALARMS = Price(0.50, "composite alarm-month", CLOUDWATCH_PAGE, "secondary (cloudcostkit)")
DASHBOARDS = Price(3.00, "dashboard-month", CLOUDWATCH_PAGE, "secondary (factualminds 2026-06)")
LOG_INGESTION = Price(0.50, "GB ingested (Standard log class)", CLOUDWATCH_PAGE, "secondary (cloudburn 2026)")
LOG_STORAGE = Price(0.03, "GB-month archived (compressed)", CLOUDWATCH_PAGE, "secondary (cloudburn 2026)")
KMS_KEYS = Price(1.00, "customer-managed key-month", KMS_PAGE, "secondary (wring.co, cloudburn 2026-03)")
SECRETS = Price(0.40, "secret-month", SECRETS_PAGE, "unverified")
SECRETS_API = Price(0.05, "10,000 API calls", SECRETS_PAGE, "unverified")
SQS_REQUESTS = Price(0.40, "million requests (standard queue)", SQS_PAGE, "secondary (cloudburn 2026)")

# CloudWatch's always-free allowance, verbatim from its pricing page (AWS): the bill is shown
# without it, the conservative figure for an account whose other workloads already use it.
FREE_CUSTOM_METRICS = 10
FREE_ALARM_METRICS = 10
FREE_DASHBOARDS = 3
FREE_LOG_GB = 5.0

# CloudWatch Logs counts 26 bytes per log event on top of its message (ingestion is billed on it).
LOG_EVENT_OVERHEAD_BYTES = 26
# DynamoDB: 100 bytes of storage overhead per item and per index item, not used for capacity units
# (DynamoDB Developer Guide, CapacityUnitCalculations / GSI storage).
ITEM_STORAGE_OVERHEAD_BYTES = 100
GB = 1024**3

ALL_PRICES: tuple[tuple[str, Price], ...] = (
    ("Lambda requests", LAMBDA_REQUESTS),
    ("Lambda duration and INIT (arm64)", LAMBDA_ARM64_GB_SECOND),
    ("DynamoDB writes", DYNAMODB_WRITE_UNITS),
    ("DynamoDB reads", DYNAMODB_READ_UNITS),
    ("DynamoDB storage", DYNAMODB_STORAGE),
    ("DynamoDB writes, Standard-IA", DYNAMODB_IA_WRITE_UNITS),
    ("DynamoDB reads, Standard-IA", DYNAMODB_IA_READ_UNITS),
    ("DynamoDB storage, Standard-IA", DYNAMODB_IA_STORAGE),
    ("DynamoDB point-in-time recovery", DYNAMODB_PITR),
    ("CloudWatch custom metrics", CUSTOM_METRICS),
    ("CloudWatch alarms", ALARM_METRICS),
    ("CloudWatch high-resolution alarms", HIGH_RESOLUTION_ALARM_METRICS),
    ("CloudWatch composite alarms", COMPOSITE_ALARMS),
    ("CloudWatch dashboards", DASHBOARDS),
    ("CloudWatch Logs ingestion", LOG_INGESTION),
    ("CloudWatch Logs storage", LOG_STORAGE),
    ("KMS keys", KMS_KEYS),
    ("Secrets Manager secrets", SECRETS),
    ("Secrets Manager API calls", SECRETS_API),
    ("SQS requests", SQS_REQUESTS),
)


def price_table() -> list[str]:
    """Every price the bill uses, as a Markdown table with its page, basis and date."""
    return [
        "| item | price | page | basis | read |",
        "|---|---|---|---|---|",
        *(price.line(name) for name, price in ALL_PRICES),
    ]


def dynamodb(table_class: str) -> tuple[Price, Price, Price]:
    """(write units, read units, storage) for a table class as CloudFormation spells it."""
    if table_class == "STANDARD_INFREQUENT_ACCESS":
        return DYNAMODB_IA_WRITE_UNITS, DYNAMODB_IA_READ_UNITS, DYNAMODB_IA_STORAGE
    return DYNAMODB_WRITE_UNITS, DYNAMODB_READ_UNITS, DYNAMODB_STORAGE
