"""`audit list | query | get`: read the audit trail, newest first.

Each record shows its source and event type (an SES Bounce is no `RECORDED OUTBOUND` like any
other) and its whole key; `--source`, `--event-type` and `--status` filter on what the time index
keeps, so both stores answer from it; `--format csv` writes a spreadsheet's rows (a cell that a
spreadsheet would run as a formula, such as a sender `=cmd|...@x`, gets a leading `'`). A long
range is read about two weeks at a time, newest first, with a progress line on a terminal.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TextIO

from collector.cli.common import UserError, open_for_reading, print_table
from collector.cli.history import check_trail, with_trail
from collector.clock import iso_millis, utc_now
from collector.config import Settings
from collector.events.workmail import normalize_address
from collector.jsonutil import dumps
from collector.model import QUARANTINE_KEY_PREFIX, EventType, Item, Source
from collector.redaction import Redactor
from collector.runtime import resolve_secrets
from collector.store import AuditStore, Query, utc_day_bounds
from collector.store.dynamodb import MAX_RANGE_DAYS, PARALLEL_QUERIES

# `audit list --days`: N days back from now touch N + 1 UTC days, and DynamoDB reads at most ten
# years of days; both stores take the same bound.
MAX_DAYS = MAX_RANGE_DAYS - 1
MAX_LIMIT = 1_000_000  # `--limit`: all of them are held in memory, and SQLite's LIMIT is 64-bit

COLUMNS = (
    "receivedAt",
    "invocationId",
    "source",
    "eventType",
    "status",
    "direction",
    "sender",
    "recipientCount",
    "messageId",
)
WHOLE = frozenset({"invocationId", "messageId"})  # keys are never cut: they are what `audit get` takes
FORMATS = ("table", "csv", "json")
STATUSES = ("RECORDED", "INVALID")  # collector/audit.py
CHUNK_DAYS = PARALLEL_QUERIES  # a long range is read this many UTC days at a time, newest first
FORMULA_STARTS = frozenset("=+-@\t\r")  # what spreadsheets read as the start of a formula


def _print_items(items: list[Item], output: str) -> None:
    if output == "json":
        sys.stdout.writelines(dumps(i).decode() + "\n" for i in items)
        return
    if not items:
        print("(no audit records)", file=sys.stderr)
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(COLUMNS)
        writer.writerows([_inert(_value(i, c)) for c in COLUMNS] for i in items)
    elif items:
        print_table(COLUMNS, [[_cell(i, c) for c in COLUMNS] for i in items])


def _value(item: Item, column: str) -> str:
    """The column's whole value; a record from before sources is WorkMail's."""
    value = item.get(column)
    if column == "sender" and not value:
        value = item.get("mailFrom")
    if column == "source" and not value:
        value = Source.WORKMAIL.value
    return "" if value is None else str(value)


def _inert(text: str) -> str:
    """A cell a spreadsheet shows as text: addresses come from mail headers, anyone's to choose."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _cell(item: Item, column: str) -> str:
    text = _value(item, column)
    if column == "eventType" and not text:
        return "-"  # a WorkMail event is a message: no event type
    return text if column in WHOLE or len(text) <= 48 else text[:45] + "..."


def _canonical(names: Sequence[str], what: str) -> Callable[[str], str]:
    """An argparse type: one of `names`, in any case, given back as stored."""
    by_lower = {n.lower(): n for n in names}

    def parse(text: str) -> str:
        found = by_lower.get(text.strip().lower())
        if found is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: one of {', '.join(names)}")
        return found

    parse.__name__ = what
    return parse


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """`audit list` and `audit query`: filters on what the time index keeps, and the output format."""
    p.add_argument("--source", type=_canonical([s.value for s in Source], "a source"), help="WorkMail or SES")
    p.add_argument(
        "--event-type",
        type=_canonical([t.value for t in EventType], "an SES event type"),
        help="an SES event type: Received, Send, Delivery, Bounce, ... (WorkMail events have none)",
    )
    p.add_argument("--status", type=_canonical(STATUSES, "a record status"), help="RECORDED or INVALID")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="table (default), csv (a header and one row per record, for spreadsheets), or json (as --json)",
    )


def _output(args: argparse.Namespace) -> str:
    chosen = getattr(args, "format", None)
    if args.json and chosen not in (None, "json"):
        raise UserError(f"give --json or --format {chosen}, not both")
    return "json" if args.json else chosen or "table"


def _when(text: str | None, flag: str) -> datetime | None:
    """The flag's time in UTC (UTC too when it has no offset)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"not an ISO 8601 time: {text!r} (try 2026-11-21T10:00:00Z)") from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the year 9999 in UTC
        raise UserError(f"{flag} {text} is outside the years 1 to 9999 in UTC") from None


async def audit(args: argparse.Namespace, settings: Settings) -> int:
    # Mistakes first, before any I/O.
    now = utc_now()
    output = _output(args)
    query = None if args.audit_command == "get" else _query(args, settings.store, now)
    check_trail(args)
    settings = await resolve_secrets(settings)  # --sender is hashed with the deployment's own key
    store = with_trail(await open_for_reading(settings), args)
    try:
        if query is None:
            item = await store.get(args.invocation_id)
            if item is None:
                raise UserError(
                    f"no audit record with invocationId {args.invocation_id} (a quarantined payload is"
                    f" keyed {QUARANTINE_KEY_PREFIX}<hash>, the id it carried kept as claimedKey:"
                    " `audit list --json` shows both)"
                )
            _print_items([item], output)
            return 0
        if query.sender is not None:
            query = replace(query, sender=Redactor(settings.redaction_key).value(query.sender))
        found = await read(store, query, now, sys.stderr)
        _print_items(found[: args.limit], output)
        if len(found) > args.limit:
            print(
                f"(showing the newest {args.limit} records; more match: raise --limit or narrow the range)",
                file=sys.stderr,
            )
        return 0
    finally:
        await store.close()


async def read(store: AuditStore, query: Query, now: datetime, stream: TextIO) -> list[Item]:
    """What `store.query(query)` answers, read CHUNK_DAYS UTC days at a time, newest first, until
    the limit is reached, so a long range can show its progress (on a terminal only)."""
    chunks = _chunks(*query.window(now))
    progress = ReadProgress(stream, len(chunks)) if len(chunks) > 1 and stream.isatty() else None
    found: list[Item] = []
    try:
        for n, (since, until) in enumerate(chunks, 1):
            part = replace(query, since=since, until=until, limit=query.limit - len(found))
            found += await store.query(part)
            if progress is not None:
                progress.show(n, len(found))
            if len(found) >= query.limit:
                break
    finally:
        if progress is not None:
            progress.close()
    return found


def _chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end] as ranges of CHUNK_DAYS whole UTC days (cut at both ends), newest first."""
    chunks = []
    last = end.date()
    while True:
        first = max(start.date(), last - timedelta(days=CHUNK_DAYS - 1))
        chunks.append((max(start, utc_day_bounds(first)[0]), min(end, utc_day_bounds(last)[1])))
        if first <= start.date():
            return chunks
        last = first - timedelta(days=1)


class ReadProgress:
    """One line on stderr, redrawn in place while a long range is read, erased when done."""

    def __init__(self, stream: TextIO, chunks: int) -> None:
        self._stream = stream
        self._chunks = chunks
        self._width = 0

    def show(self, done: int, records: int) -> None:
        line = f"reading the audit trail: {100 * done // self._chunks}% of the range, {records} records"
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def close(self) -> None:
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()


def _query(args: argparse.Namespace, store: str, now: datetime) -> Query:
    """The query `audit list` or `audit query` asks for; the sender is normalised, not yet hashed.

    A range the stores would refuse (backwards, in the future, past the calendar, too long for
    DynamoDB's day-by-day reads) is the user's mistake, so it is refused here, by flag."""
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    if since is not None and until is not None and since > until:
        raise UserError("--since is after --until")
    if since is not None and since > now:
        raise UserError(f"--since {args.since} is in the future (it is {iso_millis(now)} now)")
    message_id = getattr(args, "message_id", None)
    sender = getattr(args, "sender", None)
    keyed = message_id is not None or sender is not None
    filtered = args.source is not None or args.event_type is not None or args.status is not None
    if args.audit_command == "query" and not (keyed or filtered) and since is None and until is None:
        raise UserError(
            "audit query needs --message-id, --sender, --since or --until"
            " (or --source, --event-type, --status)"
        )
    query = Query(
        message_id=message_id,
        sender=None if sender is None else normalize_address(sender),
        since=since,
        until=until,
        limit=args.limit + 1,  # one more than shown: says whether the list was cut
        full=_output(args) == "json",  # the table's and csv's columns are all in the time index
        source=args.source,
        event_type=args.event_type,
        status=args.status,
    )
    try:
        if since is None and args.audit_command == "list":
            # `--days` back; `audit query` leaves the start to Query.window (7 or 30 days back).
            query = replace(query, since=(until or now) - timedelta(days=args.days))
        start, end = query.window(now)
    except OverflowError:
        raise UserError(f"--until {args.until} leaves no room to look back before it (the year 1)") from None
    if store == "dynamodb" and (end.date() - start.date()).days >= MAX_RANGE_DAYS:
        raise UserError(
            f"the range spans more than {MAX_RANGE_DAYS} days, which DynamoDB reads one by one:"
            " narrow --since or --until"
        )
    return query
