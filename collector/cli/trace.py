"""`trace`: what happened to a message, or to a sender's or recipient's mail, from the audit trail.

The same search and renderer as the dashboard's trace widget (collector/trace/), on the store the
CLI is pointed at. By default the whole trail is searched: from the retention period back (the
records' own expiry) to now.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from collector.cli.audit import _when
from collector.cli.common import Parser, UserError, at_least, open_for_reading, store_options
from collector.cli.trail_extra import missing_extra
from collector.clock import iso_millis, utc_now
from collector.config import Settings
from collector.redaction import Redactor
from collector.runtime import resolve_secrets
from collector.store.dynamodb import MAX_RANGE_DAYS
from collector.trace import (
    MAX_LIMIT,
    Key,
    TraceError,
    TraceQuery,
    html_document,
    render_csv,
    render_text,
    search,
)
from collector.trace.search import Records

if TYPE_CHECKING:
    from collector.trace.trail import TrailRecords

FORMATS = ("text", "csv", "html")
# A recipient search on DynamoDB reads whole records day by day: each page stops reading after
# this long and prints a token that goes on from the first day it did not read.
PAGE_SECONDS = 20.0


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "trace",
        help="one message's events as a timeline, or the mail of one sender or recipient",
        description="Records by message ID, sender or recipient, newest first and paged, each "
        "message's events grouped as one timeline (WorkMail and SES in one answer). "
        "Default range: the whole trail (the retention period back from now).",
    )
    key = p.add_mutually_exclusive_group(required=True)
    key.add_argument("--message-id", help="the message ID (WorkMail's, or SES's mail.messageId)")
    key.add_argument("--sender", help="an address; hashed first when redaction is on")
    key.add_argument("--recipient", help="an address; hashed first when redaction is on")
    p.add_argument("--since", help="ISO 8601 start (UTC if no offset; default: the retention period back)")
    p.add_argument("--until", help="ISO 8601 end (default: now)")
    p.add_argument(
        "--limit",
        type=at_least(1, most=MAX_LIMIT),
        default=50,
        help=f"records per page (default 50, at most {MAX_LIMIT})",
    )
    p.add_argument("--page-token", help="the token the previous page printed: the next, older page")
    p.add_argument("--format", choices=FORMATS, help="text (default), csv, or html (as --html)")
    p.add_argument("--html", action="store_true", help="the dashboard widget's HTML, as one page")
    p.add_argument(
        "--trail",
        help="also search this exported trail (the folder `export --out` wrote): back past the"
        " store's retention (needs the trail extra)",
    )
    store_options(p)


def _format(args: argparse.Namespace) -> str:
    if args.html and args.format not in (None, "html"):
        raise UserError(f"--html and --format {args.format} ask for two formats: give one")
    return "html" if args.html else args.format or "text"


def _query(args: argparse.Namespace, settings: Settings, now: datetime) -> TraceQuery:
    """The page asked for; every mistake refused here, before any I/O."""
    key: Key = (
        "message_id" if args.message_id is not None else "sender" if args.sender is not None else "recipient"
    )
    value = args.message_id if key == "message_id" else args.sender if key == "sender" else args.recipient
    until = _when(args.until, "--until") or now
    since = _when(args.since, "--since")
    if since is not None and since > now:
        raise UserError(f"--since {args.since} is in the future (it is {iso_millis(now)} now)")
    if since is None:
        # The store's records reach back the retention (0: they never expire); a trail, further.
        days = MAX_RANGE_DAYS - 1 if args.trail else settings.retention_days or MAX_RANGE_DAYS - 1
        try:
            since = until - timedelta(days=min(days, MAX_RANGE_DAYS - 1))
        except OverflowError:
            raise UserError(f"--until {args.until} leaves no room to look back before it") from None
    if since > until:
        raise UserError("--since is after --until")
    if (
        settings.store == "dynamodb"
        and not args.trail
        and (until.date() - since.date()).days >= MAX_RANGE_DAYS
    ):
        raise UserError(
            f"the range spans more than {MAX_RANGE_DAYS} days, which DynamoDB reads one by one:"
            " narrow --since or --until"
        )
    try:
        return TraceQuery(key, value, since, until, args.limit, args.page_token)
    except TraceError as error:
        raise UserError(str(error)) from None


def _trail(folder: str | None) -> TrailRecords | None:
    """The exported trail to search too, opened before the store: its mistakes are the user's."""
    if folder is None:
        return None
    path = Path(folder)
    if not path.is_dir():
        raise UserError(f"--trail {folder} is not a folder: give the one `export --out` wrote")
    try:
        from collector.trace.trail import TrailRecords

        return TrailRecords(path)
    except ImportError as error:
        raise missing_extra(error, "trace --trail") or error from None


async def trace(args: argparse.Namespace, settings: Settings) -> int:
    output = _format(args)
    query = _query(args, settings, utc_now())
    settings = await resolve_secrets(settings)  # an address is hashed with the deployment's own key
    trail = _trail(args.trail)
    store = await open_for_reading(settings)
    deadline = time.monotonic() + PAGE_SECONDS if settings.store == "dynamodb" else None
    try:
        records: Records = store
        if trail is not None:
            from collector.trace.trail import Both

            kept = query.until - timedelta(days=settings.retention_days) if settings.retention_days else None
            records = Both(store, trail, store_since=kept)
        page = await search(records, query, Redactor(settings.redaction_key), deadline=deadline)
    except TraceError as error:
        raise UserError(str(error)) from None
    finally:
        await store.close()
        if trail is not None:
            await trail.close()
    if output == "csv":
        sys.stdout.write(render_csv(page))
        if page.next_token is not None:
            print(f"(more records: repeat with --page-token {page.next_token})", file=sys.stderr)
    elif output == "html":
        sys.stdout.write(html_document(page))
    else:
        sys.stdout.write(render_text(page))
    sys.stdout.flush()
    return 0
