"""Typed reads of one payload's fields, shared by the adapters: tolerant of absence, strict about
wrong types, and the dedupe-key and address rules every source follows.

Public models of SES events disagree on which fields are optional (the DefinitelyTyped, Rust and
Powertools types, the samples of the SES and Lambda developer guides), so only what the collector
cannot work without is required; a field that is present with the wrong type still means the
payload cannot be trusted, and the adapters quarantine it with the reason this module gives.
"""

from __future__ import annotations

from email.utils import getaddresses
from typing import Any

from collector.jsonutil import clean_text, content_hash

SYNTHETIC_KEY_PREFIX = "sha256:"  # a key made from content, when the payload carries none usable
# Every key the collector builds itself (`ses:...`, `sha256:...`, `invalid:sha256:...`, the
# reconcile ledger's `reconcile:...`) has one; an id from a payload may not, so it can never
# become one of them (a receipt's messageId "m:Send" would be the key of message m's Send).
KEY_SEPARATOR = ":"
MAX_KEY_BYTES = 1024  # DynamoDB allows 2,048 bytes in a partition key; real ids are 32 or 40


class Reject(Exception):
    """The payload is invalid for the stated reason."""


def normalize_address(address: str) -> str:
    """Lower-case the domain only: the local part is case-sensitive by RFC 5321, the domain is not."""
    address = clean_text(address.strip())
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower()}"


def obj(value: object, where: str, *, required: bool = True) -> dict[str, Any] | None:
    if value is None:
        if required:
            raise Reject(f"{where} is missing")
        return None
    if not isinstance(value, dict):
        raise Reject(f"{where} must be an object, got {type(value).__name__}")
    return value


def text(value: object, where: str) -> str | None:
    """An optional string, lone surrogates replaced."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Reject(f"{where} must be a string, got {type(value).__name__}")
    return clean_text(value)


def required_text(value: object, where: str) -> str:
    found = text(value, where)
    if not found:
        raise Reject(f"{where} is missing" if value is None else f"{where} must be a non-empty string")
    return found


def key_part(value: object, where: str) -> str:
    """A field a dedupe key is built from (an id): present, a string, not blank, and without the
    key separator. A blank part would give distinct events one key (later ones then look like
    conflicting redeliveries) or, as DynamoDB sees it, an empty key it refuses on every retry.
    Over-long parts stay within DynamoDB's key limit through `bounded_key`."""
    if value is None:
        raise Reject(f"{where} is missing")
    if not isinstance(value, str):
        raise Reject(f"{where} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise Reject(f"{where} must not be blank")
    if KEY_SEPARATOR in value:
        raise Reject(f"{where} must not contain {KEY_SEPARATOR!r}, which the collector's own keys use")
    return clean_text(value)


def flag(value: object, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise Reject(f"{where} must be a boolean, got {type(value).__name__}")


def addresses(value: object, where: str, *, required: bool = True) -> tuple[str, ...]:
    """A list of address strings (SES sends bare addresses), domains lower-cased."""
    if value is None and not required:
        return ()
    if not isinstance(value, list):
        raise Reject(
            f"{where} is missing" if value is None else f"{where} must be a list, got {type(value).__name__}"
        )
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise Reject(f"{where}[{i}] must be a string, got {type(item).__name__}")
        out.append(normalize_address(item))
    return tuple(out)


def listed_addresses(value: object, where: str, field: str = "emailAddress") -> tuple[str, ...]:
    """A list of objects each naming one address (bouncedRecipients, complainedRecipients, ...)."""
    if not isinstance(value, list):
        raise Reject(
            f"{where} is missing" if value is None else f"{where} must be a list, got {type(value).__name__}"
        )
    out = []
    for i, item in enumerate(value):
        entry = obj(item, f"{where}[{i}]")
        assert entry is not None
        out.append(normalize_address(required_text(entry.get(field), f"{where}[{i}].{field}")))
    return tuple(out)


def header_address(value: object, where: str) -> str | None:
    """The first address of a header value list such as commonHeaders.from
    (`["Jane Doe <janedoe@example.com>"]`), parsed by the standard library; the text as sent when
    no address can be read from it."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise Reject(f"{where} must be a list of strings")
    if not items:
        return None
    first = clean_text(items[0])
    try:
        parsed = [address for _, address in getaddresses([first]) if address]
    except (RecursionError, ValueError, IndexError):
        # The sender writes this header: comments nested some hundreds deep exhaust the stdlib
        # parser's recursion (3.11 to 3.13). The text as sent is still the best record of it.
        parsed = []
    return normalize_address(parsed[0] if parsed else first)


def bounded_key(key: str) -> tuple[str, bool]:
    """A dedupe key as built, or (past DynamoDB's comfortable key size) a stable hash of it, flagged
    as synthesized like the WorkMail adapter's over-long invocationIds."""
    key = clean_text(key)
    if len(key.encode()) <= MAX_KEY_BYTES:
        return key, False
    return SYNTHETIC_KEY_PREFIX + content_hash(key), True


def without(mapping: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in names}
