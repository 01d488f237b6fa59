"""The standard library's JSON text, read and written with an explicit stack instead of recursion.

Only for nesting the recursive forms cannot hold (orjson stops at 255 levels when writing and 1,024
when reading; the standard library at the interpreter's recursion limit, about 1,000 levels on
Python 3.11, while the Lambda runtime on Python 3.13 reads about 10,000). Both functions give exactly
what `json.dumps(value, separators=(",", ":"), default=repr)` and `json.JSONDecoder().raw_decode`
give, built from the standard library's own string and number scanners; only the walk is ours.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]
from json.encoder import encode_basestring, encode_basestring_ascii
from json.scanner import NUMBER_RE
from typing import Any

_scan_string: Callable[[str, int, bool], tuple[str, int]] = scanstring  # the C scanner's strings
_LITERALS: tuple[tuple[str, Any], ...] = (("null", None), ("true", True), ("false", False))
_CONSTANTS: tuple[tuple[str, Any], ...] = (
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
)
_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")


def skip_whitespace(text: str, index: int) -> int:
    """The index of the first character at or after `index` that is not JSON whitespace."""
    found = _NOT_WHITESPACE.search(text, index)
    return len(text) if found is None else found.start()


def raw_decode(text: str, index: int = 0) -> tuple[Any, int]:
    """`json.JSONDecoder().raw_decode(text, index)`, at any depth. Raises json.JSONDecodeError
    (ValueError for an integer past Python's digit limit, as the standard library does)."""
    skip = skip_whitespace
    stack: list[tuple[dict[str, Any] | list[Any], str]] = []  # open containers, with an object's key
    while True:
        char = text[index : index + 1]
        value: Any
        if char == "{":
            index = skip(text, index + 1)
            if text[index : index + 1] != "}":
                key, index = _key(text, index)
                stack.append(({}, key))
                continue
            value, index = {}, index + 1
        elif char == "[":
            index = skip(text, index + 1)
            if text[index : index + 1] != "]":
                stack.append(([], ""))
                continue
            value, index = [], index + 1
        else:
            value, index = _scalar(text, index)
        while True:  # a whole value: into its container, closing every container it completes
            if not stack:
                return value, index
            container, key = stack[-1]
            if isinstance(container, list):
                container.append(value)
            else:
                container[key] = value
            index = skip(text, index)
            char = text[index : index + 1]
            if char == ",":
                index = skip(text, index + 1)
                if isinstance(container, dict):
                    key, index = _key(text, index)
                    stack[-1] = (container, key)
                break
            if char != ("]" if isinstance(container, list) else "}"):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
            stack.pop()
            value, index = container, index + 1


def _key(text: str, index: int) -> tuple[str, int]:
    """An object's key and the ':' after it; returns the index of its value."""
    if text[index : index + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
    key, index = _scan_string(text, index + 1, True)
    index = skip_whitespace(text, index)
    if text[index : index + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
    return key, skip_whitespace(text, index + 1)


def _scalar(text: str, index: int) -> tuple[Any, int]:
    """In the order of the standard library's scanner: string, literals, number, constants."""
    if text[index : index + 1] == '"':
        return _scan_string(text, index + 1, True)
    for name, value in _LITERALS:
        if text.startswith(name, index):
            return value, index + len(name)
    number = NUMBER_RE.match(text, index)
    if number is not None:
        integer, fraction, exponent = number.groups()
        if fraction or exponent:
            return float(integer + (fraction or "") + (exponent or "")), number.end()
        return int(integer), number.end()
    for name, value in _CONSTANTS:
        if text.startswith(name, index):
            return value, index + len(name)
    raise json.JSONDecodeError("Expecting value", text, index)


class _Raw(str):
    """Output text already encoded, on the encoder's stack beside values still to encode."""


class _Closing:
    """Where a container's closing bracket goes (and when it stops being open)."""

    __slots__ = ("container",)

    def __init__(self, container: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> None:
        self.container = container


def dumps(value: Any, *, sort_keys: bool = False, ensure_ascii: bool = True) -> str:
    """`json.dumps(value, separators=(",", ":"), default=repr, ...)`, at any depth. Raises
    ValueError for a self-referencing value and TypeError for unsortable keys, as that does."""
    encode: Callable[[str], str] = encode_basestring_ascii if ensure_ascii else encode_basestring
    out: list[str] = []
    stack: list[Any] = [value]
    active: set[int] = set()  # containers being written: a cycle would never end
    while stack:
        node = stack.pop()
        if type(node) is _Raw:
            out.append(node)
        elif isinstance(node, str):
            out.append(encode(node))
        elif isinstance(node, _Closing):
            active.discard(id(node.container))
            out.append("}" if isinstance(node.container, dict) else "]")
        elif isinstance(node, dict | list | tuple):
            if not node:
                out.append("{}" if isinstance(node, dict) else "[]")
                continue
            if id(node) in active:
                raise ValueError("Circular reference detected")
            active.add(id(node))
            stack.append(_Closing(node))
            parts: list[Any] = []
            if isinstance(node, dict):
                items = sorted(node.items()) if sort_keys else node.items()
                for index, (key, item) in enumerate(items):
                    parts += [_Raw(("{" if index == 0 else ",") + encode(_key_text(key)) + ":"), item]
            else:
                for index, item in enumerate(node):
                    parts += [_Raw("[" if index == 0 else ","), item]
            stack.extend(reversed(parts))
        elif node is None or isinstance(node, bool | int | float):
            out.append(json.dumps(node))
        else:
            out.append(encode(repr(node)))  # default=repr
    return "".join(out)


def _key_text(key: object) -> str:
    """Object keys as json.dumps writes them: strings as they are, scalars as their JSON text."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
