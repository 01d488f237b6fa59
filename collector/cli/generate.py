"""`generate-event`: valid WorkMail events for trying the collector out."""

from __future__ import annotations

import argparse
import sys

from collector.jsonutil import dumps
from collector.sampling import generate_events


def generate(args: argparse.Namespace) -> int:
    events = generate_events(
        count=args.count,
        direction=args.direction,
        recipients=args.recipients,
        truncated=args.truncated,
        layout=args.layout,
        id_length=args.id_length,
        seed=args.seed,
    )
    if args.count == 1 and not args.jsonl:
        sys.stdout.write(dumps(events[0]).decode() + "\n")
    else:
        sys.stdout.writelines(dumps(e).decode() + "\n" for e in events)
    return 0
