"""JSON values from a byte stream, read forward once in bounded memory, as `jq` reads its input.

The input is a stream of JSON values with any whitespace between them: JSON Lines, one
pretty-printed document, files joined with `cat`, compact and pretty values mixed. A top-level
array is an array of events: its items are yielded one by one (a 100 MB array is never held
whole). A byte-order mark is skipped wherever a value starts (files joined with `cat` carry
theirs into the middle). The rule is the same wherever the input starts: how the first line looks
decides nothing.

Every value is read as the Lambda runtime reads its payload: the standard library's decoder
(lone-surrogate escapes, integers of any size; `collector.deepjson` past the recursion limit), with
orjson's speed through `collector.jsonutil.loads` for a value that is a whole line.

Nothing is skipped. A value holding bytes that are not UTF-8 becomes an Undecodable with its text,
the bytes shown as \\xNN. Where the input is not JSON, the bad region becomes one Undecodable,
kept whole, and reading resumes after it: a region ends where its brackets close (an array item,
a pretty-printed value), at the end of its line at the top level, or at the latest where a line
starts a value no deeper than the region started (the next JSON Lines line, the next item of a
pretty-printed array). An array item whose brackets never close loses only itself: the array goes
on at the next item, its `,` lost with the damage. Lines split only at \\n: U+2028, U+2029 and
U+0085 stay inside strings.
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

CHUNK_BYTES = 1 << 16
# A value that is a whole line shorter than this is read in one go (orjson); longer lines (a
# one-line array of any size) are read value by value. Lambda payloads stop at 6 MB.
PROBE_BYTES = 8 << 20
# A value or bad region longer than this is cut: a value becomes bad, a region is kept in pieces.
MAX_VALUE_CHARS = 32 << 20
BOM = "\ufeff"
# Bytes that are not UTF-8, decoded with surrogateescape: valid UTF-8 never decodes to these.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_SPACE = re.compile("[ \t\r\n\ufeff]*")  # between values: JSON whitespace and byte-order marks
_DECODER = json.JSONDecoder()
_SPACES = frozenset(" \t\r\n\ufeff")
_VALUE_STARTS = frozenset('{["-0123456789tfn')
# How close to the end of the text read so far an error may be and still mean "read more".
_TAIL_CHARS = 16

Value = object  # a parsed JSON value, or an Undecodable


class _Window:
    """The input's text read so far and not yet used, decoded incrementally (surrogateescape:
    bytes that are not UTF-8 survive as lone surrogates, to be shown as \\xNN).

    Positions are relative to the first unused character (`at(0)`): reading more moves the text
    but never a relative position."""

    def __init__(self, stream: BinaryIO, advance: Callable[[int], None]) -> None:
        # read1: what a pipe has now, without waiting for a whole chunk (a slow writer is read as it writes)
        self._read = getattr(stream, "read1", stream.read)
        self._advance = advance
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.text = ""
        self.offset = 0  # text before this index is used
        self.eof = False
        self.line = 1  # the line and column of the first unused character
        self.column = 0
        self.skipped = ""  # the space the last skip_space used

    def more(self, at_least: int = 1) -> bool:
        """Read at least `at_least` more characters (a chunk at minimum); False at the end."""
        if self.eof:
            return False
        parts = [self.text[self.offset :]]
        self.offset = 0
        have, wanted = len(parts[0]), len(parts[0]) + at_least
        while have < wanted:
            chunk = self._read(CHUNK_BYTES)
            if not chunk:
                parts.append(self._decoder.decode(b"", final=True))
                self.eof = True
                break
            self._advance(len(chunk))
            parts.append(self._decoder.decode(chunk))
            have += len(parts[-1])
        self.text = "".join(parts)  # once: appending chunk by chunk would copy a long value each time
        return True

    @property
    def pending(self) -> int:
        """Characters read and not yet used."""
        return len(self.text) - self.offset

    def at(self, position: int) -> str:
        """The character at `position`, reading more as needed; "" past the end of the input."""
        while position >= self.pending:
            if not self.more(at_least=self.pending):  # doubles: no copy per chunk of a long region
                return ""
        return self.text[self.offset + position]

    def slice(self, end: int) -> str:
        """The unused text up to `end` (already read)."""
        return self.text[self.offset : self.offset + end]

    def use(self, count: int) -> None:
        """The next `count` characters are read."""
        index = self.offset + count
        newlines = self.text.count("\n", self.offset, index)
        if newlines:
            self.line += newlines
            self.column = index - self.text.rindex("\n", self.offset, index) - 1
        else:
            self.column += count
        self.offset = index

    def where(self, position: int) -> tuple[int, int]:
        """The line and column (from 0) of `position`."""
        index = self.offset + position
        newlines = self.text.count("\n", self.offset, index)
        if not newlines:
            return self.line, self.column + position
        return self.line + newlines, index - self.text.rindex("\n", self.offset, index) - 1

    def skip_space(self) -> bool:
        """Use whitespace and byte-order marks (kept in `skipped`); False at the end of the input."""
        parts: list[str] = []
        while True:
            found = _SPACE.match(self.text, self.offset)
            assert found is not None  # the pattern matches the empty string
            parts.append(found.group())
            self.skipped = "".join(parts)
            self.use(found.end() - self.offset)
            # A byte-order mark takes no column: a pretty-printed value after one (`cat` of files
            # saved with one) closes at the column it opened at.
            self.column -= found.group().rpartition("\n")[2].count(BOM)
            if self.pending:
                return True
            if not self.more():
                return False

    def line_end(self, limit: int) -> int:
        """The position of the next \\n if it is within `limit` characters, else -1."""
        searched = 0
        while True:
            found = self.text.find("\n", self.offset + searched, self.offset + limit)
            if found >= 0:
                return found - self.offset
            if self.pending >= limit:
                return -1
            searched = self.pending
            if not self.more(at_least=searched):  # doubles: a long line is not copied per chunk
                return -1


class _Broken(Exception):
    """No value can be read at the window's start: why, and where (a position in the window)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


class _Incomplete(Exception):
    """The text read so far ends inside the value: read more and try again."""


def read_values(stream: BinaryIO, origin: str, advance: Callable[[int], None]) -> Iterator[Value]:
    """Every JSON value in `stream` (a top-level array's items one by one), in order; what cannot
    be read becomes an Undecodable."""
    window = _Window(stream, advance)
    in_array = False  # inside a top-level array, where an item or its `]` is next
    opener: tuple[str, int] | None = None  # an array's `[` and its line, until its first item is read
    while window.skip_space():
        first = window.at(0)
        if in_array and first == "]":
            in_array, opener = False, None
            window.use(1)
            continue
        whole = None if in_array else _whole_line(window)
        if whole is None and not in_array and first == "[":
            in_array = True  # a long or pretty-printed array: its items one by one
            opener = "[", window.line
            window.use(1)
            continue
        if opener is not None:
            opener = opener[0] + window.skipped, opener[1]
        try:
            value, end = whole if whole is not None else _value(window, in_array)
        except _Broken as broken:
            column = window.column
            yield from _bad_region(window, origin, in_array, broken, opener)
            in_array, opener = in_array and _after_item(window, damaged_at=column), None
            continue
        text = window.slice(end)
        line = window.line
        window.use(end)
        if whole is None and _ESCAPED_BYTE.search(text) is not None:
            if opener is not None:  # the array's first item keeps its `[`, as a bad region does
                text, line = opener[0] + text, opener[1]
            yield _undecodable(text, origin, line, None)
        elif not in_array and first == "[" and isinstance(value, list):
            yield from value  # an array on one line, read whole
        else:
            yield value
        opener = None
        if in_array:
            in_array = _after_item(window)
    if opener is not None:  # `[` and nothing after it: kept, as any text that is not JSON
        yield _undecodable(opener[0].rstrip(), origin, opener[1], "an array that was never closed")


def _after_item(window: _Window, damaged_at: int | None = None) -> bool:
    """After an array item: use its `,` and say the array goes on; at its `]` (left for the caller)
    the array goes on too. After a damaged item (`damaged_at`: the column it started at) whose
    brackets never closed, its `,` may be lost with it: a value starting a line as the array's
    items do is its next item. Anything else: the array was never closed, read on at the top level."""
    if not window.skip_space():
        return False
    char = window.at(0)
    if char == ",":
        window.use(1)
        return True
    if char == "]":
        return True
    return damaged_at is not None and _next_item(window, char, damaged_at)


def _next_item(window: _Window, char: str, damaged_at: int) -> bool:
    """Whether `char`, after a damaged item, starts the array's next item: a value at the start of
    its line, indented as pretty-printed items are (or at column 0 when the items were), and not an
    array at column 0 (a new document joined after a cut one, as `cat` leaves it)."""
    column = window.column
    if "\n" not in window.skipped or char not in _VALUE_STARTS:
        return False
    if column == 0:
        return damaged_at == 0 and char != "["
    return True


def _whole_line(window: _Window) -> tuple[object, int] | None:
    """The value at the start if it is all of the rest of its line and the line is short: read at
    orjson's speed by jsonutil.loads, exactly as the standard library reads it."""
    end = window.line_end(PROBE_BYTES)
    if end < 0:
        if not window.eof or window.pending > PROBE_BYTES:
            return None
        end = window.pending
    line = window.slice(end)
    if not line.isascii() and _ESCAPED_BYTE.search(line) is not None:
        return None  # not UTF-8: read value by value, so only the value holding the bytes is bad
    try:
        return loads(line), end
    except (JSONDecodeError, RecursionError, ValueError):
        return None


def _value(window: _Window, in_array: bool) -> tuple[object, int]:
    """The value at the start and the position after it, reading more until it is whole."""
    while True:
        try:
            return _decode(window, in_array)
        except _Incomplete:
            if window.pending > MAX_VALUE_CHARS:
                raise _Broken(window.pending, f"a value longer than {MAX_VALUE_CHARS} characters") from None
            window.more(at_least=window.pending)  # doubles what is read: each retry is worth it


def _decode(window: _Window, in_array: bool) -> tuple[object, int]:
    text, start = window.text, window.offset
    try:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except RecursionError:  # the same reading, with an explicit stack
            value, end = deepjson.raw_decode(text, start)
    except JSONDecodeError as error:
        near_end = error.pos >= len(text) - _TAIL_CHARS
        if not window.eof and (near_end or error.msg.startswith("Unterminated string")):
            raise _Incomplete from None
        raise _Broken(error.pos - start, error.msg) from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise _Broken(0, str(error)) from None
    if end >= len(text) and not window.eof:
        raise _Incomplete  # a number may go on in the next chunk
    if end < len(text) and not _ends_value(text[end], value, in_array):
        raise _Broken(end - start, "other text right after a value")  # `0x`, `{}x`, `truex`
    return value, end - start


def _ends_value(char: str, value: object, in_array: bool) -> bool:
    """Whether `char` may follow `value`: space, an array's `,` or `]`; at the top level the next
    value may start right after an object, array or string (`{...}{...}`, as jq reads it)."""
    if char in _SPACES:
        return True
    if in_array:
        return char in ",]"
    return char in '{["' and isinstance(value, dict | list | str)


def _bad_region(
    window: _Window, origin: str, in_array: bool, broken: _Broken, opener: tuple[str, int] | None
) -> Iterator[Undecodable]:
    """The region at the window's start that could not be read, as one Undecodable (pieces of at
    most MAX_VALUE_CHARS for a longer one); the window moves past it. An array's first item keeps
    the array's `[` (`opener`) with it: nothing of the input is dropped."""
    line, column = window.line, window.column
    prefix = ""
    if opener is not None:
        prefix, line = opener
    error_line, error_column = window.where(min(broken.position, window.pending))
    reason = f"{broken.reason} (line {error_line} column {error_column + 1})"
    resumed = False
    while True:
        end = _region_end(window, in_array, column, resumed)
        text = prefix + window.slice(end).removesuffix("\r")  # a line ending is no part of it
        window.use(end)
        yield _undecodable(text, origin, line, reason)
        prefix = ""
        if end < MAX_VALUE_CHARS:
            return
        line, resumed = window.line, True


def _region_end(window: _Window, in_array: bool, column: int, resumed: bool) -> int:
    """Where a bad region starting at the window's start ends.

    Scanned leniently: strings (ended by a quote or a line end) and bracket depth. In an array it
    ends after the bracket that closes its first one, or at depth 0 at a `,` or `]`; at the top
    level at a line end at depth 0; at the latest before a line that is not indented further than `column`
    (unless it closes a bracket at that column, as a pretty-printed value's last line does): the
    next JSON Lines line, the next item of a pretty-printed array; or after MAX_VALUE_CHARS (then
    the rest is the region's next piece), or at the end of the input."""
    position = 0
    depth = 0
    opened = resumed
    in_string = False
    while position < MAX_VALUE_CHARS:
        char = window.at(position)
        if not char:
            return position
        if char == "\n":
            in_string = False
            if not in_array and depth == 0:
                return position
            indent = 1
            while window.at(position + indent) in (" ", "\t", "\r", "\n"):
                indent += 1
            next_char = window.at(position + indent)
            line_start = window.text.rfind("\n", 0, window.offset + position + indent) - window.offset
            indent = position + indent - line_start - 1
            if not next_char or indent < column or (indent == column and next_char not in "}]"):
                return position  # the next line is no part of this value: it starts another
            position += 1
            continue
        if in_string:
            if char == "\\":
                position += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            opened = True
        elif char in "}]":
            if depth == 0 and in_array and position:
                return position  # the array's own `]`
            depth = max(depth - 1, 0)
            if depth == 0 and opened and in_array:
                return position + 1
        elif char == "," and depth == 0 and in_array and position:
            return position
        position += 1
    return position


def _undecodable(text: str, origin: str, line: int, reason: str | None) -> Undecodable:
    """`text` kept as it was, bytes that are not UTF-8 shown as \\xNN."""
    data = text.encode("utf-8", "surrogateescape")
    if reason is None or _ESCAPED_BYTE.search(text):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            reason = f"not UTF-8 ({error.reason} at byte {error.start})"
    return Undecodable(text=data.decode("utf-8", "backslashreplace"), error=f"{origin} line {line}: {reason}")
