"""Keyed hashing of personal data, so redacted records still join and dedupe but never reveal."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

PREFIX = "hmac:"
# Fields that identify an invocation, not a person: kept in clear even inside redacted raw payloads.
SAFE_KEYS = frozenset({"invocationId", "messageId", "flowDirection", "summaryVersion", "truncated"})


class Redactor:
    """HMAC-SHA256 under the configured key; the identity when redaction is off."""

    def __init__(self, key: bytes | None) -> None:
        self._key = key

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def value(self, text: str) -> str:
        if self._key is None:
            return text
        return PREFIX + hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.value(text)

    def tree(self, value: Any) -> Any:
        """Hash every string leaf of a JSON value except the top-level SAFE_KEYS, keeping its shape
        (object keys included: they are field names) for diagnosis."""
        if self._key is None:
            return value
        stack: list[tuple[Any, Any, bool]] = []
        root: list[Any] = [None]
        stack.append((value, (root, 0), True))
        while stack:
            node, (parent, slot), top = stack.pop()
            if isinstance(node, dict):
                copy: dict[str, Any] = {}
                parent[slot] = copy
                for k, v in node.items():
                    if top and k in SAFE_KEYS and not isinstance(v, dict | list):
                        copy[k] = v  # only the event's own id fields, never a nested look-alike
                    else:
                        copy[k] = None
                        stack.append((v, (copy, k), False))
            elif isinstance(node, list):
                items: list[Any] = [None] * len(node)
                parent[slot] = items
                stack.extend((v, (items, i), False) for i, v in enumerate(node))
            elif isinstance(node, str):
                parent[slot] = self.value(node)
            else:
                parent[slot] = node
        return root[0]
