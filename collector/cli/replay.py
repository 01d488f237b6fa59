"""`replay`: events through the same pipeline the Lambda handler runs, with a summary of what happened.

A replay can stop anywhere: a store fault, a full disk under `--emf-out`, a closed stdout, an input
file that cannot be read, Ctrl-C, SIGTERM or SIGHUP. Whatever stops it, the events already taken
in finish first (the store is never closed under them), and each event is either counted, with
its EMF line written out, or left for the next replay of the same input to count: the pipeline's
`replay` keeps that promise with the record's `countState` (see collector.pipeline). The run then
says what stopped it and exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import io
import logging
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from collector.cli.common import UserError, explain
from collector.cli.index_batches import MARGIN, FailedBatches, command_time
from collector.cli.inputs import Delivery, read_events
from collector.clock import utc_now
from collector.config import Settings
from collector.events.detect import parse
from collector.jsonutil import ascii_json
from collector.metrics import catalog_for, features_for, metric_values
from collector.model import Invocation, MailEvent, Source, Status
from collector.pipeline import Pipeline
from collector.progress import Progress
from collector.runtime import build_pipeline

log = logging.getLogger("workmail_collector")
# Signals that stop a replay the way Ctrl-C does: Ctrl-C, `kill` and a terminal that closed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class EmfSink:
    """Where EMF documents go: each line written through to the file or stdout before the event
    counts as emitted (no buffer that a full disk or a closed pipe could lose afterwards)."""

    def __init__(self, path: str | None, chosen_for_terminal: bool = False) -> None:
        self.name = path or "stdout"
        self.chosen_for_terminal = chosen_for_terminal
        self._raised: list[OSError] = []
        self._own = path is not None
        self._prefix = b""
        self._stream: TextIO | None = None
        self._fd = -1
        if path is None:
            sys.stdout.flush()
            try:
                self._fd = sys.stdout.fileno()
            except (AttributeError, io.UnsupportedOperation):  # stdout replaced in-process
                self._stream = sys.stdout
            return
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise UserError(f"cannot write --emf-out {path}: {error.strerror}") from None
        size = os.fstat(self._fd).st_size
        if size and _last_byte(path) != b"\n":
            self._prefix = b"\n"  # an earlier run was cut mid-line: start on a line of our own

    def write(self, text: str) -> None:
        try:
            self._put(text)
        except OSError as error:
            # Marked as the sink's: under concurrency the first failing event may still be giving
            # back its claim when a second one fails, so "is it the first error" cannot tell a
            # full disk from a store error (both are OSErrors).
            self._raised.append(error)  # a handful at most: the run stops at the first
            raise

    def _put(self, text: str) -> None:
        data = self._prefix + text.encode()
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()
            return
        while data:
            data = data[os.write(self._fd, data) :]
        self._prefix = b""

    def raised(self, error: BaseException) -> bool:
        """True when `error` came from writing an EMF line, not from the store."""
        return any(error is mine for mine in self._raised)

    def describe(self, error: OSError) -> str:
        if isinstance(error, BrokenPipeError) and not self._own:
            return "stdout was closed (the reader stopped)"
        reason = error.strerror or str(error)
        if error.errno == errno.ENOSPC:
            reason = "no space left on the device"
        return f"cannot write EMF documents to {self.name}: {reason}"

    def close(self) -> None:
        if self._own:
            os.close(self._fd)


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


@dataclass
class ReplayRun:
    """What one replay did, for the summary: outcomes, metric sums, and why it stopped, if it did."""

    taken: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    by_direction: Counter[str] = field(default_factory=Counter)
    emitted: Counter[str] = field(default_factory=Counter)
    not_done: int = 0
    stopped_by: str | None = None
    signal: int | None = None  # the signal that interrupted the run

    @property
    def interrupted(self) -> bool:
        return self.signal is not None

    user_mistake: str | None = None  # the store refused every event for a reason the user must fix
    skipped_emf: Counter[str] = field(default_factory=Counter)  # our own EMF documents, by origin
    failed_batches: FailedBatches = field(default_factory=FailedBatches)  # the index consumer's, found
    sources: set[Source] = field(default_factory=set)  # the sources of the events replayed
    read_all: bool = False  # the input was read to its end (a stop leaves the rest unread)


async def replay(args: argparse.Namespace, settings: Settings) -> int:
    progress = Progress(sys.stderr, enabled=sys.stderr.isatty() and not args.quiet)
    run = ReplayRun()
    events = read_events(
        args.paths, progress, sys.stdin, settings.namespace, run.skipped_emf, run.failed_batches
    )
    try:
        first = next(events, None)
    except OSError as error:
        raise UserError(f"cannot read {error.filename or ' '.join(args.paths)}: {error.strerror}") from None
    if first is None:
        progress.close()
        if run.failed_batches.count:  # no events, but something to repair: no store needed for it
            _skipped_line(run, settings)
            _batches_block(run.failed_batches, settings)
            return 0
        raise UserError(
            f"no events in {' '.join(args.paths)} (folders are searched for *.json and *.jsonl files)"
        )
    if args.dry_run:
        _dry_run(_chain(first, events), run, settings, progress)
        return 0
    terminal_path = None if args.emf_out else _terminal_emf_path(settings)
    sink = EmfSink(args.emf_out or terminal_path, chosen_for_terminal=terminal_path is not None)
    try:
        pipeline = await build_pipeline(settings, sink.write)
    except BaseException:
        sink.close()
        progress.close()
        raise
    try:
        await replay_events(pipeline, _chain(first, events), args.concurrency, settings, sink, progress, run)
    finally:
        progress.close()
        await pipeline.close()  # only now: every task has finished
        sink.close()
    if run.user_mistake and not run.counts:  # nothing was replayed: one line, like any mistake
        _batches_block(run.failed_batches, settings, run.read_all)  # what was found is said first
        raise UserError(run.user_mistake)
    if run.user_mistake:
        log.error("%s; stopped", run.user_mistake)
    _summary(run, settings, sink)
    if run.signal is not None:
        return 128 + run.signal  # as a shell reports a process the signal ended
    return 1 if run.stopped_by else 0


def _dry_run(events: Iterator[Delivery], run: ReplayRun, settings: Settings, progress: Progress) -> None:
    """What a replay would record, read through the same adapters, with no store and no EMF: the
    trail is not read either, so events already in it are counted here as they would be anew."""
    valid: Counter[str] = Counter()
    invalid = 0
    try:
        for raw, _ in events:
            run.taken += 1
            parsed = parse(raw)
            if isinstance(parsed, MailEvent):
                valid[parsed.direction.value] += 1
            else:
                invalid += 1
            progress.count()
    finally:
        progress.close()
    directions = ", ".join(f"{d} {valid[d]}" for d in ("INBOUND", "OUTBOUND", "UNKNOWN"))
    print(
        f"dry run: {run.taken} events: valid {sum(valid.values())} ({directions}), invalid {invalid}"
        " (would be quarantined); nothing was written. Redeliveries and events already in the"
        " audit trail would count as duplicates",
        file=sys.stderr,
    )
    _skipped_line(run, settings)
    _invalid_warning(invalid, run.taken)
    _batches_block(run.failed_batches, settings)


def _invalid_warning(invalid: int, processed: int) -> None:
    """Most of the input invalid: probably not the input meant (a checkout, a README)."""
    if processed and invalid * 2 > processed:
        print(
            f"warning: {invalid} of {processed} events were invalid: was this the input you meant?"
            " Quarantined records of a time range can be removed with"
            " `workmail-collector audit purge-invalid --since ... --until ...`",
            file=sys.stderr,
        )


def _terminal_emf_path(settings: Settings) -> str | None:
    """On a terminal, where EMF documents go instead of the screen: a new file beside the SQLite
    store (the current folder for DynamoDB), named in the summary. None when stdout is no terminal
    or no such file can be made (then they go to stdout: never lost)."""
    if not sys.stdout.isatty():
        return None
    folder = Path(settings.sqlite_path).parent if settings.store == "sqlite" else Path.cwd()
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"emf-{stamp}.jsonl"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError:
        return None
    return str(path)


def _chain(first: Delivery, rest: Iterator[Delivery]) -> Iterator[Delivery]:
    yield first
    yield from rest


async def replay_events(
    pipeline: Pipeline,
    events: Iterator[Delivery],
    concurrency: int,
    settings: Settings,
    sink: EmfSink,
    progress: Progress,
    run: ReplayRun,
) -> None:
    """Replay `events` with `concurrency` in flight; stop taking new ones at the first failure or
    stop signal, and return only when every event taken in has finished."""
    # Every source's metrics are summed: the summary shows those of the sources the input held,
    # whatever COLLECTOR_SOURCES says (it decides what a deployment emits, not what a file holds).
    features = features_for(settings.enrich, tuple(Source))
    run_id = uuid.uuid4().hex[:12]
    stop = asyncio.Event()
    semaphore = asyncio.Semaphore(concurrency)
    pending: set[asyncio.Task[None]] = set()

    def stopping(reason: str, queued_too: bool = True, say: bool = True) -> None:
        """Take no more input; with `queued_too`, the events waiting for a slot are dropped too."""
        if run.stopped_by is None:
            if say:
                log.error("%s; stopping", reason)
            run.stopped_by = reason
        if queued_too:
            stop.set()

    async def one(raw: object, request_id: str | None, number: int) -> None:
        invocation = Invocation(request_id or f"replay-{run_id}-{number}", "$LOCAL", utc_now())
        async with semaphore:
            if stop.is_set():
                run.not_done += 1
                return
            try:
                outcome = await pipeline.replay(raw, invocation)
            except asyncio.CancelledError:
                run.not_done += 1
                return
            except Exception as error:
                run.not_done += 1
                known = explain(error, settings)
                if isinstance(error, OSError) and sink.raised(error):
                    stopping(sink.describe(error))
                elif known is not None and known[1] == 2:
                    run.user_mistake = run.user_mistake or known[0]
                    stopping(known[0], say=False)  # said once, at the end
                else:
                    stopping(f"store error: {known[0] if known else f'{type(error).__name__}: {error}'}")
                return
        run.counts[outcome.status.value] += 1
        run.emitted.update(metric_values(outcome, features))
        if outcome.source is not None:
            run.sources.add(outcome.source)
        if outcome.status is Status.RECORDED:
            run.by_direction[outcome.direction.value] += 1
        progress.count()

    def interrupt(number: int) -> None:
        if run.interrupted:  # the second signal: abandon what is in flight (claims are given back)
            for task in pending:
                task.cancel()
            _restore_signals()
            return
        run.signal = number
        name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
        again = f"{name} again to abandon them"
        said = "interrupted" if number == signal.SIGINT else f"interrupted by {name}"
        stopping(f"{said}: finishing the events in flight ({again})")

    loop = asyncio.get_running_loop()
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is signal.SIG_IGN:  # e.g. `nohup` or `&` in a script: left ignored
            continue
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not on the main thread
            loop.add_signal_handler(number, interrupt, number)
    try:
        while not stop.is_set():
            try:
                delivery = next(events, None)
            except OSError as error:
                name = error.filename or f"the input after event {run.taken}"
                stopping(f"cannot read {name}: {error.strerror}", queued_too=False)  # those were read fine
                break
            if delivery is None:
                run.read_all = True
                break
            run.taken += 1
            task = asyncio.ensure_future(one(delivery[0], delivery[1], run.taken))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if len(pending) >= concurrency * 4:
                await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(0)  # lets a Ctrl-C through between events
    finally:
        while pending:  # never leave a task behind: the store closes after this
            await asyncio.wait(set(pending))
        _restore_signals()


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for number in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(number)


def _summary(run: ReplayRun, settings: Settings, sink: EmfSink) -> None:
    counts = run.counts
    duplicates = counts["DUPLICATE"] + counts["CONFLICT"] + counts["QUARANTINED_DUPLICATE"]
    print(
        f"processed {run.taken}: recorded {counts['RECORDED']}, duplicates {duplicates}"
        f" (conflicts {counts['CONFLICT']}), invalid {counts['QUARANTINED']}, failed {run.not_done}",
        file=sys.stderr,
    )
    directions = ", ".join(f"{d} {run.by_direction[d]}" for d in ("INBOUND", "OUTBOUND", "UNKNOWN"))
    print(f"recorded by direction: {directions}", file=sys.stderr)
    shown = features_for(settings.enrich, {*settings.sources, *run.sources})
    totals = ", ".join(f"{spec.name} {run.emitted[spec.name]}" for spec in catalog_for(shown))
    print(f"EMF metric sums ({settings.namespace}): {totals}", file=sys.stderr)
    if sink.chosen_for_terminal:
        print(
            f"EMF documents: written to {sink.name} (stdout is a terminal; --emf-out to choose)",
            file=sys.stderr,
        )
    _skipped_line(run, settings)
    invalid = counts["QUARANTINED"] + counts["QUARANTINED_DUPLICATE"]
    _invalid_warning(invalid, sum(counts.values()))
    where = settings.table_name if settings.store == "dynamodb" else settings.sqlite_path
    print(f"audit trail: {settings.store} {where}", file=sys.stderr)
    if run.stopped_by:
        print(
            f"replay stopped early: {run.not_done} of the events taken in were not replayed, and the"
            f" input after them was not read. {'R' if run.interrupted else 'Fix the cause and r'}eplay"
            " the same input again: what was"
            " counted is recognised as duplicate, and what was recorded but not yet counted is counted"
            " then, once",
            file=sys.stderr,
        )
    _batches_block(run.failed_batches, settings, run.read_all)


def _skipped_line(run: ReplayRun, settings: Settings) -> None:
    """Our own EMF documents found in the input: how many, and where (one line)."""
    if run.skipped_emf:
        origins = ", ".join(f"{n} in {origin}" for origin, n in run.skipped_emf.items())
        total = sum(run.skipped_emf.values())
        print(
            f"skipped {total} EMF document{'s' if total != 1 else ''} of this collector"
            f" ({settings.namespace}), not events: {origins}",
            file=sys.stderr,
        )


UNREADABLE_SHOWN = 10  # the batches without a window listed one by one; the rest are counted


def _batches_block(batches: FailedBatches, settings: Settings, read_all: bool = True) -> None:
    """The index consumer's failed batches found in the input: no events, but records missing from
    the time index, and the one command that repairs them (docs/deploy.md). When the replay stopped
    before the input's end, the batches after the stop were never seen: the block says so."""
    if not batches.count:
        return
    n = batches.count
    plural = n != 1
    conditions = ", ".join(
        _shown(name) if k == n else f"{_shown(name)} {k}" for name, k in sorted(batches.conditions.items())
    )
    records = f"{batches.records} record{'s' if batches.records != 1 else ''}"
    if batches.unsized:
        unsized = f"{batches.unsized} batch{'es' if batches.unsized != 1 else ''}"
        records += f" (and those of {unsized} whose batchSize could not be read)"
    table = settings.table_name if settings.store == "dynamodb" else "<TableName output>"
    window = batches.window()
    minutes = int(MARGIN.total_seconds() // 60)
    since, until = (
        (command_time(window[0]), command_time(window[1]))
        if window
        else (f"<first arrival - {minutes} min>", f"<last arrival + {minutes} min>")
    )
    lines = [
        f"found {n} failed index batch{'es' if plural else ''} of the audit table's stream ({conditions}):"
        f" not events, nothing was replayed for {'them' if plural else 'it'}",
        f"  {'their' if plural else 'its'} {records} {'are' if batches.records != 1 else 'is'} in the"
        " audit table but missing from the time index (audit list and query, reconcile, the trace"
        " widget and the trail's export miss them);"
        " once the index consumer's error is fixed, repair with:",
        f"  workmail-collector table backfill-shards --table {table} --since {since} --until {until}",
    ]
    if window:
        lines.append(
            f"  (the batches' earliest first arrival - {minutes} min to their latest last arrival"
            f" + {minutes} min)"
            if plural
            else f"  (the batch's first arrival - {minutes} min to its last arrival + {minutes} min)"
        )
    if not read_all:
        lines.append(
            "  input not fully read (the replay stopped): this covers only the batches read before the"
            " stop; replay the same input again to find the others"
        )
    if batches.unreadable:
        k = len(batches.unreadable)
        their = "their" if k != 1 else "its"
        lines.append(
            f"  the window of {k} batch{'es' if k != 1 else ''} could not be read ({their} arrival"
            f" times are missing or not ISO 8601 times); widen the window to cover when {their}"
            " records arrived:"
        )
        lines += [
            f"    shard {_shown(b.shard_id)}, sequence numbers {_shown(b.start_sequence)}"
            f" to {_shown(b.end_sequence)}"
            for b in batches.unreadable[:UNREADABLE_SHOWN]
        ]
        if k > UNREADABLE_SHOWN:
            lines.append(f"    and {k - UNREADABLE_SHOWN} more")
    lines.append(
        "  with the audit trail on, the days of that window already exported must be exported again;"
        " delete the batch messages from the queue only after the repair"
        " (docs/deploy.md#index-consumer-failures)"
    )
    print("\n".join(lines), file=sys.stderr)


def _shown(value: object) -> str:
    """A field of a failed-batch record, safe on a terminal whatever JSON it held."""
    if value is None:
        return "(missing)"
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value
    return ascii_json(value)
