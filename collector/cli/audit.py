"""`audit list | query | get`: read the audit trail, newest first."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.cli.common import UserError
from collector.clock import utc_now
from collector.config import Settings
from collector.events.workmail import normalize_address
from collector.jsonutil import dumps
from collector.redaction import Redactor
from collector.runtime import open_store, resolve_secrets
from collector.store import AuditStore, Query

COLUMNS = ("receivedAt", "invocationId", "status", "direction", "sender", "recipientCount", "messageId")


def _print_items(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        sys.stdout.writelines(dumps(i).decode() + "\n" for i in items)
        return
    if not items:
        print("(no audit records)", file=sys.stderr)
        return
    rows = [[_cell(i, c) for c in COLUMNS] for i in items]
    widths = [max(len(c), *(len(r[n]) for r in rows)) for n, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(item: dict[str, Any], column: str) -> str:
    value = item.get(column, "")
    if column == "sender" and not value:
        value = item.get("mailFrom", "")
    text = str(value)
    return text if len(text) <= 48 else text[:45] + "..."


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"not an ISO 8601 time: {text!r} (try 2026-11-21T10:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _open_for_reading(settings: Settings) -> AuditStore:
    """Reads never create, migrate or purge anything: a missing SQLite file is an error."""
    if settings.store == "sqlite":
        from collector.store.sqlite import SqliteStore

        return SqliteStore(settings.sqlite_path, read_only=True)
    return await open_store(settings)


async def audit(args: argparse.Namespace, settings: Settings) -> int:
    query = None if args.audit_command == "get" else _query(args)  # mistakes first, before any I/O
    settings = await resolve_secrets(settings)  # --sender is hashed with the deployment's own key
    store = await _open_for_reading(settings)
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


def _query(args: argparse.Namespace) -> Query:
    """The query `audit list` or `audit query` asks for; the sender is normalised, not yet hashed."""
    since, until = _when(args.since), _when(args.until)
    if since is not None and until is not None and since > until:
        raise UserError("--since is after --until")
    message_id = getattr(args, "message_id", None)
    sender = getattr(args, "sender", None)
    keyed = message_id is not None or sender is not None
    if args.audit_command == "query" and not keyed and since is None and until is None:
        raise UserError("audit query needs --message-id, --sender, --since or --until")
    if since is None and (args.audit_command == "list" or (until is not None and not keyed)):
        # A time range needs a start; both stores get the same one (DynamoDB walks its days).
        since = (until or utc_now()) - timedelta(days=getattr(args, "days", 7))
    return Query(
        message_id=message_id,
        sender=None if sender is None else normalize_address(sender),
        since=since,
        until=until,
        limit=args.limit + 1,  # one more than shown: says whether the list was cut
        full=bool(args.json),  # the table's columns are all in the time index
    )
