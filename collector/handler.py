"""Lambda glue only: a sync entry point over the async pipeline.

The event loop, the aioboto3 session and clients, and the pipeline are created on the first
invocation of a container and reused by every warm invocation after it.

Asynchronous rule (the default): a store fault raises, so Lambda's retries and the on-failure
destination keep the event. Synchronous rule (`COLLECTOR_RULE_MODE=sync`): WorkMail needs an answer
within 15 s, so the whole invocation runs within a budget; an event that cannot be recorded in
time (or whose store write fails) goes to the failure queue and WorkMail still gets DEFAULT.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from collector.clock import utc_now
from collector.config import Settings
from collector.model import Invocation
from collector.response import answer
from collector.runtime import Container

log = logging.getLogger("workmail_collector")

WRITE_RESERVE_SECONDS = 3.0  # kept after enrichment for the audit write and the EMF line
QUEUE_RESERVE_SECONDS = 1.5  # kept in sync mode to hand an event to the failure queue
NO_CONTEXT_SECONDS = 900.0  # the CLI and tests pass no Lambda context: Lambda's longest timeout

_loop: asyncio.AbstractEventLoop | None = None
_container: Container | None = None


def _start() -> tuple[asyncio.AbstractEventLoop, Container]:
    global _loop, _container
    if _loop is None or _container is None:
        settings = Settings.from_env()
        logging.getLogger("workmail_collector").setLevel(settings.log_level)
        loop = asyncio.new_event_loop()
        try:
            _container = loop.run_until_complete(Container.start(settings, sys.stdout.write))
        except BaseException:
            loop.close()  # the next invocation starts over, without a leaked loop
            raise
        _loop = loop
    return _loop, _container


def invocation_from_context(context: Any) -> Invocation:
    return Invocation(
        request_id=str(getattr(context, "aws_request_id", "") or "unknown"),
        function_version=str(getattr(context, "function_version", "") or "$LATEST"),
        received_at=utc_now(),
    )


def remaining_seconds(context: Any) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) / 1000.0 if callable(getter) else NO_CONTEXT_SECONDS


async def _process(container: Container, event: Any, invocation: Invocation, context: Any) -> None:
    settings = container.settings
    now = time.monotonic()
    available = remaining_seconds(context)
    if settings.rule_mode != "sync" or container.failure_queue is None:
        deadline = now + min(settings.enrich_budget_seconds, available - WRITE_RESERVE_SECONDS)
        await container.pipeline.process(event, invocation, deadline)
        return
    budget = max(0.1, min(settings.sync_budget_seconds, available) - QUEUE_RESERVE_SECONDS)
    deadline = now + min(settings.enrich_budget_seconds, budget - WRITE_RESERVE_SECONDS)
    try:
        await asyncio.wait_for(container.pipeline.process(event, invocation, deadline), timeout=budget)
    except Exception as error:
        condition = "BudgetExceeded" if isinstance(error, TimeoutError) else type(error).__name__
        log.error(
            "event kept in the failure queue (%s, requestId=%s): %s: %s",
            condition,
            invocation.request_id,
            type(error).__name__,
            error,
        )
        # Bounded too: if even the queue cannot take it in time, the invocation fails and WorkMail
        # retries it under the rule's timeout; the answer never waits past the budget.
        reason = f"{type(error).__name__}: {error}"
        await asyncio.wait_for(
            container.failure_queue.put(event, invocation, condition, reason), timeout=QUEUE_RESERVE_SECONDS
        )


def handler(event: Any, context: Any) -> dict[str, Any]:
    loop, container = _start()
    loop.run_until_complete(_process(container, event, invocation_from_context(context), context))
    sys.stdout.flush()
    return answer(event)
