"""`trace` over the audit trail the pipeline writes: every key on both stores, hostile subjects
inert in text, CSV and HTML, redaction, and paging that shows every record once."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.cli import main
from collector.redaction import Redactor
from collector.store import Query
from collector.trace import TraceError, TraceQuery, render_csv, render_html, render_text, search
from collector.trace.search import Key
from tests.conftest import Backend, run
from tests.public_samples import SES, load, sns
from tests.trace_support import (
    ARN,
    EVIL_ARN,
    FORMULA_SUBJECT,
    HOSTILE_SUBJECT,
    OWN_TAGS,
    Elements,
    now,
    record,
    workmail_event,
)

KEY = b"trace-test-redaction-key-0123456789"
SES_MESSAGE = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


def trace_query(
    key: Key, value: str, limit: int = 50, token: str | None = None, days: int = 30
) -> TraceQuery:
    end = now()
    return TraceQuery(key, value, end - timedelta(days=days), end, limit, token)


async def _all_pages(backend: Backend, query: TraceQuery, deadline: float | None = None) -> list[list[str]]:
    store = await backend.open()
    pages: list[list[str]] = []
    token = None
    try:
        while True:
            page = await search(
                store,
                TraceQuery(query.key, query.value, query.since, query.until, query.limit, token),
                Redactor(None),
                deadline=deadline,
            )
            pages.append([str(i["invocationId"]) for i in page.records])
            token = page.next_token
            if token is None:
                return pages
            assert len(pages) < 100, "paging does not end"
    finally:
        await store.close()


def test_a_recipient_query_finds_the_records_that_name_it_on_both_stores(store_backend: Backend) -> None:
    events = [
        (workmail_event(1, recipients=("a@example.com", "b@example.com")), now()),
        (workmail_event(2, recipients=("b@example.com",)), now()),
        (workmail_event(3, recipients=("c@example.com",)), now()),
    ]
    assert run(record(store_backend, events)) == ["RECORDED"] * 3

    async def ask(recipient: str, limit: int = 10) -> list[str]:
        store = await store_backend.open()
        try:
            return sorted(i["messageId"] for i in await store.query(Query(recipient=recipient, limit=limit)))
        finally:
            await store.close()

    assert run(ask("b@example.com")) == ["msg-0001", "msg-0002"]
    assert run(ask("a@example.com")) == ["msg-0001"]
    assert run(ask("nobody@example.com")) == []
    assert len(run(ask("b@example.com", limit=1))) == 1


def test_a_recipient_query_past_one_batch_of_whole_records_keeps_every_match_in_order(
    store_backend: Backend,
) -> None:
    start = now() - timedelta(hours=1)
    events = [
        (
            workmail_event(n, recipients=("many@example.com",) if n % 4 else ("few@example.com",)),
            start + timedelta(seconds=n),
        )
        for n in range(140)
    ]
    run(record(store_backend, events))

    async def ask() -> list[str]:
        store = await store_backend.open()
        try:
            return [
                i["invocationId"] for i in await store.query(Query(recipient="many@example.com", limit=1000))
            ]
        finally:
            await store.close()

    assert run(ask()) == [f"{n:032x}" for n in reversed(range(140)) if n % 4]  # 105: two BatchGetItems


def test_paging_shows_every_record_once_even_when_they_share_one_millisecond(store_backend: Backend) -> None:
    moment = now() - timedelta(minutes=5)
    same = [(workmail_event(n, sender="busy@example.com"), moment) for n in range(11)]
    spread = [
        (workmail_event(100 + n, sender="busy@example.com"), moment - timedelta(seconds=n + 1))
        for n in range(6)
    ]
    other = [(workmail_event(200, sender="other@example.com"), moment)]
    run(record(store_backend, same + spread + other))

    pages = run(_all_pages(store_backend, trace_query("sender", "busy@example.com", limit=4)))
    shown = [key for page in pages for key in page]
    assert sorted(shown) == sorted(f"{n:032x}" for n in [*range(11), *range(100, 106)])
    assert len(shown) == len(set(shown)) == 17
    assert [len(p) for p in pages] == [4, 4, 4, 4, 1]


def test_a_bounded_recipient_walk_stops_at_each_day_and_goes_on_from_there(store_backend: Backend) -> None:
    today = now()
    events = [
        (workmail_event(n, recipients=("walk@example.com",)), today - timedelta(days=n // 2, minutes=1))
        for n in range(6)
    ]
    run(record(store_backend, events))
    # A deadline already past: every page reads one UTC day, then hands over a token.
    pages = run(_all_pages(store_backend, trace_query("recipient", "walk@example.com", days=4), deadline=0.0))
    shown = [key for page in pages for key in page]
    assert sorted(shown) == sorted(f"{n:032x}" for n in range(6))
    assert len(pages) >= 4  # today and the three days before it, one page each (the oldest empty)


def test_one_message_is_one_timeline_of_both_sources(sqlite_backend: Backend) -> None:
    start = now() - timedelta(hours=1)
    names = ["send", "delivery", "bounce", "complaint"]
    events: list[tuple[object, datetime]] = [
        (load(SES / "ses-dg-receipt-lambda-action-event.REPAIRED.json"), start),
        *(
            (sns(load(SES / f"ses-dg-eventpublishing-sns-{n}.json")), start + timedelta(minutes=i + 1))
            for i, n in enumerate(names)
        ),
        (workmail_event(7, sender="sender@example.com", message_id="wm-1"), start + timedelta(minutes=9)),
    ]
    assert run(record(sqlite_backend, events)) == ["RECORDED"] * 6

    store = run(sqlite_backend.open())
    try:
        page = run(search(store, trace_query("message_id", SES_MESSAGE), Redactor(None)))
        both = run(search(store, trace_query("sender", "sender@example.com"), Redactor(None)))
    finally:
        run(store.close())
    text = render_text(page)
    assert "5 events, oldest first" in text
    order = [
        text.index(f"  SES  {d}  {e}  ")
        for d, e in [
            ("INBOUND", "Received"),
            ("OUTBOUND", "Send"),
            ("OUTBOUND", "Delivery"),
            ("OUTBOUND", "Bounce"),
            ("OUTBOUND", "Complaint"),
        ]
    ]
    assert order == sorted(order)
    assert "spf=PASS dkim=PASS" in text  # the receipt's verdicts as stored
    rows = list(csv.DictReader(io.StringIO(render_csv(both))))
    assert {r["source"] for r in rows} == {"WorkMail", "SES"}


def test_a_hostile_subject_is_inert_in_text_csv_and_html(sqlite_backend: Backend) -> None:
    events: list[tuple[object, datetime]] = [
        (workmail_event(1, subject=HOSTILE_SUBJECT, sender="mallory@example.com"), now()),
        (workmail_event(2, subject=FORMULA_SUBJECT, sender="mallory@example.com"), now()),
        (
            workmail_event(
                3, subject="@SUM(1+1)", sender="mallory@example.com", recipients=("-x@example.com",)
            ),
            now(),
        ),
    ]
    run(record(sqlite_backend, events))
    store = run(sqlite_backend.open())
    try:
        page = run(search(store, trace_query("sender", "mallory@example.com"), Redactor(None)))
    finally:
        run(store.close())

    text = render_text(page)
    assert "\x1b" not in text and "\u202e" not in text and "\\x0a  fake" in text
    assert '<script>alert("x")</script>' in text and "\\x1b[2J" in text and "ünïcødé 💌" in text

    rows = list(csv.DictReader(io.StringIO(render_csv(page))))
    subjects = {r["subject"] for r in rows}
    assert "'" + FORMULA_SUBJECT in subjects and "'@SUM(1+1)" in subjects
    assert any(r["recipients"] == "'-x@example.com" for r in rows)
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    assert any("<cwdb-action" in s and "ünïcødé" in s for s in subjects)

    for endpoint in (None, ARN):
        markup = render_html(page, endpoint)
        found = Elements(markup)
        assert found.tags() <= OWN_TAGS
        assert all(a.attrs.get("endpoint") == ARN for a in found.actions())
        assert EVIL_ARN in found.shown() and '<script>alert("x")</script>' in found.shown()
        for action in found.actions():
            json.loads(action.text)  # parameters, not markup


def test_with_redaction_the_search_is_hashed_and_the_output_shows_hashes(sqlite_backend: Backend) -> None:
    events = [(workmail_event(1, subject="Quarterly numbers", sender="Alice@Example.COM"), now())]
    run(record(sqlite_backend, events, redact=True, redaction_key=KEY))
    store = run(sqlite_backend.open())
    try:
        page = run(search(store, trace_query("sender", "Alice@example.com"), Redactor(KEY)))
        plain = run(search(store, trace_query("sender", "Alice@example.com"), Redactor(None)))
        by_recipient = run(search(store, trace_query("recipient", "one@example.com"), Redactor(KEY)))
    finally:
        run(store.close())
    assert len(page.records) == 1 and plain.records == [] and len(by_recipient.records) == 1
    for output in (render_text(page), render_csv(page), render_html(page)):
        assert "hmac:" in output and "(redacted)" in output
        assert "alice" not in output.lower() and "Quarterly" not in output and "one@example.com" not in output


def test_a_token_from_another_search_or_a_broken_one_is_refused() -> None:
    with pytest.raises(TraceError, match="not one this command printed"):
        from collector.trace.search import decode_token

        decode_token("%%%", "sender", "a@example.com")
    from collector.trace.search import Cursor, encode_token

    token = encode_token(Cursor("2026-01-01T00:00:00.000Z"), "sender", "a@example.com")
    with pytest.raises(TraceError, match="another search"):
        decode_token(token, "sender", "b@example.com")
    with pytest.raises(TraceError, match="empty"):
        TraceQuery("sender", "  ", now(), now())


def _cli(args: list[str], db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(["trace", "--db", str(db), *args])
    except SystemExit as exit:  # argparse's own mistakes
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_prints_text_csv_and_html_and_pages(
    sqlite_backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    run(record(sqlite_backend, [(workmail_event(n, subject=HOSTILE_SUBJECT), now()) for n in range(3)]))
    db = sqlite_backend.settings.sqlite_path
    code, out, _ = _cli(["--recipient", "one@example.com", "--limit", "2"], db, capsys)
    assert code == 0 and "2 records on this page" in out
    token = out.rsplit("--page-token ", 1)[1].strip()
    code, out, _ = _cli(["--recipient", "one@example.com", "--limit", "2", "--page-token", token], db, capsys)
    assert code == 0 and "1 record" in out and "--page-token" not in out
    code, out, err = _cli(["--sender", "sender@example.com", "--format", "csv", "--limit", "2"], db, capsys)
    assert code == 0 and len(list(csv.reader(io.StringIO(out)))) == 3 and "--page-token" in err
    code, out, _ = _cli(["--message-id", "msg-0001", "--html"], db, capsys)
    found = Elements(out)
    assert code == 0 and "script" not in found.tags() and not found.actions()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sender", "a@example.com", "--page-token", "nonsense!"], "page token"),
        (["--sender", "a@example.com", "--html", "--format", "csv"], "two formats"),
        (["--sender", "a@example.com", "--since", "2026-02-01", "--until", "2026-01-01"], "after --until"),
        (["--sender", "a@example.com", "--since", "yesterday"], "ISO 8601"),
        (["--sender", " "], "empty"),
        (["--sender", "a@example.com", "--recipient", "b@example.com"], "not allowed with"),
        (["--limit", "5"], "required"),
    ],
)
def test_cli_mistakes_are_one_line_and_exit_2(
    args: list[str], says: str, sqlite_backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    run(record(sqlite_backend, [(workmail_event(1), now())]))
    code, out, err = _cli(args, sqlite_backend.settings.sqlite_path, capsys)
    assert code == 2 and out == "" and says in err and err.count("\n") == 1


def test_the_default_range_is_the_whole_trail(
    sqlite_backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    old = datetime.now(UTC) - timedelta(days=300)
    run(record(sqlite_backend, [(workmail_event(1, message_id="old-one"), old)]))
    code, out, _ = _cli(["--message-id", "old-one"], sqlite_backend.settings.sqlite_path, capsys)
    assert code == 0 and "1 record" in out and "old-one" in out
