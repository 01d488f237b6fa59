"""`audit list` and `audit query`: each record's source, event type and whole key; filters by source,
event type and status that SQLite and DynamoDB Local answer alike; CSV; a progress line on a
terminal while a long range is read."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cli import main
from collector.cli.audit import CHUNK_DAYS, COLUMNS, read
from collector.clock import iso_millis
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation, Item
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.sampling_ses import generate_ses_events
from collector.store import AuditStore, Query
from collector.store.sqlite import SqliteStore
from tests.conftest import Backend, run
from tests.test_store_contract import with_store

START = datetime(2026, 11, 20, 9, tzinfo=UTC)


def events() -> list[object]:
    """WorkMail both ways, SES receipts and each kind of sending event, and one invalid event."""
    return [
        *generate_events(count=2, direction="INBOUND", seed=1),
        *generate_events(count=1, direction="OUTBOUND", seed=2),
        *generate_ses_events(count=2, seed=3),
        *generate_ses_events(count=1, event="send", seed=4),
        *generate_ses_events(count=2, event="delivery", seed=5),
        *generate_ses_events(count=1, event="bounce", via="sns", seed=6),
        {"flowDirection": "INBOUND", "note": "no messageId: invalid"},
    ]


async def seed(store: AuditStore) -> list[Item]:
    """Every event through the real pipeline, a minute apart, and a WorkMail record from before
    records had a source. Returns them all, as stored."""
    pipeline = Pipeline(store, EmfWriter("Test", "svc", lambda _: None), Settings())
    for n, event in enumerate(events()):
        await pipeline.process(event, Invocation(f"req-{n}", "1", START + timedelta(minutes=n)))
    stored = await store.query(Query(since=START, until=START + timedelta(hours=1), limit=100))
    legacy = {k: v for k, v in stored[-1].items() if k != "source"}
    legacy.update(invocationId="legacy-workmail-record", receivedAt=iso_millis(START - timedelta(minutes=1)))
    await store.put_once(legacy)
    return await store.query(
        Query(since=START - timedelta(hours=1), until=START + timedelta(hours=1), limit=100)
    )


def expected(
    records: list[Item], source: str | None, event_type: str | None, status: str | None
) -> list[str]:
    def keep(item: Item) -> bool:
        return (
            (source is None or (item.get("source") or "WorkMail") == source)
            and (event_type is None or item.get("eventType") == event_type)
            and (status is None or item.get("status") == status)
        )

    return [i["invocationId"] for i in records if keep(i)]


def test_both_stores_filter_by_source_event_type_and_status_alike(store_backend: Backend) -> None:
    async def body(store: AuditStore) -> None:
        records = await seed(store)
        assert {i.get("eventType") for i in records} >= {None, "Received", "Send", "Delivery", "Bounce"}
        assert {i["status"] for i in records} == {"RECORDED", "INVALID"}
        window = Query(since=START - timedelta(hours=1), until=START + timedelta(hours=1), limit=100)
        grid = itertools.product(
            (None, "WorkMail", "SES"),
            (None, "Received", "Send", "Delivery", "Bounce", "Complaint"),
            (None, "RECORDED", "INVALID"),
        )
        for source, event_type, status in grid:
            want = expected(records, source, event_type, status)
            for full in (True, False):
                asked = replace(window, full=full, source=source, event_type=event_type, status=status)
                found = await store.query(asked)
                assert [i["invocationId"] for i in found] == want, asked
        legacy = await store.query(replace(window, source="WorkMail"))
        assert "legacy-workmail-record" in [i["invocationId"] for i in legacy]

    run(with_store(store_backend, body))


# ------------------------------------------------------------------------------------- the command


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.sqlite3"
    run(with_store(Backend("sqlite", Settings(store="sqlite", sqlite_path=path)), seed))
    return path


def audit(db: Path, *args: str) -> int:
    return main(
        ["audit", args[0], "--db", str(db), "--since", iso_millis(START - timedelta(hours=1)), *args[1:]]
    )


def test_each_record_shows_its_source_event_type_and_whole_key(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit(db, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(COLUMNS)
    bounce = next(line for line in lines if ":Bounce:" in line)
    key = bounce.split()[1]
    assert key.startswith("ses:") and key.endswith(key.rsplit(":", 1)[1]) and "..." not in bounce
    assert bounce.split()[2:6] == ["SES", "Bounce", "RECORDED", "OUTBOUND"]
    assert main(["audit", "get", "--db", str(db), key]) == 0, "the key shown is the key `audit get` takes"
    workmail = [line.split() for line in lines[1:] if line.split()[2] == "WorkMail"]
    assert workmail and all(row[3] == "-" for row in workmail)


def test_the_filters_and_csv(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit(db, "query", "--source", "ses", "--event-type", "DELIVERY", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 and {(r["source"], r["eventType"], r["status"]) for r in rows} == {
        ("SES", "Delivery", "RECORDED")
    }
    assert list(rows[0]) == list(COLUMNS) and all(r["invocationId"].startswith("ses:") for r in rows)

    assert audit(db, "list", "--status", "invalid", "--json") == 0
    (invalid,) = capsys.readouterr().out.splitlines()
    assert '"status":"INVALID"' in invalid and '"reason"' in invalid  # --json: whole records

    assert audit(db, "list", "--source", "WorkMail", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["source"] for r in rows} == {"WorkMail"} and {r["eventType"] for r in rows} == {""}
    assert "legacy-workmail-record" in {r["invocationId"] for r in rows}

    assert audit(db, "query", "--status", "RECORDED", "--source", "SES", "--event-type", "Complaint") == 0
    assert "(no audit records)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "gmail"], "argument --source: 'gmail' is not a source: one of WorkMail, SES"),
        (["--event-type", "opened"], "argument --event-type: 'opened' is not an SES event type"),
        (["--status", "DUPLICATE"], "argument --status: 'DUPLICATE' is not a record status"),
        (["--json", "--format", "csv"], "give --json or --format csv, not both"),
        (["--format", "xlsx"], "argument --format: invalid choice"),
    ],
)
def test_a_bad_filter_or_format_is_one_line(
    db: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = audit(db, "list", *args)
    except SystemExit as done:
        code = int(done.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


# -------------------------------------------------------------------------------- long ranges


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def day_items(days: list[int]) -> list[Item]:
    """One record per entry: on that day after 2026-01-01, at an hour of its own."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for n, day in enumerate(days):
        moment = base + timedelta(days=day, hours=n % 24, milliseconds=n)
        items.append(
            {
                "invocationId": f"k{n:04d}",
                "receivedAt": iso_millis(moment),
                "receivedDay": moment.date().isoformat(),
                "status": "RECORDED" if n % 3 else "INVALID",
                "source": "SES" if n % 2 else "WorkMail",
            }
        )
    return items


@settings(max_examples=40, deadline=None)
@given(
    days=st.lists(st.integers(min_value=0, max_value=120), max_size=40),
    span=st.tuples(st.integers(0, 120), st.integers(0, 120)),
    limit=st.integers(1, 50),
    status=st.sampled_from([None, "RECORDED", "INVALID"]),
)
def test_reading_a_range_in_chunks_answers_as_one_query(
    days: list[int], span: tuple[int, int], limit: int, status: str | None
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    first, last = sorted(span)
    query = Query(
        since=base + timedelta(days=first, hours=5),
        until=base + timedelta(days=last, hours=17),
        limit=limit,
        full=False,
        status=status,
    )

    async def body() -> None:
        store = SqliteStore(":memory:")
        for item in day_items(days):
            await store.put_once(item)
        whole = await store.query(query)
        terminal = Terminal()
        assert await read(store, query, base, terminal) == whole
        chunked = last - first + 1 > CHUNK_DAYS
        shown = terminal.getvalue()
        assert ("\rreading the audit trail:" in shown) == chunked
        assert shown.endswith("\r") == chunked
        await store.close()

    run(body())


def test_a_long_read_shows_its_progress_on_a_terminal_only() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    query = Query(since=base, until=base + timedelta(days=100), limit=1000, full=False)

    async def body() -> tuple[str, str]:
        store = SqliteStore(":memory:")
        for item in day_items(list(range(0, 100, 3))):
            await store.put_once(item)
        terminal, pipe = Terminal(), io.StringIO()
        assert await read(store, query, base, terminal) == await read(store, query, base, pipe)
        await store.close()
        return terminal.getvalue(), pipe.getvalue()

    shown, piped = run(body())
    assert piped == ""
    assert shown.count("\rreading the audit trail:") == -(-101 // CHUNK_DAYS)
    assert "100% of the range, 34 records" in shown and shown.endswith("\r")


def test_a_csv_cell_never_starts_a_formula(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sender is whatever the mail said: a spreadsheet must show it, not run it."""
    db = tmp_path / "audit.sqlite3"
    event = generate_events(count=1, seed=9)[0]
    event["sender"]["address"] = event["envelope"]["mailFrom"]["address"] = (
        '=HYPERLINK("http://x.example")@example.com'
    )

    async def put(store: AuditStore) -> None:
        pipeline = Pipeline(store, EmfWriter("Test", "svc", lambda _: None), Settings())
        await pipeline.process(event, Invocation("req-1", "1", START))

    run(with_store(Backend("sqlite", Settings(store="sqlite", sqlite_path=db)), put))
    assert audit(db, "list", "--format", "csv") == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["sender"] == '\'=HYPERLINK("http://x.example")@example.com'
