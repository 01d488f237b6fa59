"""The command line only: replay events through the Lambda's pipeline, generate events, read the trail.

User mistakes (a missing file, a bad setting, an unreachable endpoint) end in one line on stderr
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from collector import __version__
from collector.clock import utc_now
from collector.config import ConfigError, Settings
from collector.events.workmail import normalize_address
from collector.jsonutil import JSONDecodeError, dumps, loads
from collector.metrics import catalog_for, features_for, metric_values
from collector.model import Invocation, Status, Undecodable
from collector.progress import Progress
from collector.redaction import Redactor
from collector.runtime import build_pipeline, open_store, resolve_secrets
from collector.sampling import generate_events
from collector.store import Query

log = logging.getLogger("workmail_collector")


class UserError(Exception):
    """Reported as one line; exit code 2."""


# ---------------------------------------------------------------------------------------- inputs


def _events_in_text(text: str, origin: str, advance: Callable[[int], None]) -> Iterator[object]:
    """A JSON object, a JSON array of events, or JSON Lines; a broken line becomes an Undecodable."""
    size = len(text.encode("utf-8", "surrogatepass"))
    stripped = text.strip()
    if not stripped:
        advance(size)
        return
    try:
        whole = loads(stripped)
    except JSONDecodeError:
        pass
    else:
        events = whole if isinstance(whole, list) else [whole]
        for event in events:
            yield event
            advance(size // max(len(events), 1))
        return
    for number, line in enumerate(stripped.splitlines(), start=1):
        if line.strip():
            try:
                yield loads(line)
            except JSONDecodeError as error:
                yield Undecodable(text=line, error=f"{origin} line {number}: {error}")
        advance(len(line.encode("utf-8", "surrogatepass")) + 1)


Delivery = tuple[object, str | None]  # an event, and the request id it was first invoked under


def unwrap(value: object) -> Iterator[Delivery]:
    """Events inside what the failure paths keep: Lambda on-failure destination records (and the
    sync handler's records of the same shape), and `aws sqs receive-message` output. A record's
    `requestContext.requestId` comes along: replayed under it, an event whose write was applied
    before its invocation failed is recognised as that invocation's own write and counted."""
    if isinstance(value, dict):
        if isinstance(value.get("Messages"), list) and all(
            isinstance(m, dict) and "Body" in m for m in value["Messages"]
        ):
            for message in value["Messages"]:
                try:
                    yield from unwrap(loads(message["Body"]))
                except JSONDecodeError as error:
                    yield Undecodable(text=str(message["Body"]), error=f"SQS message body: {error}"), None
            return
        context = value.get("requestContext")
        if isinstance(context, dict) and "requestPayload" in value:
            request_id = context.get("requestId")
            yield value["requestPayload"], request_id if isinstance(request_id, str) and request_id else None
            return
    yield value, None


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"no such file or folder: {name}")
    return found


def read_events(paths: list[str], progress: Progress, stdin: TextIO) -> Iterator[Delivery]:
    if paths == ["-"]:
        text = stdin.read()
        progress.start(len(text.encode("utf-8", "surrogatepass")))
        for value in _events_in_text(text, "stdin", progress.advance):
            yield from unwrap(value)
        return
    files = _files(paths)
    progress.start(sum(f.stat().st_size for f in files))
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for value in _events_in_text(text, str(path), progress.advance):
            yield from unwrap(value)


# ---------------------------------------------------------------------------------------- replay


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


# ---------------------------------------------------------------------------------------- events


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


# ---------------------------------------------------------------------------------------- audit

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


# ---------------------------------------------------------------------------------------- table


async def table(args: argparse.Namespace, settings: Settings) -> int:
    from collector.store.dynamodb import create_table

    description = await create_table(settings.table_name)
    indexes = ", ".join(i["IndexName"] for i in description.get("GlobalSecondaryIndexes", []))
    print(f"created {description['TableName']} ({description['TableStatus']}); indexes: {indexes}")
    return 0


# ---------------------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="workmail-collector",
        description="Replay WorkMail events through the collector, and read its audit trail.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", required=True)

    def store_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", choices=("local", "dynamodb"), help="local SQLite (default) or DynamoDB")
        p.add_argument("--db", help="SQLite file for the local store (COLLECTOR_SQLITE_PATH)")
        p.add_argument("--table", help="DynamoDB table name (COLLECTOR_TABLE_NAME)")
        p.add_argument(
            "--endpoint-url",
            help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 (AWS_ENDPOINT_URL_DYNAMODB)",
        )

    p = commands.add_parser("replay", help="run events through the same pipeline as the Lambda handler")
    p.add_argument("paths", nargs="+", help="JSON or JSON Lines files, folders, or - for stdin")
    p.add_argument("--emf-out", help="append EMF documents to this file instead of stdout")
    p.add_argument("--concurrency", type=int, default=1, help="events in flight at once (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    store_options(p)

    p = commands.add_parser(
        "generate-event", help="print valid WorkMail events (JSON, or JSON Lines for -n>1)"
    )
    p.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    p.add_argument("--recipients", type=int, default=2, help="recipients per event (default 2)")
    p.add_argument("--truncated", action="store_true", help="set truncated: true")
    p.add_argument("-n", "--count", type=int, default=1, help="number of events, unique invocationIds")
    p.add_argument("--layout", choices=("envelope", "flat"), default="envelope")
    p.add_argument("--id-length", type=int, choices=(32, 40), default=32)
    p.add_argument("--seed", type=int, help="make the output reproducible")
    p.add_argument("--jsonl", action="store_true", help="JSON Lines even for one event")

    p = commands.add_parser("audit", help="read the audit trail")
    audit_commands = p.add_subparsers(dest="audit_command", required=True)
    for name, help_text in (
        ("list", "recent records, newest first"),
        ("query", "records by messageId, sender or time range"),
        ("get", "one record by invocationId"),
    ):
        a = audit_commands.add_parser(name, help=help_text)
        store_options(a)
        a.add_argument("--json", action="store_true", help="JSON Lines, every attribute")
        if name == "get":
            a.add_argument("invocation_id")
            continue
        a.add_argument("--since", help="ISO 8601 start (UTC if no offset)")
        a.add_argument("--until", help="ISO 8601 end")
        a.add_argument("--limit", type=int, default=50)
        if name == "list":
            a.add_argument("--days", type=int, default=7, help="look back this many days (default 7)")
        else:
            a.add_argument("--message-id")
            a.add_argument("--sender", help="an address; hashed first when redaction is on")

    p = commands.add_parser("table", help="manage the DynamoDB audit table")
    table_commands = p.add_subparsers(dest="table_command", required=True)
    t = table_commands.add_parser("create", help="create it with the CDK stack's keys, indexes and TTL")
    store_options(t)
    return root


def _settings(args: argparse.Namespace, force_dynamodb: bool = False) -> Settings:
    if getattr(args, "endpoint_url", None):
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint_url
    settings = Settings.from_env()
    store = "dynamodb" if force_dynamodb else getattr(args, "store", None)
    changes: dict[str, Any] = {}
    if store:
        changes["store"] = "sqlite" if store == "local" else store
    if getattr(args, "db", None):
        changes["sqlite_path"] = Path(args.db)
    if getattr(args, "table", None):
        changes["table_name"] = args.table
    return replace(settings, **changes)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "generate-event":
            if args.count < 1 or args.recipients < 0:
                raise UserError("--count must be at least 1 and --recipients at least 0")
            return generate(args)
        settings = _settings(args, force_dynamodb=args.command == "table")
        log.setLevel(settings.log_level)
        if args.command == "replay":
            if args.concurrency < 1:
                raise UserError("--concurrency must be at least 1")
            return asyncio.run(replay(args, settings))
        if args.command == "audit":
            return asyncio.run(audit(args, settings))
        return asyncio.run(table(args, settings))
    except (UserError, ConfigError) as error:
        print(f"workmail-collector: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # unreachable endpoint, missing credentials, missing table...
        print(f"workmail-collector: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
