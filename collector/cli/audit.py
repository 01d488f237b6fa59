"""`audit list | query | get`: read the audit trail, newest first."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.cli.common import UserError, open_for_reading, print_table
from collector.cli.history import check_trail, with_trail
from collector.clock import iso_millis, utc_now
from collector.config import Settings
from collector.events.workmail import normalize_address
from collector.jsonutil import dumps
from collector.redaction import Redactor
from collector.runtime import resolve_secrets
from collector.store import Query
from collector.store.dynamodb import MAX_RANGE_DAYS

# `audit list --days`: N days back from now touch N + 1 UTC days, and DynamoDB reads at most ten
# years of days; both stores take the same bound.
MAX_DAYS = MAX_RANGE_DAYS - 1
MAX_LIMIT = 1_000_000  # `--limit`: all of them are held in memory, and SQLite's LIMIT is 64-bit

COLUMNS = ("receivedAt", "invocationId", "status", "direction", "sender", "recipientCount", "messageId")


def _print_items(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        sys.stdout.writelines(dumps(i).decode() + "\n" for i in items)
        return
    if not items:
        print("(no audit records)", file=sys.stderr)
        return
    print_table(COLUMNS, [[_cell(i, c) for c in COLUMNS] for i in items])


def _cell(item: dict[str, Any], column: str) -> str:
    value = item.get(column, "")
    if column == "sender" and not value:
        value = item.get("mailFrom", "")
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


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
    query = None if args.audit_command == "get" else _query(args, settings.store, utc_now())
    check_trail(args)
    settings = await resolve_secrets(settings)  # --sender is hashed with the deployment's own key
    store = with_trail(await open_for_reading(settings), args)
    try:
        if query is None:
            item = await store.get(args.invocation_id)
            if item is None:
                raise UserError(f"no audit record with invocationId {args.invocation_id}")
            _print_items([item], bool(args.json))
            return 0
        if query.sender is not None:
            query = replace(query, sender=Redactor(settings.redaction_key).value(query.sender))
        found = await store.query(query)
        _print_items(found[: args.limit], args.json)
        if len(found) > args.limit:
            print(
                f"(showing the newest {args.limit} records; more match: raise --limit or narrow the range)",
                file=sys.stderr,
            )
        return 0
    finally:
        await store.close()


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
    if args.audit_command == "query" and not keyed and since is None and until is None:
        raise UserError("audit query needs --message-id, --sender, --since or --until")
    query = Query(
        message_id=message_id,
        sender=None if sender is None else normalize_address(sender),
        since=since,
        until=until,
        limit=args.limit + 1,  # one more than shown: says whether the list was cut
        full=bool(args.json),  # the table's columns are all in the time index
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
