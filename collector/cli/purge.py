"""`audit purge-invalid`: remove the quarantined records of a time range, after a confirmation.

For the junk a mistaken replay stored (`replay .` in a checkout, a README): left in the trail, it
counts in reconcile, and `reconcile --fix` would write it into InvalidEvents, an alarmed metric.
Only records with status INVALID are removed (each delete is conditional on it): a record of a
real message never is. On a terminal it asks first; elsewhere it refuses without --yes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO, cast

from collector.cli.audit import _when
from collector.cli.common import UserError, open_for_reading, store_options
from collector.config import Settings
from collector.runtime import open_store
from collector.store import PurgesInvalid


def add_parser(audit_commands: Any) -> None:
    p = audit_commands.add_parser(
        "purge-invalid", help="remove quarantined (INVALID) records of a time range, after a confirmation"
    )
    store_options(p)
    p.add_argument("--since", required=True, help="ISO 8601 start (UTC if no offset)")
    p.add_argument("--until", required=True, help="ISO 8601 end")
    p.add_argument("--yes", action="store_true", help="remove without asking (needed when not on a terminal)")


async def purge_invalid(args: argparse.Namespace, settings: Settings, stdin: TextIO | None = None) -> int:
    answers = stdin or sys.stdin
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    assert since is not None and until is not None  # both flags are required
    if since > until:
        raise UserError(f"--since {args.since} is after --until {args.until}")
    span = f"received from {args.since} to {args.until}"
    reader = await open_for_reading(settings)
    try:
        found = await cast(PurgesInvalid, reader).purge_invalid(since, until, apply=False)
    finally:
        await reader.close()
    if not found:
        print(f"no quarantined records {span}", file=sys.stderr)
        return 0
    question = f"remove {found} quarantined (INVALID) record{'s' if found != 1 else ''} {span}?"
    if not args.yes:
        if not answers.isatty():
            raise UserError(f"{question} Not on a terminal: add --yes to remove them")
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
        if answers.readline().strip().lower() not in ("y", "yes"):
            print("nothing removed", file=sys.stderr)
            return 0
    writer = await open_store(settings)
    try:
        removed = await cast(PurgesInvalid, writer).purge_invalid(since, until, apply=True)
    finally:
        await writer.close()
    print(f"removed {removed} quarantined record{'s' if removed != 1 else ''} {span}", file=sys.stderr)
    return 0
