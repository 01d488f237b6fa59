"""What the collector really emits and stores for each kind of delivery: the bill's measured inputs.

`measure()` runs the real pipeline (collector.runtime.build_pipeline, the wiring the Lambda
handler uses) in this process against DynamoDB Local, with the message-flow API served on
loopback when enrichment is on (the test suite's stand-in server), once per kind of delivery:

| kind | what is delivered |
|---|---|
| inbound, outbound, unknown | a new message in that direction (unknown: an unexpected flowDirection) |
| truncated | a new inbound message whose summary WorkMail cut at 128 KB |
| duplicate | a byte-identical redelivery of a recorded message |
| conflict | a redelivery under a recorded invocationId with other content |
| invalid | a payload that fails validation (no messageId) |
| attachments, auth_failure, not_found | with enrichment: attachments; SPF, DKIM and DMARC fail; not found |

For each kind it keeps the EMF line, the distinct custom metrics it creates (namespace, name and
dimension values, read from the document's own directives), the item it wrote as DynamoDB stores
it, and the function's log lines as Lambda's JSON log format writes them. It also times the
handler's CPU per warm invocation, and a cold start in a fresh process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.dynamodb_local import ROOT
from bench.harness import create_audit_table, dynamodb_client

Series = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric name, dimension values
SERVICE = "WorkMailCollector"  # the stack's default name: the Service dimension's value
REDACTION_KEY = "k" * 64
WARM_INVOCATIONS = 300


@dataclass(frozen=True)
class Variant:
    """A deployment setting that changes what is emitted or stored."""

    name: str
    enrich: bool = False
    redact: bool = False


DEFAULT = Variant("default")
ENRICHMENT = Variant("enrichment", enrich=True)
REDACTION = Variant("redaction", redact=True)
VARIANTS = (DEFAULT, ENRICHMENT, REDACTION)


@dataclass(frozen=True)
class Kind:
    name: str
    direction: str  # flowDirection in the event
    enrichment_only: bool = False


KINDS = (
    Kind("inbound", "INBOUND"),
    Kind("outbound", "OUTBOUND"),
    Kind("unknown", "SIDEWAYS"),
    Kind("truncated", "INBOUND"),
    Kind("duplicate", "INBOUND"),
    Kind("conflict", "INBOUND"),
    Kind("invalid", "INBOUND"),
    Kind("attachments", "INBOUND", enrichment_only=True),
    Kind("auth_failure", "INBOUND", enrichment_only=True),
    Kind("not_found", "INBOUND", enrichment_only=True),
)


@dataclass(frozen=True)
class Emitted:
    """One delivery of one kind, as the collector handled it."""

    kind: str
    status: str
    direction: str  # the outcome's direction (a redelivery keeps the stored record's)
    emf_line: str
    series: frozenset[Series]
    item: dict[str, Any] | None  # DynamoDB's wire form of the item written; None: nothing new
    existing_item: dict[str, Any] | None  # what a failed conditional write found
    log_lines: tuple[str, ...]

    @property
    def emf_bytes(self) -> int:
        return len(self.emf_line.encode())


@dataclass
class Measurement:
    variant: Variant
    kinds: dict[str, Emitted] = field(default_factory=dict)
    warm_cpu_ms: float = 0.0
    mix_lines: list[str] = field(default_factory=list)  # EMF of the warm run, for the compression ratio


def series_of(document: dict[str, Any]) -> frozenset[Series]:
    """The custom metrics one EMF document creates: each metric under each of its dimension sets."""
    found = set()
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            values = tuple((name, str(document[name])) for name in dimension_set)
            for metric in directive["Metrics"]:
                found.add((directive["Namespace"], metric["Name"], values))
    return frozenset(found)


# Attributes every LogRecord has; anything else came in through `extra=` and Lambda logs it too.
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def lambda_json_line(record: logging.LogRecord, request_id: str) -> str:
    """A log record as Lambda's JSON log format writes it for the Python runtime's logging module."""
    moment = datetime.fromtimestamp(record.created, UTC)
    document = {
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "requestId": request_id,
    }
    document.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    return json.dumps(document, separators=(",", ":"), default=str)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _events(kind: Kind, seed: int) -> list[dict[str, Any]]:
    """The deliveries of one kind; the last one is the one measured."""
    from collector.sampling import generate_events

    (event,) = generate_events(
        count=1, direction=kind.direction, recipients=2, truncated=kind.name == "truncated", seed=seed
    )
    if kind.name == "duplicate":
        return [event, dict(event)]
    if kind.name == "conflict":
        return [event, {**event, "subject": "changed on the way"}]
    if kind.name == "invalid":
        return [{k: v for k, v in event.items() if k != "messageId"}]
    return [event]


def _mime(kind: str) -> bytes:
    """A raw message for the message-flow API: plain, with attachments, or failing authentication."""
    from email import policy
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.org, carol@example.org"
    message["Subject"] = "Quarterly report"
    message["Message-ID"] = "<20261122.1234@example.com>"
    verdict = "fail" if kind == "auth_failure" else "pass"
    message["Authentication-Results"] = (
        f"mx.example.net; spf={verdict} smtp.mailfrom=alice@example.com; dkim={verdict} "
        f"header.i=@example.com; dmarc={verdict} header.from=example.com"
    )
    message.set_content("Hello Bob,\n\nsee you on Friday.\n" * 20)
    if kind == "attachments":
        message.add_attachment(b"%PDF-1.7\n" + bytes(range(256)) * 40, maintype="application", subtype="pdf")
    return message.as_bytes(policy=policy.SMTP)


def client(endpoint: str) -> Any:
    """A plain boto3 client straight to DynamoDB Local (tables and reads, outside the pipeline)."""
    return dynamodb_client(endpoint)


def create_table(endpoint: str) -> str:
    return create_audit_table(client(endpoint), prefix="bill")


def _stored(endpoint: str, table: str, key: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        client(endpoint)
        .get_item(TableName=table, Key={"invocationId": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    return item


def measure(variant: Variant, endpoint: str, *, warm: bool = True) -> Measurement:
    """Every kind once, then (`warm`) the warm CPU per invocation, on a fresh table. Tests that
    read only what each kind emits and stores leave the CPU pass out."""
    from tests.enrichment.flowserver import MessageFlowServer, error_reply, message_reply

    table = create_table(endpoint)
    values = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    values |= {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    server = MessageFlowServer() if variant.enrich else None
    if server is not None:
        server.start()
        values["AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW"] = server.url
    try:
        with _environment(values):
            run = _run(variant, endpoint, table, server, message_reply, error_reply, warm)
            measurement = asyncio.run(run)
    finally:
        if server is not None:
            server.close()
    return measurement


async def _run(
    variant: Variant, endpoint: str, table: str, server: Any, message_reply: Any, error_reply: Any, warm: bool
) -> Measurement:
    from collector.clock import utc_now
    from collector.config import Settings
    from collector.model import Invocation
    from collector.runtime import build_pipeline

    settings = Settings(
        store="dynamodb",
        table_name=table,
        service=SERVICE,
        enrich=variant.enrich,
        redact=variant.redact,
        redaction_key=REDACTION_KEY.encode() if variant.redact else None,
    )
    lines: list[str] = []
    records = _Records()
    logger = logging.getLogger("workmail_collector")
    logger.addHandler(records)
    pipeline = await build_pipeline(settings, lines.append)
    result = Measurement(variant)

    def serve(event: dict[str, Any], kind: str) -> None:
        if server is None or "messageId" not in event:
            return
        if kind == "not_found":
            server.add(event["messageId"], error_reply(404, "ResourceNotFoundException", "gone"))
        else:
            server.add(event["messageId"], message_reply(_mime(kind)))

    try:
        for seed, kind in enumerate(KINDS):
            if kind.enrichment_only and not variant.enrich:
                continue
            events = _events(kind, seed=1000 + seed)
            for event in events:
                serve(event, kind.name)
                request_id = str(uuid.uuid4())
                before_lines, before_records = len(lines), len(records.records)
                outcome = await pipeline.process(event, Invocation(request_id, "$LATEST", utc_now()))
            key = outcome.dedupe_key
            stored = _stored(endpoint, table, key)
            new = outcome.status.value in ("RECORDED", "QUARANTINED")
            line = lines[before_lines].rstrip("\n")
            result.kinds[kind.name] = Emitted(
                kind=kind.name,
                status=outcome.status.value,
                direction=outcome.direction.value,
                emf_line=line,
                series=series_of(json.loads(line)),
                item=stored if new else None,
                existing_item=None if new else stored,
                log_lines=tuple(lambda_json_line(r, request_id) for r in records.records[before_records:]),
            )
        if warm:
            result.warm_cpu_ms, result.mix_lines = await _warm_cpu(pipeline, serve, lines)
    finally:
        logger.removeHandler(records)
        await pipeline.close()
    return result


async def _warm_cpu(pipeline: Any, serve: Any, lines: list[str]) -> tuple[float, list[str]]:
    """Mean handler CPU (ms) over new messages in both directions, after the kinds above warmed it.

    Thread CPU of the event loop's thread, where the whole pipeline runs: the message-flow stand-in
    serves from its own threads in this process and is not the function's work."""
    from collector.clock import utc_now
    from collector.model import Invocation
    from collector.sampling import generate_events

    events = generate_events(count=WARM_INVOCATIONS // 2, direction="INBOUND", seed=7)
    events += generate_events(count=WARM_INVOCATIONS // 2, direction="OUTBOUND", seed=8)
    start = len(lines)
    cpu: list[float] = []
    for event in events:
        serve(event, "inbound")
        invocation = Invocation(str(uuid.uuid4()), "$LATEST", utc_now())
        began = time.thread_time()
        await pipeline.process(event, invocation)
        cpu.append(time.thread_time() - began)
    return statistics.fmean(cpu) * 1000, [line.rstrip("\n") for line in lines[start:]]


COLD_PROBE = """
import json, sys, time
began = time.process_time()
import collector.handler as handler
class Context:
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self): return 30000
handler.handler(json.loads(sys.argv[1]), Context())
print("COLD-CPU-MS", (time.process_time() - began) * 1000, file=sys.stderr)
"""


def cold_start_cpu_ms(endpoint: str, table: str) -> float:
    """CPU of a cold start in a fresh interpreter: import of the handler and its first invocation."""
    from collector.sampling import generate_events

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": SERVICE,
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": table,
    }
    (event,) = generate_events(count=1, seed=99)
    done = subprocess.run(
        [sys.executable, "-c", COLD_PROBE, json.dumps(event)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("COLD-CPU-MS ")]
    return float(line.split()[1])
