"""Lambda glue only: a sync entry point over the async pipeline.

The event loop, the aioboto3 session and its client, and the pipeline are created on the first
invocation of a container and reused by every warm invocation after it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from collector.clock import utc_now
from collector.config import Settings
from collector.model import Invocation
from collector.pipeline import Pipeline
from collector.runtime import build_pipeline

# WorkMail ignores the result of an asynchronous invocation; a synchronous rule requires one.
# DEFAULT for all recipients lets the mail flow on unchanged: the collector never alters mail.
PASS_THROUGH: dict[str, Any] = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}

_loop: asyncio.AbstractEventLoop | None = None
_pipeline: Pipeline | None = None


def _container() -> tuple[asyncio.AbstractEventLoop, Pipeline]:
    global _loop, _pipeline
    if _loop is None or _pipeline is None:
        settings = Settings.from_env()
        logging.getLogger("workmail_collector").setLevel(settings.log_level)
        _loop = asyncio.new_event_loop()
        _pipeline = _loop.run_until_complete(build_pipeline(settings, sys.stdout.write))
    return _loop, _pipeline


def invocation_from_context(context: Any) -> Invocation:
    return Invocation(
        request_id=str(getattr(context, "aws_request_id", "") or "unknown"),
        function_version=str(getattr(context, "function_version", "") or "$LATEST"),
        received_at=utc_now(),
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    loop, pipeline = _container()
    loop.run_until_complete(pipeline.process(event, invocation_from_context(context)))
    sys.stdout.flush()
    return PASS_THROUGH
