"""Wiring: settings -> store -> EMF writer -> pipeline. Shared by the Lambda handler and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.config import Settings
from collector.metrics import EmfWriter
from collector.pipeline import Pipeline
from collector.store import AuditStore


async def open_store(settings: Settings) -> AuditStore:
    if settings.store == "dynamodb":
        from collector.store.dynamodb import DynamoDbStore

        return await DynamoDbStore.open(settings.table_name)
    from collector.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


async def build_pipeline(settings: Settings, write: Callable[[str], Any]) -> Pipeline:
    store = await open_store(settings)
    return Pipeline(store, EmfWriter(settings.namespace, settings.service, write), settings)
