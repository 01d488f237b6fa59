"""Where replayed events come from: files, folders or stdin; JSON, JSON arrays or JSON Lines; and the
records the failure paths keep (Lambda on-failure destination records, `aws sqs receive-message`).

Inputs are streamed (collector.cli.jsonstream), so memory stays flat however large they are, and
every JSON text is read by collector.jsonutil.loads, as the Lambda runtime reads its payloads."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from collector.cli.common import UserError
from collector.cli.jsonstream import read_values
from collector.jsonutil import JSONDecodeError, ascii_json, clean_text, loads
from collector.model import Undecodable
from collector.progress import Progress

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
                body = message["Body"]
                if not isinstance(body, str):
                    yield Undecodable(text=ascii_json(body), error="SQS message body is not a string"), None
                    continue
                try:
                    yield from unwrap(loads(body))
                except JSONDecodeError as error:
                    yield Undecodable(text=body, error=f"SQS message body: {error}"), None
            return
        context = value.get("requestContext")
        if isinstance(context, dict) and "requestPayload" in value:
            request_id = context.get("requestId")
            # Lambda writes a UUID here; a hand-edited record may hold anything JSON allows, and a
            # lone surrogate would make every store write and EMF line of this event fail.
            usable = clean_text(request_id) if isinstance(request_id, str) and request_id else None
            yield value["requestPayload"], usable
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
    """Every event in `paths` (or stdin for `-`), in order, with the request id it first ran under."""
    if paths == ["-"]:
        stream = _binary(stdin)
        progress.start(_size(stream))
        for value in read_values(stream, "stdin", progress.advance):
            yield from unwrap(value)
        return
    files = _files(paths)
    progress.start(sum(f.stat().st_size for f in files))
    for path in files:
        with path.open("rb") as stream:
            for value in read_values(stream, str(path), progress.advance):
                yield from unwrap(value)


def _binary(stdin: TextIO) -> BinaryIO:
    """stdin's bytes: decoding is the reader's job (one rule for files and stdin)."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    return io.BytesIO(stdin.read().encode("utf-8", "surrogateescape"))


def _size(stream: BinaryIO) -> int | None:
    """The input's size when stdin is a file (`< events.jsonl`); None for a pipe."""
    try:
        status = os.fstat(stream.fileno())
    except (OSError, io.UnsupportedOperation, AttributeError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None
