"""The one place that tells a payload's source from its shape, so one function serves WorkMail and
SES side by side during a migration. Every payload that arrives ends as a MailEvent or an Invalid:

| shape | adapter (layout) |
|---|---|
| WorkMail summary (`invocationId`, `envelope`, `flowDirection`, ...) | workmail (envelope, flat) |
| `Records[0].eventSource == "aws:ses"`: receipt rule, Lambda action | ses (receipt-lambda) |
| `Records[0].EventSource == "aws:sns"` with an SES record in `Sns.Message` | ses, ses_sending (*-sns) |
| the same SNS message without Lambda's envelope (a subscription's dead-letter queue) | as above |
| `source == "aws.ses"` with a `detail`: EventBridge, default bus | ses_sending (event-eventbridge) |
| an SES record on its own (`notificationType`/`eventType` and `mail`) | ses, ses_sending |
| anything else | none: quarantined with its raw content |

SES Mail Manager's InvokeLambda action sends a payload AWS does not document (checked 2026: the
API, CloudFormation and SES Developer Guide describe only the action's settings). No adapter is
guessed for it: a payload naming Mail Manager resources is quarantined with a reason that says so,
and every unrecognised payload's reason names Mail Manager too, so one can be found, captured and
replayed once an adapter exists (docs/migrating.md).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from typing import Any

from collector.events import ses, ses_sending
from collector.events import workmail as workmail_events
from collector.jsonutil import JSONDecodeError, canonical, content_hash, loads
from collector.model import Invalid, MailEvent, Source, Undecodable

log = logging.getLogger(__name__)

MAIL_MANAGER_REASON = (
    "looks like an SES Mail Manager InvokeLambda payload (it names Mail Manager resources): AWS does "
    "not document that payload, so no adapter reads it yet; kept here, raw, to be replayed once one "
    "exists (docs/migrating.md)"
)
UNKNOWN_REASON = (
    "no adapter recognises this payload (WorkMail Run Lambda, SES receipt rule, SES sending event "
    "or notification, directly or via SNS or EventBridge); an SES Mail Manager InvokeLambda payload, "
    "which AWS does not document, also lands here: see docs/migrating.md"
)
# Mail Manager resource ARNs read `arn:<partition>:ses:<region>:<account>:mailmanager-<type>/<id>`.
MAIL_MANAGER_MARKERS = (":mailmanager-", "mailmanager", "ingresspoint")
MARKER_SCAN_BYTES = 256 * 1024
# Fields only a WorkMail summary has; `messageId`, `subject` and the like could be anyone's.
WORKMAIL_MARKERS = frozenset({"summaryVersion", "invocationId", "flowDirection", "envelope"})


@dataclass(frozen=True)
class Shape:
    """What detection found: which adapter, the record it reads, and what the wrapper added."""

    source: Source | None
    adapter: str  # "workmail", "receipt", "sending", "mail-manager", "unknown" or "invalid"
    record: dict[str, Any] = field(default_factory=dict)
    layout: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    declared: str | None = None  # the event type a wrapper names (EventBridge detail-type)
    reason: str = ""


def _ses_record(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("mail"), dict)
        and (isinstance(value.get("eventType"), str) or isinstance(value.get("notificationType"), str))
    )


def _bare(record: dict[str, Any], suffix: str = "", context: dict[str, Any] | None = None) -> Shape:
    """An SES record (receipt notification, sending event or notification), however it came."""
    context = context or {}
    if record.get("notificationType") == "Received":
        layout = ses.SNS_LAYOUT if suffix == "-sns" else ses.NOTIFICATION_LAYOUT
        return Shape(Source.SES, "receipt", record, layout, context)
    family = "event" if "eventType" in record else "notification"
    return Shape(Source.SES, "sending", record, family + suffix, context)


def _records(raw: dict[str, Any]) -> Shape | None:
    records = raw.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return None
    first = records[0]
    if first.get("eventSource") == "aws:ses":
        if len(records) != 1:
            return Shape(Source.SES, "invalid", reason=_batch(len(records)))
        record = first.get("ses")
        if not isinstance(record, dict):
            return Shape(Source.SES, "invalid", reason="SES receipt event: Records[0].ses must be an object")
        context = {f"record.{k}": v for k, v in first.items() if k not in ("ses", "eventSource")}
        context["eventVersion"] = first.get("eventVersion")
        context.pop("record.eventVersion", None)
        return Shape(Source.SES, "receipt", record, ses.LAMBDA_LAYOUT, context)
    if first.get("EventSource") == "aws:sns":
        sns = first.get("Sns")
        message = sns.get("Message") if isinstance(sns, dict) else None
        try:
            inner = loads(message) if isinstance(message, str | bytes) else None
        except JSONDecodeError:
            inner = None
        if not _ses_record(inner):
            return None  # an SNS message, but not from SES: unrecognised
        if len(records) != 1:
            return Shape(Source.SES, "invalid", reason=_batch(len(records)))
        assert isinstance(sns, dict) and isinstance(inner, dict)
        ids = {k: sns[k] for k in ("MessageId", "TopicArn", "Timestamp") if k in sns}
        return _bare(inner, "-sns", {"sns": ids})
    return None


def _sns_notification(raw: dict[str, Any]) -> Shape | None:
    """An SNS message as SNS keeps it outside Lambda's envelope: the body of a message in a
    subscription's dead-letter queue (the stack's failure queue), read back by replay."""
    if raw.get("Type") != "Notification" or not isinstance(raw.get("Message"), str):
        return None
    return _records({"Records": [{"EventSource": "aws:sns", "Sns": raw}]})


def _batch(count: int) -> str:
    return (
        f"{count} records in one invocation; SES and SNS send one, and the collector records one "
        "event per invocation: replay each record on its own"
    )


def _eventbridge(raw: dict[str, Any]) -> Shape | None:
    if raw.get("source") != "aws.ses" or "detail" not in raw:
        return None
    detail = raw.get("detail")
    detail_type = raw.get("detail-type")
    declared = ses_sending.DETAIL_TYPES.get(detail_type) if isinstance(detail_type, str) else None
    if not isinstance(detail, dict) or (declared is None and ses_sending.type_name(detail) is None):
        # Named by field, never by value: detail-type is anyone's text (an address, say).
        what = "detail must be an object" if not isinstance(detail, dict) else "detail-type"
        if isinstance(detail, dict):
            what += " names no email sending event, and detail has no eventType"
        return Shape(Source.SES, "invalid", reason=f"EventBridge SES event: {what}")
    ids = {k: raw[k] for k in ("id", "detail-type", "time", "account", "region", "resources") if k in raw}
    return Shape(Source.SES, "sending", detail, "event-eventbridge", {"eventbridge": ids}, declared)


def _mentions_mail_manager(raw: dict[str, Any]) -> bool:
    text = canonical(raw)[:MARKER_SCAN_BYTES].decode("utf-8", "ignore").lower()
    return any(marker in text for marker in MAIL_MANAGER_MARKERS)


def shape_of(raw: object) -> Shape:
    """Classify a payload; never raises and never reads more than the wrapper needs."""
    if not isinstance(raw, dict):
        return Shape(None, "workmail")  # the WorkMail adapter names what a non-object is
    found = _records(raw) or _sns_notification(raw) or _eventbridge(raw)
    if found is not None:
        return found
    if _ses_record(raw):
        return _bare(raw)
    if WORKMAIL_MARKERS & raw.keys():
        return Shape(Source.WORKMAIL, "workmail")
    if _mentions_mail_manager(raw):
        return Shape(Source.SES, "mail-manager", reason=MAIL_MANAGER_REASON)
    if workmail_events.KNOWN_FIELDS & raw.keys():  # a flat WorkMail summary missing its own ids
        return Shape(Source.WORKMAIL, "workmail")
    return Shape(None, "unknown", reason=UNKNOWN_REASON)


def source_of(raw: object) -> Source | None:
    """The mail service a payload came from, as far as its shape tells (None: unrecognised)."""
    return shape_of(raw).source


def parse(raw: object) -> MailEvent | Invalid:
    """The pipeline's default EventSource: detect, then hand the payload to its adapter.

    An adapter that fails on a payload in a way it did not foresee (a defect, or a hostile input
    no test has met yet) must not lose the event or fail every retry: the payload is quarantined
    raw, with the error named, and the traceback logged for whoever fixes the adapter."""
    try:
        return _parse(raw)
    except MemoryError:
        raise
    except Exception as error:
        # The error's type and where it was raised, never its message: messages quote the input
        # (an address, a subject), which must not reach the log or the record in clear text when
        # redaction is on. The raw payload is kept (and redacted) as for every invalid event.
        frames = "".join(traceback.format_tb(error.__traceback__)[-3:])
        name = type(error).__name__
        log.error("an adapter failed on a payload (%s); it is quarantined raw\n%s", name, frames)
        shape = _shape_or_none(raw)
        adapter = "workmail" if isinstance(raw, Undecodable) else shape.adapter if shape else "detection"
        return _quarantined(
            raw,
            f"the collector could not read this payload ({name} in its {adapter} adapter); kept raw,"
            " to be replayed once the collector reads it",
            shape.source if shape else None,
        )


def _shape_or_none(raw: object) -> Shape | None:
    """The payload's shape, for the catch-all: None when detection itself is what failed."""
    if isinstance(raw, Undecodable):
        return None
    try:
        return shape_of(raw)
    except Exception:
        return None


def _quarantined(raw: object, reason: str, source: Source | None) -> Invalid:
    """A payload no adapter reads, kept raw under the hash of its content."""
    fingerprint = content_hash(raw)
    legacy = (workmail_events.SYNTHETIC_KEY_PREFIX + fingerprint,)  # where older versions kept it
    return Invalid(fingerprint=fingerprint, reason=reason, raw=raw, source=source, legacy_keys=legacy)


def _parse(raw: object) -> MailEvent | Invalid:
    if isinstance(raw, Undecodable):
        return workmail_events.parse(raw)
    shape = shape_of(raw)
    if shape.adapter == "workmail":
        return workmail_events.parse(raw)
    if shape.adapter == "receipt":
        return ses.parse_receipt(raw, shape.record, shape.layout, shape.context)
    if shape.adapter == "sending":
        return ses_sending.parse_sending(raw, shape.record, shape.layout, shape.context, shape.declared)
    return _quarantined(raw, shape.reason, shape.source)
