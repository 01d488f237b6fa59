"""`replay`: events through the same pipeline the Lambda handler runs, with a summary of what happened."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from collector.cli.common import UserError
from collector.cli.inputs import read_events
from collector.clock import utc_now
from collector.config import Settings
from collector.metrics import catalog_for, features_for, metric_values
from collector.model import Invocation, Status
from collector.progress import Progress
from collector.runtime import build_pipeline

log = logging.getLogger("workmail_collector")


async def replay(args: argparse.Namespace, settings: Settings) -> int:
    try:
        emf_file = open(args.emf_out, "a", encoding="utf-8") if args.emf_out else None  # noqa: SIM115
    except OSError as error:
        raise UserError(f"cannot write --emf-out {args.emf_out}: {error.strerror}") from None
    write: Callable[[str], Any] = emf_file.write if emf_file else sys.stdout.write
    pipeline = await build_pipeline(settings, write)
    progress = Progress(sys.stderr, enabled=sys.stderr.isatty() and not args.quiet)
    counts: Counter[str] = Counter()
    by_direction: Counter[str] = Counter()
    emitted: Counter[str] = Counter()
    features = features_for(settings.enrich)
    failures = 0
    stop = asyncio.Event()
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(raw: object, request_id: str | None) -> None:
        nonlocal failures
        invocation = Invocation(request_id or f"replay-{uuid.uuid4()}", "$LOCAL", utc_now())
        async with semaphore:
            if stop.is_set():
                failures += 1
                return
            try:
                outcome = await pipeline.process(raw, invocation)
            except Exception as error:  # a store fault: stop; replaying again is safe (dedupe)
                failures += 1
                if not stop.is_set():
                    log.error("store error, stopping: %s: %s", type(error).__name__, error)
                stop.set()
                return
        counts[outcome.status.value] += 1
        emitted.update(metric_values(outcome, features))
        if outcome.status is Status.RECORDED:
            by_direction[outcome.direction.value] += 1
        progress.count()

    try:
        pending: set[asyncio.Task[None]] = set()
        for raw, request_id in read_events(args.paths, progress, sys.stdin):
            if stop.is_set():
                break
            pending.add(asyncio.ensure_future(one(raw, request_id)))
            if len(pending) >= args.concurrency * 4:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.gather(*pending)
    finally:
        progress.close()
        await pipeline.close()
        if emf_file:
            emf_file.close()
    processed = sum(counts.values()) + failures
    duplicates = counts["DUPLICATE"] + counts["CONFLICT"] + counts["QUARANTINED_DUPLICATE"]
    print(
        f"processed {processed}: recorded {counts['RECORDED']}, duplicates {duplicates}"
        f" (conflicts {counts['CONFLICT']}), invalid {counts['QUARANTINED']}, failed {failures}",
        file=sys.stderr,
    )
    directions = ", ".join(f"{d} {by_direction[d]}" for d in ("INBOUND", "OUTBOUND", "UNKNOWN"))
    print(f"recorded by direction: {directions}", file=sys.stderr)
    totals = ", ".join(f"{spec.name} {emitted[spec.name]}" for spec in catalog_for(features))
    print(f"EMF metric sums ({settings.namespace}): {totals}", file=sys.stderr)
    where = settings.table_name if settings.store == "dynamodb" else settings.sqlite_path
    print(f"audit trail: {settings.store} {where}", file=sys.stderr)
    if failures:
        print(
            "some events were not recorded; fix the store and replay the same input again:"
            " what was recorded is recognised as duplicate",
            file=sys.stderr,
        )
    return 1 if failures else 0
