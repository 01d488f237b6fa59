"""The audit trail as one table, defined once: the Parquet files, the Glue table and DuckDB's view.

One row per stored record, whatever its source (WorkMail, an SES receipt, an SES sending event)
and status (RECORDED or INVALID: the truncated and invalid queries need both). Column names are
snake_case because Glue lower-cases names and Athena matches Parquet columns by name. `day` is
the Hive partition (`day=YYYY-MM-DD/`, a string as in Glue's partition projection), never a column
inside the files.

pyarrow stays out of this module so the stack (which only needs names and Glue types) can import
it without the `trail` extra; `Column.arrow_type()` imports it when asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

DATABASE = "workmail_collector"
TABLE = "audit_trail"
QUALIFIED_TABLE = f"{DATABASE}.{TABLE}"
PARTITION = "day"  # 'YYYY-MM-DD', the record's receivedDay (UTC)
PARTITION_TYPE = "string"

# Attributes a record may carry that are no column: the partition, and the writers' bookkeeping:
# replay's countState changes after the record is written (it would change a finished day's file),
# attemptId is random per processing attempt (the same events would export differently each run).
NOT_COLUMNS = frozenset({"receivedDay", "countState", "attemptId"})


@dataclass(frozen=True)
class Column:
    name: str  # the column's name in Parquet, Glue and DuckDB
    glue_type: str  # Glue/Athena (Hive DDL) type
    attribute: str  # the record attribute it holds
    comment: str = ""

    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.glue_type)


def _c(name: str, glue_type: str, attribute: str, comment: str = "") -> Column:
    return Column(name, glue_type, attribute, comment)


COLUMNS: tuple[Column, ...] = (
    _c("received_at", "timestamp", "receivedAt", "UTC time of the first delivery (ms)"),
    _c("invocation_id", "string", "invocationId", "dedupe key: WorkMail's invocationId, ses:..., sha256:..."),
    _c("status", "string", "status", "RECORDED or INVALID"),
    _c("source", "string", "source", "WorkMail or SES; null: no adapter recognised an INVALID payload"),
    _c("event_type", "string", "eventType", "SES: Received, Send, Delivery, Bounce, ...; null for WorkMail"),
    _c("direction", "string", "direction", "INBOUND, OUTBOUND or UNKNOWN"),
    _c("raw_direction", "string", "rawDirection", "an unexpected direction as sent"),
    _c("message_id", "string", "messageId", "WorkMail message id or SES mail.messageId"),
    _c("sender", "string", "sender", "address (domain lower-cased), an HMAC when redacted"),
    _c("mail_from", "string", "mailFrom", "envelope MAIL FROM"),
    _c("recipients", "array<string>", "recipients", "envelope recipients (WorkMail may cut the list)"),
    _c("recipient_count", "bigint", "recipientCount", "recipients in the event, before any trimming"),
    _c("subject", "string", "subject", "as sent; an HMAC when redacted"),
    _c("truncated", "boolean", "truncated", "WorkMail: payload passed 128 KB, recipient list cut"),
    _c("headers_truncated", "boolean", "headersTruncated", "SES: header list passed 10 KB and was cut"),
    _c("spf_verdict", "string", "spfVerdict", "SES receipt verdict"),
    _c("dkim_verdict", "string", "dkimVerdict", "SES receipt verdict"),
    _c("dmarc_verdict", "string", "dmarcVerdict", "SES receipt verdict"),
    _c("spam_verdict", "string", "spamVerdict", "SES receipt verdict"),
    _c("virus_verdict", "string", "virusVerdict", "SES receipt verdict"),
    _c("dmarc_policy", "string", "dmarcPolicy", "none, quarantine or reject"),
    _c("summary_version", "string", "summaryVersion", "event format version"),
    _c("layout", "string", "layout", "envelope, flat, receipt-lambda, event-sns, ..."),
    _c("extra", "string", "extra", "unknown event fields (JSON text)"),
    _c("request_id", "string", "requestId", "the Lambda invocation that recorded it"),
    _c("function_version", "string", "functionVersion", "the Lambda version that recorded it"),
    _c("expires_at", "bigint", "expiresAt", "epoch seconds of the store's TTL"),
    _c("fingerprint", "string", "fingerprint", "SHA-256 of the canonical payload"),
    _c("key_synthesized", "boolean", "keySynthesized", "the dedupe key was derived, not sent"),
    _c("claimed_key", "string", "claimedKey", "a quarantined payload's own key, from the ids it carried"),
    _c("redacted", "boolean", "redacted", "addresses and subject are HMACs"),
    _c("reason", "string", "reason", "INVALID: why"),
    _c("raw", "string", "raw", "INVALID: the payload as it arrived (cut at 300 KB)"),
    _c("raw_bytes", "bigint", "rawBytes", "INVALID: the payload's size"),
    _c("raw_truncated", "boolean", "rawTruncated", "INVALID: raw was cut"),
    _c("trimmed_fields", "array<string>", "trimmedFields", "fields cut to fit one DynamoDB item"),
    _c("enrichment", "string", "enrichment", "OK, NOT_FOUND, ACCESS_DENIED, TIMEOUT or ERROR"),
    _c("enrichment_reason", "string", "enrichmentReason", "why enrichment failed"),
    _c("size_bytes", "bigint", "sizeBytes", "the raw message's size"),
    _c("content_type", "string", "contentType", "top-level MIME type"),
    _c("part_count", "bigint", "partCount", "leaf MIME parts"),
    _c("attachment_count", "bigint", "attachmentCount", "attachments"),
    _c("attachment_types", "array<string>", "attachmentTypes", "attachments' MIME types"),
    _c("message_id_header", "string", "messageIdHeader", "the Message-ID header"),
    _c("spf", "string", "spf", "enrichment: topmost Authentication-Results"),
    _c("dkim", "string", "dkim", "enrichment: topmost Authentication-Results"),
    _c("dmarc", "string", "dmarc", "enrichment: topmost Authentication-Results"),
    _c("is_bounce", "boolean", "isBounce", "enrichment: a delivery-status report"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
# A value the store moved aside because DynamoDB cannot index it (collector.audit._indexable) is
# still the record's value: the column takes it.
UNINDEXED = {"messageId": "messageIdUnindexed", "sender": "senderUnindexed"}
KNOWN_ATTRIBUTES = frozenset({c.attribute for c in COLUMNS} | set(UNINDEXED.values()) | NOT_COLUMNS)


def arrow_type(glue_type: str) -> pa.DataType:
    import pyarrow as pa

    scalar = {
        "string": pa.string(),
        "bigint": pa.int64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),  # UTC, no zone: Athena's timestamp, DuckDB's TIMESTAMP
    }
    if glue_type.startswith("array<") and glue_type.endswith(">"):
        return pa.list_(scalar[glue_type[6:-1]])
    return scalar[glue_type]


def arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(c.name, c.arrow_type()) for c in COLUMNS])


def day_of(record: Mapping[str, Any]) -> str:
    """The record's partition: its receivedDay, or the day of its receivedAt."""
    day = record.get("receivedDay")
    return str(day) if day else str(record["receivedAt"])[:10]


def parse_received_at(text: str) -> datetime:
    """`2026-11-21T23:43:02.123Z` as a naive UTC datetime (Parquet's timestamp without zone)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One stored record (as either store returns it in full) as one row, every column present.

    Records from before sources existed are WorkMail's when RECORDED (as the reconcile tally reads
    them); an INVALID record no adapter recognised keeps a null source."""
    return {name: values[0] for name, values in columns([record]).items()}


def columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """`row` for many records at once, column by column, in the records' order (the writer's
    path: a list per column is what Arrow takes). Walks each record's own attributes, about half
    the columns, rather than asking every record for every column."""
    count = len(records)
    raw: dict[str, list[Any]] = {c.attribute: [None] * count for c in COLUMNS}
    aside: dict[str, list[Any]] = {a: [None] * count for a in UNINDEXED.values()}
    for n, record in enumerate(records):
        for attribute, value in record.items():
            target = raw.get(attribute)
            if target is None:
                target = aside.get(attribute)
                if target is None:
                    continue
            target[n] = value
    for attribute, moved in UNINDEXED.items():
        values = raw[attribute]
        raw[attribute] = [aside[moved][n] if v is None else v for n, v in enumerate(values)]
    out = {c.name: _converted(c.glue_type, raw[c.attribute]) for c in COLUMNS}
    out["source"] = [
        "WorkMail" if source is None and status == "RECORDED" else source
        for source, status in zip(out["source"], out["status"], strict=True)
    ]
    return out


def _converted(kind: str, values: list[Any]) -> list[Any]:
    if kind == "timestamp":
        return [None if v is None else parse_received_at(str(v)) for v in values]
    if kind == "bigint":
        return [None if v is None else int(v) for v in values]
    if kind == "boolean":
        return [None if v is None else bool(v) for v in values]
    if kind.startswith("array<"):
        return [None if v is None else [_utf8(str(e)) for e in v] for v in values]
    # a string attribute stored as something else (a number in an old record) becomes its text
    return [v if v is None or (type(v) is str and v.isascii()) else _utf8(str(v)) for v in values]


def _utf8(text: str) -> str:
    """The text as Parquet can hold it (UTF-8): a lone surrogate, which a record may carry (an
    event's JSON can escape one; the stores keep it), is written as its escape, `\\ud800`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
