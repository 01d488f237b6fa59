"""Where replayed events come from: files, folders or stdin; JSON, JSON arrays or JSON Lines; and the
records the failure paths keep (Lambda on-failure destination records, `aws sqs receive-message`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from collector.cli.common import UserError
from collector.jsonutil import JSONDecodeError, loads
from collector.model import Undecodable
from collector.progress import Progress


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
