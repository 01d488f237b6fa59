"""`export`: the audit trail as Parquet in day folders (one object a day, a few parts of whole
minutes for a big day; no file for a day with no records), for Athena or `sql` (docs/trail.md)."""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from collector.cli.common import Parser, UserError, open_for_reading, store_options
from collector.cli.trail_extra import missing_extra
from collector.clock import parse_day, utc_now
from collector.config import Settings
from collector.store.dynamodb import MAX_RANGE_DAYS

if TYPE_CHECKING:
    from collector.trail.export import ExportedDay

DEFAULT_DAYS = 365  # with no --since: the year up to --until


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    p = commands.add_parser(
        "export",
        help="write the audit trail as Parquet, a file per UTC day (a few for a big day) in day=YYYY-MM-DD/",
        description="Write each UTC day's audit records as Parquet under DIR/day=YYYY-MM-DD/: one file"
        " for the day, or parts of whole minutes for a day past a million records, replacing what an"
        " earlier export wrote for that day. Today's partial day is written too: export again to"
        " replace it. Query the folder with `sql`.",
    )
    p.add_argument("--out", required=True, help="the folder to write into (created when missing)")
    p.add_argument(
        "--since", help=f"first UTC day, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before --until)"
    )
    p.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: today)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace a day even where the store holds fewer of its records than the files in --out"
        " (a table whose TTL expired them): without it such a day is refused",
    )
    store_options(p)


def _day(text: str, flag: str) -> date:
    try:
        return parse_day(text)
    except ValueError:
        raise UserError(f"{flag} must be a day, YYYY-MM-DD, got {text!r}") from None


def days_from(args: argparse.Namespace, today: date) -> tuple[date, date]:
    until = _day(args.until, "--until") if args.until else today
    since = _day(args.since, "--since") if args.since else until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise UserError(f"--since {since} is after --until {until}")
    if (until - since).days >= MAX_RANGE_DAYS:
        raise UserError(f"at most {MAX_RANGE_DAYS} days at a time: narrow --since or --until")
    return since, until


def _out(text: str) -> Path:
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {text} is a file, not a folder")
    return out


def _say(exported: ExportedDay) -> None:
    for part in exported.parts:
        print(f"{part.key}  {part.rows} records  {part.size} bytes")
    for key in exported.deleted:
        print(f"{key}  deleted (not a record of the store's {exported.day})")


async def export(args: argparse.Namespace, settings: Settings) -> int:
    since, until = days_from(args, utc_now().date())
    out = _out(args.out)
    try:
        from collector.trail.export import FolderSink
        from collector.trail.export import export as run_export

        importlib.import_module("collector.trail.writer")  # pyarrow, asked for before the store opens
    except ImportError as error:
        raise missing_extra(error, "export") or error from None
    store = await open_for_reading(settings)
    try:
        done = await run_export(store, FolderSink(out), since, until, on_day=_say, force=args.force)
    finally:
        await store.close()
    records = sum(d.rows for d in done)
    files = sum(len(d.parts) for d in done)
    print(f"exported {records} records of {since} .. {until} as {files} files in {out}", file=sys.stderr)
    return 0
