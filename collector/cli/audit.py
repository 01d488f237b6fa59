"""`audit list | query | get`: read the audit trail, newest first."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.cli.common import UserError
from collector.clock import utc_now
from collector.config import Settings
from collector.events.workmail import normalize_address
from collector.jsonutil import dumps
from collector.redaction import Redactor
from collector.runtime import open_store, resolve_secrets
from collector.store import Query

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


async def audit(args: argparse.Namespace, settings: Settings) -> int:
    settings = await resolve_secrets(settings)  # --sender is hashed with the deployment's own key
    store = await open_store(settings)
    try:
        if args.audit_command == "get":
            item = await store.get(args.invocation_id)
            if item is None:
                raise UserError(f"no audit record with invocationId {args.invocation_id}")
            _print_items([item], bool(args.json))
            return 0
        since, until = _when(args.since), _when(args.until)
        if since is not None and until is not None and since > until:
            raise UserError("--since is after --until")
        keyed = getattr(args, "message_id", None) is not None or getattr(args, "sender", None) is not None
        if since is None and (args.audit_command == "list" or (until is not None and not keyed)):
            # A time range needs a start; both stores get the same one (DynamoDB walks its days).
            since = (until or utc_now()) - timedelta(days=getattr(args, "days", 7))
        sender = getattr(args, "sender", None)
        if sender is not None:
            sender = Redactor(settings.redaction_key).value(normalize_address(sender))
        query = Query(
            message_id=getattr(args, "message_id", None),
            sender=sender,
            since=since,
            until=until,
            limit=args.limit,
            full=bool(args.json),  # the table's columns are all in the time index
        )
        if (
            args.audit_command == "query"
            and query.message_id is None
            and query.sender is None
            and since is None
            and until is None
        ):
            raise UserError("audit query needs --message-id, --sender, --since or --until")
        _print_items(await store.query(query), args.json)
        return 0
    finally:
        await store.close()
