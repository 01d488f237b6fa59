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
| COLLECTOR_RETENTION_DAYS | the days the table keeps (7 with the trail): the range is cut there, saying so |
| COLLECTOR_TRAIL | 1 only when the stack has the S3 trail: only then are older days said to be there |
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.config import Settings, parse_bool
from collector.redaction import Redactor
from collector.runtime import open_store, resolve_secrets
from collector.store import StoreError
from collector.trace import (
    KEYS,
    MAX_LIMIT,
    Key,
    TraceError,
    TraceQuery,
    render_form,
    render_html,
    search,
    searched_value,
)

log = logging.getLogger("workmail_collector")

# A recipient search reads whole records day by day; a page stops reading after this long (the
# function's timeout is longer) and its "Older records" link goes on from the first unread day.
PAGE_SECONDS = 10.0
DEFAULT_LIMIT = 50
DEFAULT_RANGE = timedelta(days=1)  # when the event carries no time range (a test invoke)
SEARCH_FAILED = "The search failed"  # the line's start when anything but the search itself failed

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


class Call:
    """What one widget call asks, read from an event of any shape: the search, and a line for each
    parameter the widget could not use as given (it says what it did instead, never silently)."""

    def __init__(self, event: Mapping[str, Any], now: datetime) -> None:
        self.now = now
        self.notes: list[str] = []
        widget = _dict(event.get("widgetContext"))
        self.since, self.until = self._time_range(widget.get("timeRange"), now)
        self.limit = self._limit(_dict(widget.get("params")).get("limit"))
        key, self.value, self.token = self._search(event, widget)
        self.key: Key = self._key(key)

    def _time_range(self, span: Any, now: datetime) -> tuple[datetime, datetime]:
        """The dashboard's range (its zoom when the viewer zoomed in), in UTC."""
        if span is None:
            return now - DEFAULT_RANGE, now  # a test invoke: no dashboard
        chosen = _dict(span).get("zoom") or span
        try:
            if not isinstance(chosen, dict):
                raise TypeError(type(chosen).__name__)
            return _instant(chosen["start"]), _instant(chosen["end"])
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            self.notes.append("The dashboard's time range could not be read: searching the last day instead.")
            return now - DEFAULT_RANGE, now

    def keep_to(self, days: int, trail: bool = False) -> bool:
        """Cut the range to the `days` the table keeps (0: forever), saying so: an expired record
        may linger until DynamoDB deletes it, so a range beyond them would answer by chance. Older
        days are pointed to in the S3 trail only when the stack has one (`trail`). False when
        nothing of the range is left."""
        first = self.now - timedelta(days=days)
        if days == 0 or self.since >= first:
            return True
        where = (
            "older days are in the S3 trail (Athena's named queries, or `audit list --athena`)"
            if trail
            else "nothing older is kept (deployed with trail=false, the stack has no copy in S3)"
        )
        if self.until <= first:
            self.notes.append(
                f"The table keeps records {days} days and this range ends before them: {where}."
            )
            return False
        self.since = first
        self.notes.append(
            f"The table keeps records {days} days: searching from {first:%Y-%m-%d %H:%M} UTC; {where}."
        )
        return True

    def _limit(self, value: Any) -> int:
        if value is None:
            return DEFAULT_LIMIT
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError(type(value).__name__)
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
            if number is None:
                raise ValueError(value)
        except (TypeError, ValueError, OverflowError):
            self.notes.append(
                f"The limit parameter {_shown(value)} is not a whole number:"
                f" showing {DEFAULT_LIMIT} records a page."
            )
            return DEFAULT_LIMIT
        if not 1 <= number <= MAX_LIMIT:
            bounded = max(1, min(MAX_LIMIT, number))
            self.notes.append(
                f"The limit parameter {number} is outside 1 to {MAX_LIMIT}: showing {bounded} records a page."
            )
            return bounded
        return number

    def _search(self, event: Mapping[str, Any], widget: Mapping[str, Any]) -> tuple[Any, str, str | None]:
        """(key, value, token): a paging link's parameters, else the form's inputs."""
        if event.get("value") is not None:
            value, token = event.get("value"), event.get("token")
            if isinstance(value, str) and (token is None or isinstance(token, str)):
                return event.get("key"), value, token
            self.notes.append("The call's parameters were not text: showing the form's search instead.")
        form = _dict(_dict(widget.get("forms")).get("all"))
        value = form.get("value")
        if value is not None and not isinstance(value, str):
            self.notes.append("The form's value was not text: enter it again.")
            value = None
        return form.get("key"), value or "", None

    def _key(self, key: Any) -> Key:
        for known in KEYS:
            if key == known:
                return known
        if key not in (None, ""):
            self.notes.append(f"There is no search by {_shown(key)}: searching by message ID instead.")
        return "message_id"


def _dict(value: Any) -> dict[str, Any]:
    """An object of the event, or an empty one when the event holds something else there."""
    return value if isinstance(value, dict) else {}


def _instant(millis: Any) -> datetime:
    if isinstance(millis, bool) or not isinstance(millis, int | float | str):
        raise TypeError(type(millis).__name__)
    return datetime.fromtimestamp(int(millis) / 1000, UTC)


def _shown(value: Any) -> str:
    """A parameter as the page quotes it: short (it is the viewer's own input, not mail)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(text: str) -> str:
    return f"<p>{html.escape(text, quote=True)}</p>"


def _error_name(error: BaseException) -> str:
    """The error's type; for an AWS service error its code too (ThrottlingException,
    AccessDeniedException), which names the cause without quoting anything."""
    name = type(error).__name__
    response = getattr(error, "response", None)
    code = _dict(_dict(response).get("Error")).get("Code")
    known = isinstance(code, str) and code.isidentifier() and code != name
    return f"{name}: {code}" if known else name


def _failed(error: BaseException) -> str:
    """Logged by type and frames, never its message: an error from a search may quote an address
    (a store's validation error, a key in an exception), which must not reach the log in clear."""
    name = _error_name(error)
    frames = "".join(traceback.format_tb(error.__traceback__)[-3:])
    log.error("trace widget: the search failed (%s)\n%s", name, frames)
    return _message(f"{SEARCH_FAILED} ({name}); see the function's log.")


async def answer(event: Mapping[str, Any], endpoint: str, env: Mapping[str, str], deadline: float) -> str:
    """The widget's HTML for one call: the form, a line for each parameter it could not use, then
    the page of records or why there is none."""
    call = Call(event, datetime.now(UTC))
    notes = "".join(_message(n) for n in call.notes)
    if not call.value.strip():
        return (
            render_form(endpoint, call.key)
            + notes
            + _message(
                "Enter a message ID, sender or recipient and choose Trace: the search covers the "
                "dashboard's time range."
            )
        )
    # With redaction on, an address is shown back only as its hash (which searches the same).
    form = render_form(endpoint, call.key, call.value if call.key == "message_id" else "")
    try:
        settings = await resolve_secrets(Settings.from_env(env))
        trail = parse_bool(env.get("COLLECTOR_TRAIL"), "COLLECTOR_TRAIL")
        kept = call.keep_to(settings.retention_days, trail)
        notes = "".join(_message(n) for n in call.notes)
        if not kept:
            return form + notes
        redactor = Redactor(settings.redaction_key)
        if not redactor.enabled:
            form = render_form(endpoint, call.key, call.value)
        else:
            form = render_form(endpoint, call.key, searched_value(call.key, call.value, redactor))
        query = TraceQuery(call.key, call.value, call.since, call.until, call.limit, call.token)
        store = await open_store(settings)
        try:
            page = await search(store, query, redactor, deadline=deadline)
        finally:
            await store.close()
    except (TraceError, StoreError) as error:  # our own messages, quoting no mail: the viewer's to fix
        return form + notes + _message(str(error))
    except MemoryError:
        raise
    except Exception as error:
        return form + notes + _failed(error)
    return form + notes + render_html(page, endpoint)


def handler(event: Any, context: Any) -> str:
    """Never raises: whatever the event, the dashboard gets the form and a line saying what went
    wrong (a Lambda error would show the viewer a stack trace)."""
    try:
        if not isinstance(event, dict):
            return _message("Not a custom widget call.")
        if event.get("describe"):
            return DOCS
        endpoint = str(getattr(context, "invoked_function_arn", ""))
        return asyncio.run(answer(event, endpoint, os.environ, time.monotonic() + PAGE_SECONDS))
    except MemoryError:
        raise
    except Exception as error:
        return render_form(str(getattr(context, "invoked_function_arn", ""))) + _failed(error)
