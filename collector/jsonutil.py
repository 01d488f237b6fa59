"""orjson with the few guarantees the pipeline needs: canonical bytes and never an exception."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact JSON; falls back to the standard library for what orjson refuses (ints past 64 bits)."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=repr, separators=(",", ":")).encode()


def canonical(value: Any) -> bytes:
    """Sorted-key JSON, so the same content always hashes the same whatever its key order."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        try:
            return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":")).encode()
        except (RecursionError, ValueError, TypeError):
            # Pathologically deep or self-referencing input: repr is still deterministic.
            return repr(value).encode("utf-8", "surrogatepass")


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


loads = orjson.loads
JSONDecodeError = orjson.JSONDecodeError
