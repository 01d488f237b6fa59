"""`generate-event`: valid WorkMail or SES events for trying the collector out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from collector.cli.common import UserError
from collector.jsonutil import dumps
from collector.sampling import iter_events
from collector.sampling_ses import SES_EVENTS, WRAPPERS, iter_ses_events


def add_ses_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        choices=("workmail", "ses"),
        default="workmail",
        help="WorkMail Run Lambda events (default) or Amazon SES events",
    )
    p.add_argument("--ses-event", choices=SES_EVENTS, default="receipt", help="with --source ses")
    p.add_argument(
        "--via",
        choices=WRAPPERS,
        default="none",
        help="SES sending events: as SNS or EventBridge deliver them",
    )
    p.add_argument(
        "--verdict",
        choices=("PASS", "FAIL", "GRAY"),
        default="PASS",
        help="SES receipts' SPF/DKIM/DMARC/spam/virus",
    )


def generate(args: argparse.Namespace) -> int:
    """Writes each event as it is made: memory stays flat whatever `--count` (a closed stdout,
    `| head`, ends it quietly in main)."""
    events: Iterator[dict[str, Any]]
    if args.source == "ses":
        try:
            events = iter_ses_events(
                count=args.count,
                event=args.ses_event,
                recipients=args.recipients,
                via=args.via,
                verdict=args.verdict,
                seed=args.seed,
            )
        except ValueError as error:
            raise UserError(str(error)) from None
    else:
        events = iter_events(
            count=args.count,
            direction=args.direction,
            recipients=args.recipients,
            truncated=args.truncated,
            layout=args.layout,
            id_length=args.id_length,
            seed=args.seed,
        )
    if args.count == 1 and not args.jsonl:
        sys.stdout.write(dumps(next(events)).decode() + "\n")
    else:
        sys.stdout.writelines(dumps(e).decode() + "\n" for e in events)
    sys.stdout.flush()
    return 0
