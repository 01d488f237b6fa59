"""The mail-flow dashboard's message trace: a CloudWatch custom widget function (Lambda glue only).

CloudWatch calls it with `widgetContext` (the dashboard's time range in epoch milliseconds, the
widget's `params`, and `forms.all`: the values of the inputs in the HTML it returned last) and
shows the HTML it returns, with JavaScript stripped. So the search form and the paging links are
`<cwdb-action action="call" endpoint="<this function's ARN>" display="widget">` elements: the
Trace button sends the form's inputs, the "Older records" link sends `{"key", "value", "token"}`
as parameters, which arrive as top-level keys of the event. A `describe` request gets the docs.

It reads the audit trail through the same search and renderer as `workmail-collector trace`
(collector/trace/), and its role may only read: Query on the time index, GetItem/BatchGetItem on
the table, and the redaction key when redaction is on (cdk/trace.py).

| variable | meaning |
|---|---|
| COLLECTOR_* | as for the collector: store (dynamodb), table, redaction and its key's secret ARN |
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.config import Settings
from collector.redaction import Redactor
from collector.runtime import open_store, resolve_secrets
from collector.store import StoreError
from collector.trace import KEYS, MAX_LIMIT, Key, TraceError, TraceQuery, render_form, render_html, search

log = logging.getLogger("workmail_collector")

# A recipient search reads whole records day by day; a page stops reading after this long (the
# function's timeout is longer) and its "Older records" link goes on from the first unread day.
PAGE_SECONDS = 10.0
DEFAULT_LIMIT = 50
DEFAULT_RANGE = timedelta(days=1)  # when the event carries no time range (a test invoke)

DOCS = """## Message trace
Finds audit records by **message ID**, **sender** or **recipient** over the dashboard's time
range, newest first and paged, and shows each message's events (WorkMail and SES receipts, SES
Send, Delivery, Bounce, Complaint) as one timeline: time, source, direction, event type, sender,
recipients, subject (unless redacted), status and verdicts. With redaction on, the address is
hashed before the search and the records show hashes.

### Widget parameters
Param | Description
---|---
**limit** | records per page (default 50, at most 1000)

### Example parameters
``` yaml
limit: 50
```"""


def _time_range(widget: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """The dashboard's range (its zoom when the viewer zoomed in), in UTC."""
    span = widget.get("timeRange") or {}
    chosen = span.get("zoom") or span
    try:
        start = datetime.fromtimestamp(int(chosen["start"]) / 1000, UTC)
        end = datetime.fromtimestamp(int(chosen["end"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return now - DEFAULT_RANGE, now
    return start, end


def _limit(value: Any) -> int:
    try:
        return max(1, min(MAX_LIMIT, int(value)))
    except (TypeError, ValueError):
        return DEFAULT_LIMIT


def _search_of(event: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(key, value, token): a paging link's parameters, else the form's inputs."""
    widget = event.get("widgetContext") or {}
    if event.get("value") is not None:
        token = event.get("token")
        return str(event.get("key") or ""), str(event["value"]), None if token is None else str(token)
    form = (widget.get("forms") or {}).get("all") or {}
    return str(form.get("key") or "message_id"), str(form.get("value") or ""), None


def _message(text: str) -> str:
    return f"<p>{html.escape(text, quote=True)}</p>"


async def answer(event: Mapping[str, Any], endpoint: str, env: Mapping[str, str], deadline: float) -> str:
    """The widget's HTML for one call: the form, then the page of records or why there is none."""
    widget = event.get("widgetContext") or {}
    key_text, value, token = _search_of(event)
    key: Key = key_text if key_text in KEYS else "message_id"
    form = render_form(endpoint, key, value)
    if not value.strip():
        return form + _message(
            "Enter a message ID, sender or recipient and choose Trace: the search covers the "
            "dashboard's time range."
        )
    since, until = _time_range(widget, datetime.now(UTC))
    params = widget.get("params") or {}
    try:
        query = TraceQuery(key, value, since, until, _limit(params.get("limit")), token)
    except TraceError as error:
        return form + _message(str(error))
    settings = await resolve_secrets(Settings.from_env(env))
    store = await open_store(settings)
    try:
        page = await search(store, query, Redactor(settings.redaction_key), deadline=deadline)
    except (TraceError, StoreError) as error:
        log.warning("trace widget: %s", error)
        return form + _message(str(error))
    finally:
        await store.close()
    return form + render_html(page, endpoint)


def handler(event: Any, context: Any) -> str:
    if not isinstance(event, dict):
        return _message("not a custom widget call")
    if event.get("describe"):
        return DOCS
    endpoint = str(getattr(context, "invoked_function_arn", ""))
    return asyncio.run(answer(event, endpoint, os.environ, time.monotonic() + PAGE_SECONDS))
