"""Wiring: settings -> store (+ enricher, failure queue) -> EMF writer -> pipeline.

Shared by the Lambda handler (once per container) and the CLI (once per command).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from collector.config import Settings
from collector.metrics import EmfWriter, features_for
from collector.pipeline import Pipeline
from collector.store import AuditStore

if TYPE_CHECKING:
    from collector.failure_queue import FailureQueue


async def open_store(settings: Settings) -> AuditStore:
    if settings.store == "dynamodb":
        from collector.store.dynamodb import DynamoDbStore

        return await DynamoDbStore.open(settings.table_name, time_index=settings.time_index)
    from collector.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


async def resolve_secrets(settings: Settings) -> Settings:
    """Fetch the redaction key from Secrets Manager once per container, when configured so."""
    if settings.redaction_secret_arn is None or settings.redaction_key is not None:
        return settings
    import contextlib

    from collector import aws
    from collector.config import check_redaction_key

    async with contextlib.AsyncExitStack() as stack:
        client = await aws.open_client("secretsmanager", stack)
        secret = await client.get_secret_value(SecretId=settings.redaction_secret_arn)
    key = str(secret.get("SecretString", ""))
    check_redaction_key(key)
    return replace(settings, redaction_key=key.encode())


async def build_pipeline(settings: Settings, write: Callable[[str], Any]) -> Pipeline:
    """Every step may be cut short (a sync invocation's budget cancels it): what was opened is closed."""
    settings = await resolve_secrets(settings)
    store = await open_store(settings)
    try:
        enricher = None
        if settings.enrich:
            from collector.enrichment import MessageFlowReader

            enricher = await MessageFlowReader.open()
        features = features_for(settings.enrich, settings.sources)
        emf = EmfWriter(settings.namespace, settings.service, write, features)
    except BaseException:
        await store.close()
        raise
    return Pipeline(store, emf, settings, enricher=enricher)


@dataclass
class Container:
    """What one Lambda container keeps between invocations."""

    settings: Settings
    pipeline: Pipeline
    failure_queue: FailureQueue | None

    @classmethod
    async def start(
        cls, settings: Settings, write: Callable[[str], Any], failure_queue: FailureQueue | None = None
    ) -> Container:
        """`failure_queue`: one already opened (sync mode opens it first, to keep a failed setup's event)."""
        pipeline = await build_pipeline(settings, write)
        settings = pipeline.settings
        queue = failure_queue
        if queue is None and settings.rule_mode == "sync" and settings.failure_queue_url:
            from collector.failure_queue import FailureQueue

            try:
                queue = await FailureQueue.open(settings.failure_queue_url)
            except BaseException:
                await pipeline.close()
                raise
        return cls(settings, pipeline, queue)

    async def close(self) -> None:
        await self.pipeline.close()
        if self.failure_queue is not None:
            await self.failure_queue.close()
