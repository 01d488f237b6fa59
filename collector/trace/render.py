"""A page of trace records as text, CSV or HTML; the CLI and the dashboard widget both use it.

Every value that comes from mail (subjects, addresses, message IDs, verdicts, reasons) is made
inert for where it goes, in one place per format:

* text: control characters (a terminal escape, a line break that would fake a record) are shown
  as `\\x1b`, `\\x0a`, never sent;
* CSV: the same, and a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
  leading `'`, so a spreadsheet shows it instead of running it as a formula;
* HTML: `html.escape` on every value, attribute values quoted, and the parameters a
  `<cwdb-action>` carries are JSON with `<`, `>`, `&` and `'` written as `\\u` escapes, so a
  subject holding `<script>` or `<cwdb-action action="call" endpoint="...">` is text, not markup.
  No JavaScript anywhere (CloudWatch strips it): search and paging are `<cwdb-action>` calls.

Records are grouped by message: each message's events (a receipt; SES Send, Delivery, Bounce,
Complaint per recipient) as one timeline, oldest first; messages in the order of their newest
record, as the page has them.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from collector.audit import VERDICT_FIELDS
from collector.clock import iso_millis
from collector.model import Item
from collector.trace.search import KEY_LABELS, KEYS, Key, Page

COLUMNS = (
    "time",
    "source",
    "direction",
    "event",
    "status",
    "sender",
    "recipients",
    "subject",
    "verdicts",
    "messageId",
    "invocationId",
)
REDACTED = "(redacted)"
# Authentication-Results verdicts the enrichment read from the message's own headers.
HEADER_VERDICTS = ("spf", "dkim", "dmarc")
# Control characters (a line break in a subject could fake a record in the text output), line and
# paragraph separators, and the bidirectional overrides that make text read other than it is.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TEXT_WIDTH = 400  # characters of one value in text (a WorkMail subject is at most 256); CSV, HTML: whole


@dataclass(frozen=True)
class Row:
    """One record as the trace shows it: plain strings, not yet escaped for any output."""

    time: str
    source: str
    direction: str
    event: str
    status: str
    sender: str
    recipients: str
    subject: str
    verdicts: str
    message_id: str
    invocation_id: str

    def cells(self) -> list[str]:
        return [
            self.time,
            self.source,
            self.direction,
            self.event,
            self.status,
            self.sender,
            self.recipients,
            self.subject,
            self.verdicts,
            self.message_id,
            self.invocation_id,
        ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def verdicts_of(item: Item) -> str:
    """SES's receipt verdicts as stored (spfVerdict ...), then the message's own
    Authentication-Results when enrichment read them."""
    parts = [f"{name}={item[attribute]}" for name, attribute in VERDICT_FIELDS.items() if item.get(attribute)]
    headers = [f"{name}={item[name]}" for name in HEADER_VERDICTS if item.get(name)]
    if headers:
        parts.append("headers: " + " ".join(headers))
    return " ".join(parts)


def row_of(item: Item) -> Row:
    status = _text(item.get("status"))
    recipients = [str(r) for r in item.get("recipients") or []]
    shown = "; ".join(recipients)
    count = item.get("recipientCount")
    if isinstance(count, int) and count > len(recipients):
        shown += f" (+{count - len(recipients)} not kept)"
    event = _text(item.get("eventType")) or ("Message" if status == "RECORDED" else "")
    if status == "INVALID" and item.get("reason"):
        status = f"INVALID: {item['reason']}"
    return Row(
        time=_text(item.get("receivedAt")),
        source=_text(item.get("source")) or "WorkMail",  # records from before sources are WorkMail's
        direction=_text(item.get("direction")),
        event=event,
        status=status,
        sender=_text(item.get("sender") or item.get("mailFrom")),
        recipients=shown,
        subject=REDACTED if item.get("redacted") else _text(item.get("subject")),
        verdicts=verdicts_of(item),
        message_id=_text(item.get("messageId") or item.get("messageIdUnindexed")),
        invocation_id=_text(item.get("invocationId")),
    )


def timelines(records: Iterable[Item]) -> list[tuple[str, list[Row]]]:
    """(message ID, its rows oldest first), messages in the order the page first names them."""
    groups: dict[str, list[Row]] = {}
    for n, item in enumerate(records):
        row = row_of(item)
        groups.setdefault(row.message_id or f"\0{n}", []).append(row)
    return [
        (key if not key.startswith("\0") else "", sorted(rows, key=lambda r: (r.time, r.invocation_id)))
        for key, rows in groups.items()
    ]


def inert(value: str) -> str:
    """Control characters (terminal escapes, bidirectional overrides) shown, never sent."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", value
    )


def _short(value: str) -> str:
    value = inert(value)
    return value if len(value) <= TEXT_WIDTH else value[: TEXT_WIDTH - 3] + "..."


def _events(rows: list[Row]) -> str:
    return "1 event" if len(rows) == 1 else f"{len(rows)} events, oldest first"


def _count(page: Page) -> str:
    n = len(page.records)
    return f"{n} record{'' if n == 1 else 's'}" + (" on this page" if page.next_token else "")


def describe(page: Page) -> str:
    query = page.query
    return (
        f"{KEY_LABELS[query.key]} {page.searched} from {iso_millis(query.since)} to {iso_millis(query.until)}"
    )


def render_text(page: Page) -> str:
    lines = [f"trace of {_short(describe(page))}: {_count(page)}"]
    for message_id, rows in timelines(page.records):
        lines.append("")
        lines.append(f"message {_short(message_id) or '(no message ID)'}: {_events(rows)}")
        for row in rows:
            lines.append(
                "  "
                + "  ".join(_short(v) for v in (row.time, row.source, row.direction, row.event, row.status))
            )
            for label, value in (
                ("from", row.sender),
                ("to", row.recipients),
                ("subject", row.subject),
                ("verdicts", row.verdicts),
            ):
                if value:
                    lines.append(f"      {label:<8} {_short(value)}")
    if page.next_token is not None:
        lines.append("")
        lines.append(f"more records: repeat with --page-token {page.next_token}")
    return "\n".join(lines) + "\n"


def csv_cell(value: str) -> str:
    value = inert(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(page: Page) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for _, rows in timelines(page.records):
        writer.writerows([csv_cell(v) for v in row.cells()] for row in rows)
    return out.getvalue()


def _e(value: str) -> str:
    return html.escape(inert(value), quote=True)


def action_params(params: dict[str, Any]) -> str:
    """JSON for a `<cwdb-action>`'s body: no character in it can end the element or start markup."""
    text = orjson.dumps(params).decode()
    return (
        text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("'", "\\u0027")
    )


def _call(label: str, endpoint: str, params: dict[str, Any], primary: bool = False) -> str:
    css = "btn btn-primary" if primary else "btn"
    return (
        f'<a class="{css}">{_e(label)}</a>'
        f'<cwdb-action action="call" endpoint="{_e(endpoint)}" display="widget">'
        f"{action_params(params)}</cwdb-action>"
    )


STYLE = (
    "<style>table.trace{border-collapse:collapse;width:100%}"
    "table.trace td,table.trace th{padding:2px 6px;vertical-align:top;text-align:left}"
    "tr.message th{background:#eef;border-top:1px solid #99a}"
    "table.trace td{overflow-wrap:break-word}table.trace td.short{white-space:nowrap}"
    "table.trace td.subject{min-width:14em}div.list{max-height:4.5em;overflow:auto}</style>"
)
SHORT_CELLS = 4  # time, source, direction, event: never broken inside a word
LIST_CELL = 6  # recipients: scrolls past three lines
SUBJECT_CELL = 7


def _cell(n: int, value: str) -> str:
    if n < SHORT_CELLS:
        return f'<td class="short">{_e(value)}</td>'
    if n == LIST_CELL:
        return f'<td><div class="list">{_e(value)}</div></td>'
    if n == SUBJECT_CELL:
        return f'<td class="subject">{_e(value)}</td>'
    return f"<td>{_e(value)}</td>"


def render_form(endpoint: str, key: Key = "message_id", value: str = "") -> str:
    """The search form: a key, a value, and a Trace button that calls the widget function, which
    reads the inputs from `widgetContext.forms.all`."""
    options = "".join(
        f'<option value="{k}"{" selected" if k == key else ""}>{_e(KEY_LABELS[k])}</option>' for k in KEYS
    )
    return (
        '<form><select name="key">'
        + options
        + f'</select> <input name="value" size="48" value="{_e(value)}" placeholder="message ID or address"> '
        + _call("Trace", endpoint, {"action": "search"}, primary=True)
        + "</form>"
    )


def render_html(page: Page, endpoint: str | None = None) -> str:
    """The widget's HTML (a fragment); with an endpoint, message IDs and the next page are calls
    to it, without one (the CLI) the next page's token is shown as text."""
    out = [STYLE, f"<p>Trace of {_e(describe(page))}: {_count(page)}"]
    if page.redacted:
        out.append(" (redaction on: addresses are HMACs, subjects hidden)")
    out.append("</p>")
    if page.records:
        out.append('<table class="trace"><thead><tr>')
        out.extend(f"<th>{_e(c)}</th>" for c in COLUMNS[:9])
        out.append("</tr></thead><tbody>")
        for message_id, rows in timelines(page.records):
            title = _e(message_id) if message_id else "(no message ID)"
            if endpoint is not None and message_id and page.query.key != "message_id":
                title = _call(message_id, endpoint, {"key": "message_id", "value": message_id})
            heading = f"message {title}: {_events(rows)}"
            out.append(f'<tr class="message"><th colspan="9">{heading}</th></tr>')
            for row in rows:
                out.append("<tr>")
                out.extend(_cell(n, v) for n, v in enumerate(row.cells()[:9]))
                out.append("</tr>")
        out.append("</tbody></table>")
    if page.next_token is not None:
        if endpoint is None:
            out.append(f"<p>More records: repeat with <code>--page-token {_e(page.next_token)}</code></p>")
        else:
            # With redaction on, the link carries the hash the search used, never the clear address.
            value = page.searched if page.redacted else page.query.value
            params = {"key": page.query.key, "value": value, "token": page.next_token}
            out.append("<p>" + _call("Older records", endpoint, params) + "</p>")
    return "".join(out)


def html_document(page: Page) -> str:
    """The CLI's `--html`: the widget's fragment as a page that opens in any browser."""
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>workmail-collector trace</title></head>'
        f"<body>{render_html(page)}</body></html>\n"
    )
