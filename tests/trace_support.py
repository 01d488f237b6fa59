"""What the trace tests share: records written by the real pipeline, and an HTML reader that says
which elements a page really holds (what a browser would build), not what its text mentions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from collector.metrics import EmfWriter, features_for
from collector.model import Invocation, Source
from collector.pipeline import Pipeline
from tests.conftest import Backend

SOURCES = (Source.WORKMAIL, Source.SES)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:trace-widget"
EVIL_ARN = "arn:aws:lambda:us-east-1:123456789012:function:evil"
# A subject a sender controls: markup, a widget action that would call a function with the viewer's
# rights, both quotes, ampersands and entities, a terminal escape, unicode and a bidi override.
HOSTILE_SUBJECT = (
    '<script>alert("x")</script><img src=x onerror=alert(1)>'
    f'<cwdb-action action="call" endpoint="{EVIL_ARN}" display="widget">{{"delete": true}}</cwdb-action>'
    " \"double\" 'single' &amp; & \x1b[2J ünïcødé 💌 \u202eevil\n  fake  SES  INBOUND  Received  RECORDED"
)
# Every element the renderer itself writes; anything else in a page came from mail.
OWN_TAGS = frozenset(
    {"style", "p", "table", "thead", "tbody", "tr", "th", "td", "div", "a", "cwdb-action", "code"}
)
FORMULA_SUBJECT = '=HYPERLINK("http://evil.example","click")'


def workmail_event(
    n: int,
    *,
    subject: str = "Hello",
    sender: str = "sender@example.com",
    recipients: Iterable[str] = ("one@example.com",),
    message_id: str | None = None,
) -> dict[str, Any]:
    """A WorkMail event shaped like the public 2018-10-10 sample."""
    return {
        "summaryVersion": "2018-10-10",
        "envelope": {
            "mailFrom": {"address": sender},
            "recipients": [{"address": r} for r in recipients],
        },
        "sender": {"address": sender},
        "subject": subject,
        "messageId": message_id or f"msg-{n:04d}",
        "invocationId": f"{n:032x}",
        "flowDirection": "INBOUND",
        "truncated": False,
    }


async def record(backend: Backend, events: Iterable[tuple[object, datetime]], **settings: Any) -> list[str]:
    """Each event through the collector's pipeline, received at its time; the statuses."""
    config = dataclasses.replace(backend.settings, sources=SOURCES, **settings)
    store = await dataclasses.replace(backend, settings=config).open()
    emf = EmfWriter(config.namespace, "svc", lambda _line: None, features_for(False, SOURCES))
    pipeline = Pipeline(store, emf, config)
    try:
        return [
            (await pipeline.process(raw, Invocation(f"req-{n}", "1", at))).status.value
            for n, (raw, at) in enumerate(events)
        ]
    finally:
        await pipeline.close()


def now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class Elements(HTMLParser):
    """Every element a browser would build from the HTML, with the text inside each
    `<cwdb-action>` (its parameters), and all text as shown."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.text: list[str] = []
        self._open_actions: list[Element] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag == "cwdb-action":
            self._open_actions.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag == "cwdb-action" and self._open_actions:
            self._open_actions.pop()

    def handle_data(self, data: str) -> None:
        if self._open_actions:
            self._open_actions[-1].text += data
        else:
            self.text.append(data)

    def tags(self) -> set[str]:
        return {e.tag for e in self.elements}

    def actions(self) -> list[Element]:
        return [e for e in self.elements if e.tag == "cwdb-action"]

    def shown(self) -> str:
        return "".join(self.text)
