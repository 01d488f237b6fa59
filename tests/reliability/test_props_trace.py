"""Properties of the trace: whatever text a message carries, it is shown and never run; whatever
the page size and however many records share a millisecond, paging shows each match once.

For arbitrary subjects, addresses, message IDs and verdicts (markup, quotes, entities, control
characters, surrogate-free unicode): the HTML builds only the renderer's own elements, every
`<cwdb-action>` calls the widget's own ARN with JSON parameters, and the text a browser shows holds
each value as the text renderer shows it; every CSV cell reads back as written and none starts a
formula. Hypothesis runs derandomized with a bounded example count.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.clock import iso_millis
from collector.redaction import Redactor
from collector.store.sqlite import SqliteStore
from collector.trace import TraceQuery, search
from collector.trace.render import inert, render_csv, render_html
from collector.trace.search import Key, Page
from tests.trace_support import ARN, OWN_TAGS, Elements

PROPS = settings(
    derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
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


def _item(n: int, at: datetime, recipient: str) -> dict[str, Any]:
    return {
        "invocationId": f"k{n:04d}",
        "receivedAt": iso_millis(at),
        "receivedDay": at.strftime("%Y-%m-%d"),
        "status": "RECORDED",
        "source": "WorkMail",
        "direction": "INBOUND",
        "messageId": f"m{n % 5}",
        "sender": "s@example.com",
        "recipients": [recipient],
        "recipientCount": 1,
    }


@PROPS
@given(
    moments=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), st.booleans()), max_size=40),
    limit=st.integers(1, 7),
    key=st.sampled_from(["message_id", "sender", "recipient"]),
    bounded=st.booleans(),
)
def test_paging_shows_every_matching_record_exactly_once(
    moments: list[tuple[int, int, bool]], limit: int, key: Key, bounded: bool
) -> None:
    """Records over a few days, many in the same millisecond; whatever the page size, and with a
    recipient walk cut at every day (a deadline already past), the pages hold each match once."""
    base = datetime(2026, 3, 10, 12, tzinfo=UTC)
    items = [
        _item(n, base - timedelta(days=day, milliseconds=ms), "r@example.com" if hit else "x@example.com")
        for n, (day, ms, hit) in enumerate(moments)
    ]
    value = {"message_id": "m1", "sender": "s@example.com", "recipient": "r@example.com"}[key]
    attribute = {"message_id": "messageId", "sender": "sender", "recipient": "recipients"}[key]
    wanted = {str(i["invocationId"]) for i in items if i[attribute] in (value, [value])}

    async def pages() -> list[str]:
        store = SqliteStore(":memory:")
        try:
            for item in items:
                await store.put_once(item)
            shown: list[str] = []
            token = None
            for _ in range(len(items) + 6):
                query = TraceQuery(key, value, base - timedelta(days=5), base, limit, token)
                page = await search(store, query, Redactor(None), deadline=0.0 if bounded else None)
                assert len(page.records) <= limit
                shown += [str(i["invocationId"]) for i in page.records]
                token = page.next_token
                if token is None:
                    return shown
            raise AssertionError("paging does not end")
        finally:
            await store.close()

    shown = asyncio.run(pages())
    assert sorted(shown) == sorted(wanted)
