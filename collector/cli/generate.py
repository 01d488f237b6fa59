"""`generate-event`: valid WorkMail or SES events for trying the collector out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from collector.cli.common import UserError
from collector.jsonutil import dumps
from collector.sampling import iter_events
from collector.sampling_ses import RECEIPT, SES_EVENTS, WRAPPERS, iter_ses_events

# Each source's own flags, by attribute: given with the other source they would be ignored, so they
# are refused. Their parser defaults are None (or False), so "given" is "not None"; the defaults
# they stand for are applied here.
WORKMAIL_FLAGS = {"direction": "--direction", "layout": "--layout", "id_length": "--id-length"}
SES_FLAGS = {"ses_event": "--ses-event", "via": "--via", "verdict": "--verdict"}
WORKMAIL_DEFAULTS: dict[str, Any] = {"direction": "INBOUND", "layout": "envelope", "id_length": 32}
SES_DEFAULTS: dict[str, Any] = {"ses_event": RECEIPT, "via": "none", "verdict": "PASS"}


def add_ses_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        choices=("workmail", "ses"),
        default="workmail",
        help="WorkMail Run Lambda events (default) or Amazon SES events",
    )
    p.add_argument(
        "--ses-event",
        choices=SES_EVENTS,
        help=f"SES: the kind of event (default {RECEIPT}); needs --source ses",
    )
    p.add_argument(
        "--via",
        choices=WRAPPERS,
        help="SES sending events: as SNS or EventBridge deliver them (default none); needs --source ses",
    )
    p.add_argument(
        "--verdict",
        choices=("PASS", "FAIL", "GRAY"),
        help="SES receipts: their SPF/DKIM/DMARC/spam/virus verdicts (default PASS); needs --source ses",
    )


def _given(args: argparse.Namespace, flags: dict[str, str]) -> list[str]:
    return [flag for name, flag in flags.items() if getattr(args, name, None) is not None]


def check_source_flags(args: argparse.Namespace) -> None:
    """A flag that does not apply to the chosen source is a mistake, not a silent no-op."""
    if args.source == "ses":
        wrong = _given(args, WORKMAIL_FLAGS) + (["--truncated"] if args.truncated else [])
        if wrong:
            raise UserError(f"{', '.join(wrong)}: WorkMail events only, not with --source ses")
        if args.verdict is not None and (args.ses_event or RECEIPT) != RECEIPT:
            raise UserError(f"--verdict: SES receipts only, not --ses-event {args.ses_event}")
        return
    wrong = _given(args, SES_FLAGS)
    if wrong:
        raise UserError(f"{', '.join(wrong)}: SES events only: add --source ses")


def generate(args: argparse.Namespace) -> int:
    """Writes each event as it is made: memory stays flat whatever `--count` (a closed stdout,
    `| head`, ends it quietly in main)."""
    check_source_flags(args)
    events: Iterator[dict[str, Any]]
    if args.source == "ses":
        ses = {name: getattr(args, name) or default for name, default in SES_DEFAULTS.items()}
        try:
            events = iter_ses_events(
                count=args.count,
                event=ses["ses_event"],
                recipients=args.recipients,
                via=ses["via"],
                verdict=ses["verdict"],
                seed=args.seed,
            )
        except ValueError as error:
            raise UserError(str(error)) from None
    else:
        workmail = {name: getattr(args, name) or default for name, default in WORKMAIL_DEFAULTS.items()}
        events = iter_events(
            count=args.count,
            direction=workmail["direction"],
            recipients=args.recipients,
            truncated=args.truncated,
            layout=workmail["layout"],
            id_length=workmail["id_length"],
            seed=args.seed,
        )
    if args.count == 1 and not args.jsonl:
        sys.stdout.write(dumps(next(events)).decode() + "\n")
    else:
        sys.stdout.writelines(dumps(e).decode() + "\n" for e in events)
    sys.stdout.flush()
    return 0
