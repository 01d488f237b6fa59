"""JSON values from a byte stream, read forward once in bounded memory: JSON Lines, or documents
(a pretty-printed event, `aws sqs receive-message` output, an array of events of any size).

Which one: a UTF-8 byte-order mark at the start is skipped; input whose first line is one complete
JSON value is JSON Lines, unless that line is all there is (then it is one document, and an array's
items are the events). Input starting with `{` or `[` whose first line is not complete on its own
is a document, read value by value (an array item by item) with the standard library's decoder, the
same reading the Lambda runtime does. Anything after a document is detected again the same way.

Nothing is skipped: a JSON Lines line that is not JSON (or not UTF-8) becomes an Undecodable holding
its text (bytes that are not UTF-8 shown as \\xNN escapes). A document that breaks is read as JSON
Lines from the value that broke it. Lines split only at \\n (and \\r\\n): U+2028, U+2029 and U+0085
are legal inside JSON strings and stay there.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from collector import deepjson
from collector.jsonutil import JSONDecodeError, loads
from collector.model import Undecodable

BOM = codecs.BOM_UTF8
CHUNK_BYTES = 1 << 16
# A first line longer than this is no JSON Lines event (Lambda payloads stop at 6 MB): a document.
PROBE_BYTES = 8 << 20
# A single document value (one event, an SQS output) larger than this is read as lines instead.
MAX_VALUE_CHARS = 32 << 20
JSON_WHITESPACE = b" \t\r\n"
# Bytes that are not UTF-8, decoded with surrogateescape: valid UTF-8 never decodes to these.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_DECODER = json.JSONDecoder()
# How close to the end of the text read so far an error may be and still mean "read more".
_TAIL_CHARS = 16

Value = object  # a parsed JSON value, or an Undecodable


class ByteSource:
    """A binary stream read forward once, with a pushback buffer; reports bytes consumed (once each)."""

    def __init__(self, stream: BinaryIO, advance: Callable[[int], None]) -> None:
        # read1: what a pipe has now, without waiting for a whole chunk (a slow writer is read as it writes)
        self._read = getattr(stream, "read1", stream.read)
        self._advance = advance
        self._buffer = bytearray()
        self._eof = False
        self._position = 0  # bytes consumed, net of pushback
        self._reported = 0
        self.line = 1  # the line the next byte is on

    def _fill(self, size: int = CHUNK_BYTES) -> bool:
        if self._eof:
            return False
        chunk = self._read(size)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _consume(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._position += len(data)
        self.line += data.count(b"\n")
        if self._position > self._reported:
            self._advance(self._position - self._reported)
            self._reported = self._position
        return data

    def unread(self, data: bytes) -> None:
        self._buffer[:0] = data
        self._position -= len(data)
        self.line -= data.count(b"\n")

    def skip_bom(self) -> None:
        while len(self._buffer) < len(BOM) and self._fill():
            pass
        if self._buffer.startswith(BOM):
            self._consume(len(BOM))

    def skip_whitespace(self) -> bool:
        """Consume JSON whitespace; False at the end of the input."""
        while True:
            stripped = len(self._buffer) - len(self._buffer.lstrip(JSON_WHITESPACE))
            if stripped:
                self._consume(stripped)
            if self._buffer:
                return True
            if not self._fill():
                return False

    def peek_byte(self) -> int:
        return self._buffer[0]

    def peek_line(self, limit: int) -> bytes | None:
        """The next line (without its \\n) if it ends within `limit` bytes, else None; consumes nothing."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start, limit + 1)
            if end >= 0:
                return bytes(self._buffer[:end])
            if len(self._buffer) > limit:
                return None
            start = len(self._buffer)
            if not self._fill():
                return bytes(self._buffer)

    def read_line(self) -> bytes | None:
        """The next line including its \\n; None at the end of the input."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                return self._consume(end + 1)
            start = len(self._buffer)
            if not self._fill():
                return self._consume(len(self._buffer)) if self._buffer else None

    def read_chunk(self) -> bytes:
        """Whatever is buffered, or the next chunk; empty at the end of the input."""
        if not self._buffer:
            self._fill()
        return self._consume(len(self._buffer))


def read_values(stream: BinaryIO, origin: str, advance: Callable[[int], None]) -> Iterator[Value]:
    """Every JSON value in `stream`, in order; what cannot be read becomes an Undecodable."""
    source = ByteSource(stream, advance)
    source.skip_bom()
    while source.skip_whitespace():
        if source.peek_byte() not in b"[{":
            yield from _lines(source, origin)
            return
        line = source.peek_line(PROBE_BYTES)
        number = source.line
        first = None if line is None else _line_value(line, origin, number)
        # Read once: only a line that failed needs the second look (is it the start of a longer
        # document, or one whole value with bytes that are not UTF-8?).
        if line is None or (isinstance(first, Undecodable) and not _complete(line)):
            yield from _document(source, origin)
            continue
        source.read_line()
        if source.skip_whitespace():  # more follows: JSON Lines
            yield first
            yield from _lines(source, origin)
            return
        yield from first if isinstance(first, list) else [first]


def _complete(line: bytes) -> bool:
    """The line is one whole JSON value (bytes that are not UTF-8 aside: those make it undecodable,
    not part of a longer document)."""
    try:
        loads(line.decode("utf-8", "replace"))
    except JSONDecodeError:
        return False
    return True


def _lines(source: ByteSource, origin: str) -> Iterator[Value]:
    """JSON Lines: each non-blank line is one value, or an Undecodable with the line's text."""
    while True:
        number = source.line
        line = source.read_line()
        if line is None:
            return
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if line.strip(JSON_WHITESPACE):
            yield _line_value(line, origin, number)


def _line_value(line: bytes, origin: str, number: int) -> Value:
    try:
        return loads(line)
    except JSONDecodeError as error:
        text = line.decode("utf-8", "backslashreplace")
        return Undecodable(text=text, error=f"{origin} line {number}: {error}")


class _Incomplete(Exception):
    """The text read so far ends inside the value: read more and try again."""


class _Broken(Exception):
    """The document cannot be read on from `position` (an index into the window's text)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


class _Window:
    """The document's text read so far and not yet used, decoded incrementally from the source."""

    def __init__(self, source: ByteSource) -> None:
        self.source = source
        self.text = ""
        self.offset = 0  # text before this index is used
        self.eof = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")

    def more(self, at_least: int = 0) -> bool:
        """Read at least `at_least` more characters (a chunk at minimum). False when there is
        nothing more; True on reaching the end too, since decoding again then gives a final answer."""
        if self.eof:
            return False
        self.text = self.text[self.offset :]
        self.offset = 0
        wanted = len(self.text) + max(at_least, 1)
        while len(self.text) < wanted:
            chunk = self.source.read_chunk()
            if not chunk:
                self.text += self._decoder.decode(b"", final=True)
                self.eof = True
                break
            self.text += self._decoder.decode(chunk)
        return True

    def skip_whitespace(self, index: int) -> int:
        """The index of the next non-whitespace character, reading more as needed; len(text) at the end."""
        while True:
            index = deepjson.skip_whitespace(self.text, index)
            if index < len(self.text):
                return index
            used = index - self.offset
            if not self.more():
                return len(self.text)
            index = self.offset + used

    def value(self, index: int) -> tuple[object, int]:
        """The value starting at `index` and the index after it, reading more until it is whole."""
        used = index - self.offset
        while True:
            index = self.offset + used
            try:
                return self._decode(index)
            except _Incomplete:
                pending = len(self.text) - index
                if pending > MAX_VALUE_CHARS:
                    raise _Broken(index, f"a value longer than {MAX_VALUE_CHARS} characters") from None
                self.more(at_least=pending)  # doubles what is read: each retry is worth it

    def _decode(self, index: int) -> tuple[object, int]:
        try:
            try:
                value, end = _DECODER.raw_decode(self.text, index)
            except RecursionError:  # the same reading, with an explicit stack
                value, end = deepjson.raw_decode(self.text, index)
        except JSONDecodeError as error:
            near_end = error.pos >= len(self.text) - _TAIL_CHARS
            if not self.eof and (near_end or error.msg.startswith("Unterminated string")):
                raise _Incomplete from None
            raise _Broken(index, error.msg) from None
        except ValueError as error:  # an integer of more digits than Python converts
            raise _Broken(index, str(error)) from None
        if end >= len(self.text) and not self.eof:
            raise _Incomplete  # a number may go on in the next chunk
        bad = _ESCAPED_BYTE.search(self.text, index, end)
        if bad is not None:
            raise _Broken(index, "not UTF-8")
        return value, end

    def use(self, index: int) -> None:
        self.offset = index

    def give_back(self, index: int) -> None:
        """Return the text from `index` on (and bytes not yet decoded) to the source, unread."""
        pending, _ = self._decoder.getstate()
        self.source.unread(self.text[index:].encode("utf-8", "surrogateescape") + pending)
        self.text, self.offset = "", 0


def _document(source: ByteSource, origin: str) -> Iterator[Value]:
    """One document: an object, or an array whose items are yielded one by one. If it breaks,
    what follows the break goes back to the source and is read as JSON Lines."""
    window = _Window(source)
    index = window.skip_whitespace(0)
    try:
        if window.text[index] == "{":
            value, index = window.value(index)
            yield value
        else:
            yield from _array_items(window, index + 1)
            index = window.offset
    except _Broken as broken:
        window.give_back(broken.position)
        yield from _lines_after_break(source, origin, broken.reason)
        return
    window.give_back(index)


def _array_items(window: _Window, index: int) -> Iterator[Value]:
    index = window.skip_whitespace(index)
    if index < len(window.text) and window.text[index] == "]":
        window.use(index + 1)
        return
    while index < len(window.text):
        value, index = window.value(index)
        window.use(index)
        yield value
        index = window.skip_whitespace(index)
        if index >= len(window.text):
            break  # the array never closed: every item in it was read
        if window.text[index] == "]":
            window.use(index + 1)
            return
        if window.text[index] != ",":
            raise _Broken(index, "expected ',' or ']' after an array item")
        index = window.skip_whitespace(index + 1)
    window.use(index)


def _lines_after_break(source: ByteSource, origin: str, reason: str) -> Iterator[Value]:
    """The rest of a broken document, as JSON Lines; a first line that is not JSON says why."""
    values = _lines(source, origin)
    for first in values:
        if isinstance(first, Undecodable):
            first = Undecodable(text=first.text, error=f"{first.error} (where a document broke: {reason})")
        yield first
        break
    yield from values
