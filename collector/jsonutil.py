"""One JSON reading and writing for every path, with orjson's speed where it is exact.

Reading: the Lambda Python runtime hands the handler what the standard library's `json.loads`
produces (lone-surrogate escapes kept in the str, integers of any size exact, NaN and Infinity
accepted). `loads` gives exactly that for every other input path too (replay files, stdin, SQS
message bodies, failure records): orjson first, the standard library for what orjson refuses or
cannot represent exactly (orjson silently turns integers past 64 bits into floats).

Writing: canonical bytes and never an exception, at any nesting depth (orjson stops at 255 levels,
the standard library at the interpreter's recursion limit; the Lambda runtime reads far deeper).
"""

from __future__ import annotations

import hashlib
import json
import re
from json.encoder import encode_basestring_ascii
from typing import Any

import orjson

from collector import deepjson

JSONDecodeError = json.JSONDecodeError  # orjson.JSONDecodeError is a subclass of it
# Any integer literal orjson cannot hold (past 64 bits) has at least 19 digits.
_LONG_DIGIT_RUN = re.compile(rb"[0-9]{19}")
_LONG_DIGIT_RUN_TEXT = re.compile(r"[0-9]{19}")
_SEPARATORS = (",", ":")


class Unreadable(JSONDecodeError):
    """Input that is no JSON text at all: not UTF-8, or an integer of more digits than Python reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)
        self.args = (message,)


def loads(data: bytes | str) -> Any:
    """What `json.loads` gives for `data` (at any nesting depth), at orjson's speed when orjson's
    answer is the same. Raises JSONDecodeError for anything else, also for bytes that are not UTF-8."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _stdlib_loads(data)
    pattern = _LONG_DIGIT_RUN_TEXT if isinstance(data, str) else _LONG_DIGIT_RUN
    if pattern.search(data) is None:  # type: ignore[arg-type]
        return value
    return _stdlib_loads(data)


def _stdlib_loads(data: bytes | str) -> Any:
    """The standard library's reading, also past its recursion limit (the same text, read with an
    explicit stack)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise Unreadable(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        try:
            return json.loads(text)
        except RecursionError:
            pass
        value, end = deepjson.raw_decode(text, deepjson.skip_whitespace(text, 0))
    except JSONDecodeError:
        raise
    except ValueError as error:  # an integer of more digits than Python converts (4,300)
        raise Unreadable(str(error)) from None
    end = deepjson.skip_whitespace(text, end)
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return value


def dumps(value: Any) -> bytes:
    """Compact JSON; falls back to the standard library's form (ASCII escapes) for what orjson
    refuses: lone surrogates, ints past 64 bits, nesting past 255 levels."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return ascii_json(value).encode()


def canonical(value: Any) -> bytes:
    """Sorted-key JSON, so the same content always hashes the same whatever its key order."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return ascii_json(value, sort_keys=True).encode()


# SQS refuses lone surrogates (not UTF-8) and U+FFFE, U+FFFF; JSON already escapes the controls.
_NOT_FOR_SQS = re.compile("[\ud800-\udfff\ufffe\uffff]")


def sqs_json(value: Any) -> str:
    """JSON text an SQS message body accepts, in UTF-8 with only what SQS refuses escaped.

    ASCII escapes would do too, but they double a CJK character (3 bytes to 6) and triple an emoji
    (4 to 12): a WorkMail summary near its 128 KB limit would pass SQS's 256 KiB. The standard
    encoder, not orjson: it keeps what the Lambda runtime accepted and orjson would change or
    refuse (NaN and Infinity, which orjson writes as null; lone surrogates; integers past 64 bits),
    and `deepjson` takes over past the recursion limit."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=_SEPARATORS)
    except RecursionError:
        text = deepjson.dumps(value, ensure_ascii=False)
    return _NOT_FOR_SQS.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def ascii_json(value: Any, *, sort_keys: bool = False) -> str:
    """`json.dumps(value, separators=(",", ":"), default=repr)`, also past the recursion limit.

    ASCII only: safe for transports that refuse some code points (SQS refuses U+FFFE, U+FFFF)."""
    try:
        return json.dumps(value, sort_keys=sort_keys, default=repr, separators=_SEPARATORS)
    except RecursionError:
        pass
    except (ValueError, TypeError):
        return _shown(value)
    try:
        return deepjson.dumps(value, sort_keys=sort_keys)
    except (ValueError, TypeError):
        return _shown(value)


def _shown(value: Any) -> str:
    """A self-referencing or unsortable value (never one parsed from JSON): its repr, deterministic."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__} that cannot be shown>"
    return encode_basestring_ascii(text)


def clean_text(text: str) -> str:
    """Replace lone surrogates (legal in JSON escapes, illegal in UTF-8 and so in every store) with U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def content_hash(value: Any) -> str:
    """Stable SHA-256 of a payload's canonical form."""
    return hashlib.sha256(canonical(value)).hexdigest()
