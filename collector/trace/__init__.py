"""Message trace: what happened to one message, or to a sender's or recipient's mail.

One face for the CLI (`workmail-collector trace`) and the dashboard's custom widget
(collector/trace_widget.py): `search` reads one page from any audit store, `render_text`,
`render_csv` and `render_html` show it with every value from mail made inert.
"""

from __future__ import annotations

from collector.trace.render import html_document, render_csv, render_form, render_html, render_text
from collector.trace.search import KEYS, MAX_LIMIT, Key, Page, TraceError, TraceQuery, search, searched_value

__all__ = [
    "KEYS",
    "MAX_LIMIT",
    "Key",
    "Page",
    "TraceError",
    "TraceQuery",
    "html_document",
    "render_csv",
    "render_form",
    "render_html",
    "render_text",
    "search",
    "searched_value",
]
