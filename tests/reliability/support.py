"""Helpers for the reliability suite: Lambda's asynchronous invocation, replayed over real pipelines.

Each container owns its own aioboto3 client (and so its own SDK retry quota) and runs one
invocation at a time, as a Lambda execution environment does; containers run concurrently. An
invocation that raises is retried up to 2 more times with the same request id (Lambda keeps the
request id across asynchronous retries), then its event goes to the failure destination.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from collector.clock import utc_now
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation, Outcome
from collector.pipeline import Pipeline
from collector.store.dynamodb import DynamoDbStore
from tests.conftest import run
from tests.emf import validate_document

ATTEMPTS = 3  # the first invocation and Lambda's 2 asynchronous retries
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def is_transient(error: BaseException) -> bool:
    """What may surface from the store after the SDK's retries: throttling, 5xx, timeouts, resets."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in TRANSIENT_CODES
    return isinstance(error, ConnectionError | HTTPClientError)


@dataclass
class FailureRecord:
    """What Lambda's on-failure destination receives: the request id, the payload, why it failed."""

    request_id: str
    payload: dict[str, Any]
    errors: list[BaseException]


@dataclass
class Delivery:
    request_id: str
    payload: dict[str, Any]


@dataclass
class AsyncLambda:
    pipelines: list[Pipeline]
    lines: list[str]
    destination: list[FailureRecord] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)

    async def _invoke(self, pipeline: Pipeline, delivery: Delivery) -> None:
        failures: list[BaseException] = []
        for _ in range(ATTEMPTS):
            self.attempts[delivery.request_id] += 1
            invocation = Invocation(delivery.request_id, "1", utc_now())
            try:
                self.outcomes.append(await pipeline.process(delivery.payload, invocation))
                return
            except Exception as error:
                failures.append(error)
                self.errors.append(error)
        self.destination.append(FailureRecord(delivery.request_id, delivery.payload, failures))

    async def run(self, deliveries: list[Delivery]) -> None:
        """Deliveries dealt round-robin to the containers; each container works through its share."""

        async def container(n: int) -> None:
            for delivery in deliveries[n :: len(self.pipelines)]:
                await self._invoke(self.pipelines[n], delivery)

        await asyncio.gather(*(container(n) for n in range(len(self.pipelines))))

    def messages_by_key(self) -> Counter[str]:
        """Messages per invocationId over every EMF document, each validated against the spec."""
        counted: Counter[str] = Counter()
        for line in self.lines:
            document = validate_document(line)
            counted[document["invocationId"]] += document.get("Messages", 0)
        return counted

    def destination_keys(self) -> set[str]:
        return {str(record.payload["invocationId"]) for record in self.destination}


@contextlib.asynccontextmanager
async def lambda_containers(table: str, containers: int) -> AsyncIterator[AsyncLambda]:
    """`containers` pipelines on the DynamoDB table behind AWS_ENDPOINT_URL, sharing one EMF stream."""
    settings = Settings(store="dynamodb", table_name=table)
    lines: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        pipelines = []
        for _ in range(containers):
            store = await DynamoDbStore.open(table)
            stack.push_async_callback(store.close)
            pipelines.append(
                Pipeline(store, EmfWriter(settings.namespace, "reliability", lines.append), settings)
            )
        yield AsyncLambda(pipelines, lines)


def group_errors(errors: list[BaseException]) -> dict[str, int]:
    """Error type names and counts, for readable assertion messages."""
    kinds: defaultdict[str, int] = defaultdict(int)
    for error in errors:
        code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
        kinds[code or type(error).__name__] += 1
    return dict(kinds)


def payload_copy(payload: dict[str, Any]) -> dict[str, Any]:
    """A byte-identical redelivery: the same JSON, parsed again into a new object."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(payload))
    return copy


def read_items(endpoint: str, table: str, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Read records straight from DynamoDB Local (never through a fault proxy): key -> item or None."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

    async def read() -> dict[str, Any]:
        store = await DynamoDbStore.open(table)
        try:
            return {key: await store.get(key) for key in keys}
        finally:
            await store.close()

    return run(read())
