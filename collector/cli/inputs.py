"""Where replayed events come from: files, folders or stdin; JSON, JSON arrays or JSON Lines; and the
records the failure paths keep (Lambda on-failure destination records, `aws sqs receive-message`).

Inputs are streamed (collector.cli.jsonstream), so memory stays flat however large they are, and
every JSON text is read by collector.jsonutil.loads, as the Lambda runtime reads its payloads."""

from __future__ import annotations

import io
import os
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from collector.cli.common import UserError
from collector.cli.index_batches import FailedBatches, index_batch
from collector.cli.jsonstream import read_values
from collector.jsonutil import JSONDecodeError, ascii_json, clean_text, loads
from collector.model import Undecodable
from collector.progress import Progress

Delivery = tuple[object, str | None]  # an event, and the request id it was first invoked under


def unwrap(value: object, batches: FailedBatches | None = None) -> Iterator[Delivery]:
    """Events inside what the failure paths keep: Lambda on-failure destination records (and the
    sync handler's records of the same shape), and `aws sqs receive-message` output, whole or as
    its `--query` options print it (message objects, or their bodies as strings). A record's
    `requestContext.requestId` comes along: replayed under it, an event whose write was applied
    before its invocation failed is recognised as that invocation's own write and counted. With
    `batches`, the index consumer's failed-batch records found there are no events: they are
    added to it instead (collector.cli.index_batches)."""
    if batches is not None:
        batch = index_batch(value)
        if batch is not None:
            batches.add(batch)
            return
    if isinstance(value, str):
        # No event is a string: one holding a JSON document is a message body (`--query
        # 'Messages[].Body'`); any other string stays an invalid event, kept whole.
        held = _document(value)
        if held is None:
            yield value, None
        else:
            yield from _held(held, batches)
        return
    if isinstance(value, dict):
        if isinstance(value.get("Messages"), list) and all(
            isinstance(m, dict) and "Body" in m for m in value["Messages"]
        ):
            for message in value["Messages"]:
                yield from _body(message["Body"], batches)
            return
        if sqs_message(value):
            yield from _body(value["Body"], batches)
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


def sqs_message(value: dict[str, object]) -> bool:
    """One SQS message object, as `--query 'Messages[]'` prints each: a string `Body`, a
    `MessageId` and a `ReceiptHandle`. No WorkMail or SES event has either of the last two (SNS's
    own envelope has a `MessageId`, but a `Message`, no `Body`)."""
    return isinstance(value.get("Body"), str) and "MessageId" in value and "ReceiptHandle" in value


def _body(body: object, batches: FailedBatches | None) -> Iterator[Delivery]:
    """What an SQS message body holds; a body that is no JSON is kept as it came."""
    if not isinstance(body, str):
        yield Undecodable(text=ascii_json(body), error="SQS message body is not a string"), None
        return
    try:
        held = loads(body)
    except JSONDecodeError as error:
        yield Undecodable(text=body, error=f"SQS message body: {error}"), None
        return
    yield from _held(held, batches)


def _held(held: object, batches: FailedBatches | None) -> Iterator[Delivery]:
    """A document found inside a string: an array's items are events, as at the top level."""
    for value in held if isinstance(held, list) else [held]:
        yield from unwrap(value, batches)


def _document(text: str) -> object | None:
    """The JSON object or array `text` holds, or None when it holds none."""
    try:
        held = loads(text)
    except JSONDecodeError:
        return None
    return held if isinstance(held, dict | list) else None


JSON_SUFFIXES = (".json", ".jsonl")
# Folders that hold installed software or build output, never events: a checkout's `replay .` read
# thousands of package.json files from them. Hidden folders (.git, .venv) are skipped by their dot,
# a virtualenv by its pyvenv.cfg, a folder packages were installed into (pip --target, a Lambda
# asset) by a *.dist-info beside the package it describes.
ENVIRONMENT_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "dist-packages", "cdk.out"})
PACKAGE_METADATA = (".dist-info", ".egg-info")  # a package's metadata, never events
SNIFF_BYTES = 1 << 20  # enough for a first value: Lambda payloads stop at 6 MB, most are small


def _skipped_folder(folder: Path) -> bool:
    """Hidden, or an environment: node_modules and the like, or a Python virtualenv (any name)."""
    return (
        folder.name.startswith(".")
        or folder.name in ENVIRONMENT_FOLDERS
        or folder.name.endswith(PACKAGE_METADATA)
        or (folder / "pyvenv.cfg").is_file()
    )


def _installed_packages(folder: Path, names: list[str]) -> bool:
    """Whether `folder` (with these subfolders) is one packages were installed into: a *.dist-info
    beside the package it describes (`boto3-1.0.dist-info` and `boto3/`) or beside a package with
    an __init__.py. An *.egg-info alone is what `pip install -e .` leaves in a checkout, beside
    the user's own folders of events: it says nothing about them."""
    projects = {n.removesuffix(".dist-info").split("-")[0].lower() for n in names if n.endswith(".dist-info")}
    if not projects:
        return False
    packages = [n for n in names if not n.endswith(PACKAGE_METADATA)]
    return any(n.lower() in projects or (folder / n / "__init__.py").is_file() for n in packages)


def _folder_files(folder: Path) -> list[Path]:
    """The folder's .json and .jsonl files, in order, outside hidden and environment folders (the
    folder named is read whatever it is: it was asked for)."""
    found: list[Path] = []
    for root, folders, names in os.walk(folder):
        here = Path(root)
        if here != folder and _installed_packages(here, folders):
            folders[:] = []  # installed packages (pip --target, a Lambda asset): no events
            continue
        folders[:] = sorted(name for name in folders if not _skipped_folder(here / name))
        found += (
            here / name
            for name in sorted(names)
            if not name.startswith(".") and Path(name).suffix in JSON_SUFFIXES and (here / name).is_file()
        )
    return sorted(found)


def _files(paths: list[str]) -> list[Path]:
    """Folders' JSON files, and every path named (a file, a FIFO, /dev/stdin: anything readable);
    a named regular file that holds no JSON at all is refused before anything is recorded."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += _folder_files(path)
            continue
        if not os.path.exists(name):
            raise UserError(f"no such file or folder: {name}")
        if not os.access(name, os.R_OK):
            raise UserError(f"cannot read {name}: permission denied")
        if path.is_file() and not _holds_json(path):
            raise UserError(
                f"{name} is not JSON (it does not start as a JSON object or array does); nothing was"
                " replayed. Name JSON or JSON Lines files, or a folder (its *.json and *.jsonl files)"
            )
        found.append(path)
    return found


def _holds_json(path: Path) -> bool:
    """Whether the file starts with a JSON object or array, whole or damaged (an empty file counts:
    it holds no events, which is said later). Events are objects, so a file of them starts with
    `{` or `[`; a README starts with text, and the numbers and strings in it are no events (a
    string holding a JSON object or array is a message body: read). Read before anything is
    recorded, so a mistake records nothing."""
    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return True  # the replay says what went wrong when it reads the file
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        return True
    first = next(iter(read_values(io.BytesIO(head), str(path), lambda n: None)), None)
    if isinstance(first, Undecodable):  # damaged (bytes that are not UTF-8, a cut): quarantined
        return _starts_like_json(first.text) or first.text.startswith(('"{', '"['))
    if isinstance(first, str):  # a message body (`--query 'Messages[0].Body'`), or a README's text
        return _document(first) is not None
    return isinstance(first, dict | list) or first is None


# What may follow a JSON text's opening `{` or `[` (and whitespace): a key, a value, or the close.
_AFTER_OPENER = frozenset('{["]}-0123456789tfn')


def _starts_like_json(text: str) -> bool:
    """Whether a damaged first value still starts as JSON does: `{` or `[` and then what JSON
    allows there. A Markdown README opening with a badge (`[![CI](...)](...)`) starts with `[` too,
    and was quarantined line by line."""
    if text[:1] not in ("{", "["):
        return False
    rest = text[1:].lstrip(" \t\r\n\ufeff")
    return not rest or rest[0] in _AFTER_OPENER


def own_emf(value: object, namespace: str) -> bool:
    """An EMF document this collector wrote (collector.metrics: `_aws.CloudWatchMetrics` in our
    namespace), e.g. `replay ... > out.jsonl` fed back in: no event, never to be quarantined."""
    if not isinstance(value, dict):
        return False
    aws = value.get("_aws")
    directives = aws.get("CloudWatchMetrics") if isinstance(aws, dict) else None
    return (
        isinstance(directives, list)
        and bool(directives)
        and all(isinstance(d, dict) and d.get("Namespace") == namespace for d in directives)
    )


def read_events(
    paths: list[str],
    progress: Progress,
    stdin: TextIO,
    namespace: str | None = None,
    skipped: Counter[str] | None = None,
    batches: FailedBatches | None = None,
) -> Iterator[Delivery]:
    """Every event in `paths` (or stdin for `-`), in order, with the request id it first ran under.
    With a `namespace`, this collector's own EMF documents are left out and counted in `skipped`
    by where they were found; with `batches`, the index consumer's failed-batch records are left
    out and added to it."""
    if paths == ["-"]:
        stream = _binary(stdin)
        progress.start(_size(stream))
        yield from _events(stream, "stdin", progress, namespace, skipped, batches)
        return
    files = _files(paths)
    sizes = [_regular_size(f) for f in files]
    progress.start(None if None in sizes else sum(s or 0 for s in sizes))
    for path in files:
        with path.open("rb") as stream:
            yield from _events(stream, str(path), progress, namespace, skipped, batches)


def _events(
    stream: BinaryIO,
    origin: str,
    progress: Progress,
    namespace: str | None,
    skipped: Counter[str] | None,
    batches: FailedBatches | None,
) -> Iterator[Delivery]:
    for value in read_values(stream, origin, progress.advance):
        if namespace is not None and own_emf(value, namespace):
            if skipped is not None:
                skipped[origin] += 1
            continue
        yield from unwrap(value, batches)


def _regular_size(path: Path) -> int | None:
    """A regular file's size; None for a pipe (`<(cmd)`, a FIFO, /dev/stdin), whose size is unknown."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


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
