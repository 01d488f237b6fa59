"""Amazon WorkMail "Run Lambda" event summary -> MailEvent | Invalid.

Accepts the real layout (``envelope.mailFrom``, ``envelope.recipients``) and the flat layout some
documentation shows (``mailFrom``, ``recipients`` at the top level). Tolerant where WorkMail may
evolve (unknown fields, new ``summaryVersion`` values, new directions), strict where a wrong type
means the payload cannot be trusted. Kept thin on purpose: AWS ends WorkMail support on 2027-03-31,
and another source must be able to take its place beside this module.
"""

from __future__ import annotations

from typing import Any

from collector.events.fields import (
    SYNTHETIC_KEY_PREFIX,
    Reject,
    bounded_key,
    key_part,
    normalize_address,
    text,
)
from collector.jsonutil import clean_text, content_hash, dumps
from collector.model import Direction, Invalid, MailEvent, Source, Undecodable

__all__ = ["KNOWN_FIELDS", "SYNTHETIC_KEY_PREFIX", "normalize_address", "parse"]

# The one key of the object an undecodable line is hashed as (see parse).
UNDECODABLE = "undecodable"
KNOWN_FIELDS = frozenset(
    {
        "summaryVersion",
        "envelope",
        "mailFrom",
        "recipients",
        "sender",
        "subject",
        "messageId",
        "invocationId",
        "flowDirection",
        "truncated",
    }
)


def _address(value: object, where: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise Reject(f"{where} is missing")
        return None
    if not isinstance(value, dict):
        raise Reject(f"{where} must be an object with an 'address', got {type(value).__name__}")
    address = value.get("address")
    if not isinstance(address, str):
        raise Reject(f"{where}.address must be a string, got {type(address).__name__}")
    return normalize_address(address)


def _recipients(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Reject(f"{where} must be a list, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        address = _address(item, f"{where}[{i}]", required=True)
        assert address is not None
        out.append(address)
    return tuple(out)


def _direction(value: object) -> tuple[Direction, str | None]:
    if isinstance(value, str):
        try:
            return Direction(value.upper()), value
        except ValueError:
            return Direction.UNKNOWN, clean_text(value[:100])
    # As JSON text: str() of a nested value recurses (and fails) once per level; JSON never does.
    return Direction.UNKNOWN, None if value is None else dumps(value)[:100].decode("utf-8", "ignore")


def _key(event: dict[str, Any]) -> tuple[str, bool]:
    """The invocationId when present, else a stable hash of the content (flagged as synthesized).

    A present invocationId must be usable as a key (a string, not blank, with no ':', so it is
    never one of the keys the collector builds: else the payload is invalid). An id too long to be
    a DynamoDB key is replaced by a hash of the id itself: still stable across redeliveries, so
    dedupe holds, and flagged as synthesized."""
    if "invocationId" not in event or event["invocationId"] is None:
        return SYNTHETIC_KEY_PREFIX + content_hash(event), True
    return bounded_key(key_part(event["invocationId"], "invocationId").strip())


def _claimed_key(event: dict[str, Any]) -> str | None:
    """The invocationId an invalid payload carries, kept beside it (`claimedKey`) to find it by."""
    invocation_id = event.get("invocationId")
    if not isinstance(invocation_id, str) or not invocation_id.strip():
        return None
    return bounded_key(invocation_id.strip())[0]


def parse(raw: object) -> MailEvent | Invalid:
    """Validate one payload. Never raises: anything unusable becomes an Invalid with a reason."""
    if isinstance(raw, Undecodable):
        # Marked as text that never became JSON, so it never shares a hash with the JSON string
        # of the same text (`{not json` and `"{not json"` are two payloads). Versions before the
        # quarantine's key space hashed the bare text, under `sha256:<that hash>`.
        before = content_hash(raw.text)
        return Invalid(
            fingerprint=content_hash({UNDECODABLE: raw.text}),
            reason=f"payload is not valid JSON: {raw.error}",
            raw=raw.text,
            legacy_keys=(SYNTHETIC_KEY_PREFIX + before,),
            legacy_fingerprint=before,
        )
    fingerprint = content_hash(raw)
    if not isinstance(raw, dict):
        reason = f"payload must be a JSON object, got {type(raw).__name__}"
        return Invalid(
            fingerprint=fingerprint, reason=reason, raw=raw, legacy_keys=(SYNTHETIC_KEY_PREFIX + fingerprint,)
        )
    direction, raw_direction = _direction(raw.get("flowDirection"))
    try:
        return _parse_object(raw, fingerprint, direction, raw_direction)
    except Reject as reject:
        claimed = _claimed_key(raw)
        return Invalid(
            fingerprint=fingerprint,
            reason=str(reject),
            raw=raw,
            direction=direction,
            source=Source.WORKMAIL,
            claimed_key=claimed,
            # Older versions: under the invocationId it carried, else under its content hash.
            legacy_keys=(claimed or SYNTHETIC_KEY_PREFIX + fingerprint,),
        )


def _parse_object(
    event: dict[str, Any],
    fingerprint: str,
    direction: Direction,
    raw_direction: str | None,
) -> MailEvent:
    key, synthesized = _key(event)
    message_id = event.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise Reject("messageId is missing" if message_id is None else "messageId must be a non-empty string")

    envelope = event.get("envelope")
    if envelope is not None:
        if not isinstance(envelope, dict):
            raise Reject(f"envelope must be an object, got {type(envelope).__name__}")
        layout, source, prefix = "envelope", envelope, "envelope."
    else:
        layout, source, prefix = "flat", event, ""
    if "recipients" not in source:
        raise Reject(f"{prefix}recipients is missing")
    recipients = _recipients(source["recipients"], f"{prefix}recipients")
    mail_from = _address(source.get("mailFrom"), f"{prefix}mailFrom", required=True)

    truncated = event.get("truncated")
    truncated = False if truncated is None else truncated  # absent or null: nothing was cut
    if not isinstance(truncated, bool):
        raise Reject(f"truncated must be a boolean, got {type(truncated).__name__}")

    # Unknown fields are kept; so are top-level mailFrom/recipients beside an envelope (the
    # envelope wins, but nothing that arrived is dropped).
    shadowed = ("mailFrom", "recipients") if source is not event else ()
    extra = {k: v for k, v in event.items() if k not in KNOWN_FIELDS or k in shadowed}
    if source is not event:
        extra.update({f"envelope.{k}": v for k, v in source.items() if k not in ("mailFrom", "recipients")})
    return MailEvent(
        dedupe_key=key,
        key_synthesized=synthesized,
        fingerprint=fingerprint,
        message_id=clean_text(message_id),
        direction=direction,
        raw_direction=raw_direction,
        mail_from=mail_from,
        sender=_address(event.get("sender"), "sender", required=False),
        recipients=recipients,
        subject=text(event.get("subject"), "subject"),
        truncated=truncated,
        summary_version=text(event.get("summaryVersion"), "summaryVersion"),
        layout=layout,
        extra=extra,
    )
