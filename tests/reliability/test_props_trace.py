"""Property: whatever text a message carries, the trace shows it and never runs it.

For arbitrary subjects, addresses, message IDs and verdicts (markup, quotes, entities, control
characters, surrogate-free unicode): the HTML builds only the renderer's own elements, every
`<cwdb-action>` calls the widget's own ARN with JSON parameters, and the text a browser shows holds
each value as the text renderer shows it; every CSV cell reads back as written and none starts a
formula. Hypothesis runs derandomized with a bounded example count.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.trace import TraceQuery
from collector.trace.render import inert, render_csv, render_html
from collector.trace.search import Page
from tests.trace_support import ARN, Elements

PROPS = settings(
    derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
OWN_TAGS = {"style", "p", "table", "thead", "tbody", "tr", "th", "td", "a", "cwdb-action", "code"}
# Text as a mail service could send it: no lone surrogates (the adapters replace those with U+FFFD).
MAIL_TEXT = st.text(
    st.characters(exclude_categories=["Cs"]) | st.sampled_from("<>&\"'=+-@\t\r\n/!;"), max_size=60
)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def page_of(subject: str, sender: str, message_id: str, verdict: str, value: str) -> Page:
    item = {
        "invocationId": "k1",
        "receivedAt": "2026-01-01T00:00:00.000Z",
        "status": "RECORDED",
        "source": "SES",
        "direction": "INBOUND",
        "eventType": "Received",
        "messageId": message_id,
        "sender": sender,
        "recipients": [sender, subject],
        "subject": subject,
        "spfVerdict": verdict,
    }
    query = TraceQuery("sender", value or "x", WHEN, WHEN)
    return Page(query, value or "x", [item], next_token="tok" if value else None)


@PROPS
@given(subject=MAIL_TEXT, sender=MAIL_TEXT, message_id=MAIL_TEXT, verdict=MAIL_TEXT, value=MAIL_TEXT)
def test_any_mail_text_is_shown_and_never_markup(
    subject: str, sender: str, message_id: str, verdict: str, value: str
) -> None:
    page = page_of(subject, sender, message_id, verdict, value)
    found = Elements(render_html(page, ARN))
    assert found.tags() <= OWN_TAGS
    for action in found.actions():
        assert action.attrs == {"action": "call", "endpoint": ARN, "display": "widget"}
        assert isinstance(json.loads(action.text), dict)
    shown = found.shown()
    for value_shown in (subject, sender, verdict):
        assert inert(value_shown).strip() in shown

    rows = list(csv.reader(io.StringIO(render_csv(page))))
    assert len(rows) == 2
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["subject"].removeprefix("'") == inert(subject)
