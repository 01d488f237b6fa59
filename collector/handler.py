"""Lambda glue only: a sync entry point over the async pipeline.

The event loop, the SDK clients and the pipeline are created on the first invocation of a
container and reused by every warm invocation after it.

Asynchronous rule (the default): a store fault raises, so Lambda's retries and the on-failure
destination keep the event. Synchronous rule (`COLLECTOR_RULE_MODE=sync`): WorkMail needs an answer
within 15 s of invoking the function, cold start included, so the budget
(`COLLECTOR_SYNC_BUDGET_SECONDS`) counts from the moment the invocation started: on a cold start,
from the first line of this module. Everything after it runs within the budget: the container's
setup (clients, the redaction key from Secrets Manager), the enrichment and the audit write. An
event that cannot be recorded in time, or whose setup or write fails, goes to the failure queue
and WorkMail still gets DEFAULT.
"""

from __future__ import annotations

import time

# The cold start's first instant this code can see: the imports below are part of it.
_import_started: float | None = time.monotonic()

import asyncio  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from collector.clock import utc_now  # noqa: E402
from collector.config import QUEUE_RESERVE_SECONDS, WRITE_RESERVE_SECONDS, Settings  # noqa: E402
from collector.model import Invocation  # noqa: E402
from collector.response import answer  # noqa: E402
from collector.runtime import Container  # noqa: E402

if TYPE_CHECKING:
    from collector.failure_queue import FailureQueue

log = logging.getLogger("workmail_collector")

NO_CONTEXT_SECONDS = 900.0  # the CLI and tests pass no Lambda context: Lambda's longest timeout
# The import counts toward the first invocation only when that invocation follows it at once, as
# on an on-demand cold start; a container initialised ahead of time (provisioned concurrency,
# Lambda's proactive initialisation) starts its first invocation's clock at the invocation.
COLD_START_GAP_SECONDS = 1.0

_loop: asyncio.AbstractEventLoop | None = None
_container: Container | None = None
_settings: Settings | None = None
# The failure queue opened for a sync invocation whose setup had not finished: (loop, URL, queue).
_queue: tuple[asyncio.AbstractEventLoop, str, FailureQueue] | None = None
_imported_at = time.monotonic()


def invocation_from_context(context: Any) -> Invocation:
    return Invocation(
        request_id=str(getattr(context, "aws_request_id", "") or "unknown"),
        function_version=str(getattr(context, "function_version", "") or "$LATEST"),
        received_at=utc_now(),
    )


def remaining_seconds(context: Any) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) / 1000.0 if callable(getter) else NO_CONTEXT_SECONDS


def invocation_started() -> float:
    """When this invocation started (time.monotonic()): at the import on a cold start, else now."""
    global _import_started
    now = time.monotonic()
    started, _import_started = _import_started, None
    if started is not None and now - _imported_at <= COLD_START_GAP_SECONDS:
        return started
    return now


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop


def _current_settings() -> Settings:
    """Read once per container; a ConfigError fails every invocation loudly until it is fixed."""
    global _settings
    if _settings is None or _container is None:
        settings = Settings.from_env()
        logging.getLogger("workmail_collector").setLevel(settings.log_level)
        _settings = settings
    return _settings


async def _start(settings: Settings) -> Container:
    """The container's pipeline, built once; a failed setup is tried again by the next invocation."""
    global _container, _queue
    if _container is None:
        mine = _queue is not None and _queue[0] is asyncio.get_running_loop()
        queue = _queue[2] if _queue is not None and mine else None
        _container = await Container.start(settings, sys.stdout.write, failure_queue=queue)
        _queue = None  # the container owns it now
    return _container


async def _failure_queue(settings: Settings) -> FailureQueue:
    """Opened before anything else in sync mode (no network: a client), so a setup that fails or
    hangs can still hand the event over."""
    global _queue
    if _container is not None and _container.failure_queue is not None:
        return _container.failure_queue
    url = settings.failure_queue_url
    assert url is not None  # Settings refuses sync mode without it
    loop = asyncio.get_running_loop()
    if _queue is None or _queue[0] is not loop or _queue[1] != url:
        from collector.failure_queue import FailureQueue

        _queue = (loop, url, await FailureQueue.open(url))
    return _queue[2]


async def _process(event: Any, invocation: Invocation, context: Any, started: float) -> None:
    settings = _current_settings()
    available = remaining_seconds(context)
    if settings.rule_mode != "sync":
        container = await _start(settings)
        now = time.monotonic()
        deadline = now + min(settings.enrich_budget_seconds, available - WRITE_RESERVE_SECONDS)
        await container.pipeline.process(event, invocation, deadline)
        return
    queue = await _failure_queue(settings)
    now = time.monotonic()
    budget_ends = min(started + settings.sync_budget_seconds, now + available) - QUEUE_RESERVE_SECONDS
    try:
        async with asyncio.timeout_at(max(budget_ends, now + 0.1)):  # the loop's clock is time.monotonic()
            container = await _start(settings)
            deadline = min(
                time.monotonic() + settings.enrich_budget_seconds, budget_ends - WRITE_RESERVE_SECONDS
            )
            await container.pipeline.process(event, invocation, deadline)
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
        await asyncio.wait_for(queue.put(event, invocation, condition, reason), timeout=QUEUE_RESERVE_SECONDS)


def handler(event: Any, context: Any) -> dict[str, Any]:
    started = invocation_started()
    loop = _event_loop()
    loop.run_until_complete(_process(event, invocation_from_context(context), context, started))
    sys.stdout.flush()
    return answer(event)
