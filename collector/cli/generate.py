"""`generate-event`: valid WorkMail events for trying the collector out."""

from __future__ import annotations

import argparse
import os
import sys

from collector.jsonutil import dumps
from collector.sampling import iter_events


def generate(args: argparse.Namespace) -> int:
    """Writes each event as it is made: memory stays flat whatever `--count`."""
    events = iter_events(
        count=args.count,
        direction=args.direction,
        recipients=args.recipients,
        truncated=args.truncated,
        layout=args.layout,
        id_length=args.id_length,
        seed=args.seed,
    )
    try:
        if args.count == 1 and not args.jsonl:
            sys.stdout.write(dumps(next(events)).decode() + "\n")
        else:
            sys.stdout.writelines(dumps(e).decode() + "\n" for e in events)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): not an error. Point stdout at /dev/null so the
        # interpreter's own flush at exit does not fail the same way.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
