"""The one place that orders the steps and decides failure semantics.

parse -> [enrich] -> build the audit item -> one conditional write -> classify -> one EMF document.

* Invalid input can never succeed on retry: it is stored as an INVALID record with its reason and
  payload, counted once in InvalidEvents, logged on one line, and the call returns normally.
* A store fault propagates after the SDK's own retries, before any metric is written, so the
  caller (Lambda's async retries, then the on-failure destination) keeps the event.
* A retry that finds its own earlier write is the first delivery, not a duplicate: the SDK's retry
  of a PutItem whose response was lost (same `attemptId`), and Lambda's retry of an invocation
  that failed after its write (Lambda keeps the request id across its async retries; same
  `requestId` and content). WorkMail's own redeliveries are new invocations with new request ids.
* Enrichment (opt-in) runs before the write so the record is still one write; it never raises:
  a message that is gone, forbidden or slow is recorded anyway, with the enrichment status saying
  why its details are missing, and counted in EnrichmentFailures.
* Metrics are emitted only after the write succeeded. The one window that can lose a metric is a
  crash between the write and the EMF line reaching the log when no retry follows (Lambda's retries
  and a redrive that keeps `requestContext.requestId` re-emit it). The audit trail stays exact.
* `replay` (the CLI) closes that window for what it writes, at the price of a second write per
  counted event that the Lambda path never pays: its records carry `countState` PENDING, and an
  event is counted by the one attempt that moves PENDING to `EMITTED:<attemptId>` (a
  compare-and-set) right before its EMF line; if the line cannot be written, the state goes back
  to PENDING. A replay stopped anywhere (store fault, full disk, closed pipe, Ctrl-C) leaves
  exactly the uncounted records PENDING, and the next replay of the input counts those, once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol

from collector.audit import differing_fields, enrichment_fields, fit, invalid_item, record_item
from collector.clock import parse_iso_millis
from collector.config import Settings
from collector.events import EventSource
from collector.events.detect import parse as parse_any_source
from collector.metrics import EmfWriter
from collector.model import (
    QUARANTINE_KEY_PREFIX,
    Direction,
    Enrichment,
    Invalid,
    Invocation,
    Item,
    MailEvent,
    Outcome,
    Source,
    Status,
)
from collector.redaction import Redactor
from collector.store import COUNT_STATE, EMITTED_PREFIX, PENDING, AuditStore, Duplicate, Inserted, PutResult

if TYPE_CHECKING:
    from collector.enrichment import EnrichmentResult

log = logging.getLogger("workmail_collector")
AUTH_CHECKS = ("spf", "dkim", "dmarc")
# A log line is one CloudWatch Logs event (256 KB at most): every value that comes from the input
# (a key, a request id replayed from a failure record, a reason quoting a field) is cut to this.
MAX_LOG_FIELD_CHARS = 1024


def _clip(text: str | None) -> str | None:
    return text if text is None or len(text) <= MAX_LOG_FIELD_CHARS else text[:MAX_LOG_FIELD_CHARS] + "..."


class Enricher(Protocol):
    """The message-flow reader as the pipeline sees it (see collector.enrichment)."""

    async def summarize(self, message_id: str, deadline: float) -> EnrichmentResult: ...

    async def close(self) -> None: ...


class Pipeline:
    def __init__(
        self,
        store: AuditStore,
        emf: EmfWriter,
        settings: Settings,
        source: EventSource = parse_any_source,
        enricher: Enricher | None = None,
    ) -> None:
        self.store = store
        self._emf = emf
        self.settings = settings
        self._source = source
        self.enricher = enricher
        self.redactor = Redactor(settings.redaction_key)

    async def process(self, raw: object, invocation: Invocation, deadline: float | None = None) -> Outcome:
        """`deadline` (a time.monotonic() instant) bounds enrichment; by default its own budget."""
        parsed, item, result, enrichment = await self._write(raw, invocation, deadline)
        existing = result.existing if isinstance(result, Duplicate) else None
        if existing is not None and _own_write(existing, item):
            # This delivery's own earlier write (an SDK retry after a lost response, or Lambda's
            # retry of an invocation that failed after the write): the first, not a duplicate.
            existing = None
        outcome = _classify(parsed, item, existing, enrichment)
        self._log(outcome, parsed, invocation)
        await self._emf.emit(outcome, invocation, self._properties(parsed))
        return outcome

    async def replay(self, raw: object, invocation: Invocation) -> Outcome:
        """`process` for the CLI's replay: each event counted exactly once across interrupted runs.

        The record is written PENDING. Whoever moves it from PENDING (or, for the Lambda's record of
        a failed invocation replayed under its request id, from no state) to EMITTED:<attemptId>
        counts it and writes its EMF line at once; if that line cannot be written, the state is put
        back, so the next replay counts it. Raises what the store or the EMF writer raised.
        """
        parsed, item, result, enrichment = await self._write(raw, invocation, None, {COUNT_STATE: PENDING})
        key = str(item["invocationId"])  # as stored: fit() may have replaced an oversized key
        existing = result.existing if isinstance(result, Duplicate) else None
        claim_from: str | None = PENDING
        if existing is None or _own_attempt(existing, item):
            counting = True
        elif existing.get(COUNT_STATE) == PENDING:
            # Written by a replay that stopped before counting it: count it if it is this event.
            counting = existing.get("fingerprint") == item.get("fingerprint")
        else:
            # The Lambda's write of an invocation that failed after it (replayed from its failure
            # record, under its request id); a record a replay already counted stays a duplicate.
            counting = _own_write(existing, item) and existing.get(COUNT_STATE) is None
            claim_from = None
        claimed = f"{EMITTED_PREFIX}{item['attemptId']}"
        if counting:
            counting = await self._claim(key, claim_from, claimed)
            if not counting:  # another replay claimed it first, and counts it
                existing = await self.store.get(key) or existing or item
        outcome = _classify(parsed, item, None if counting else existing, enrichment)
        self._log(outcome, parsed, invocation)
        if counting and existing is not None:
            invocation = _on_the_records_day(invocation, existing)
        try:
            await self._emf.emit(outcome, invocation, self._properties(parsed))
        except BaseException:
            if counting:
                await self._give_back(key, claimed, claim_from)
            raise
        return outcome

    async def _claim(self, key: str, state: str | None, claimed: str) -> bool:
        """Move the count state from `state` to `claimed`. Cancelled (a replay abandoned) while the
        request is in flight, the claim is let finish before it is given back: a give-back sent
        at once can reach the store before the claim it undoes (another connection), fail its
        condition, and leave the event claimed without its EMF line, never counted."""
        claim = asyncio.ensure_future(self.store.set_count_state(key, state, claimed))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            try:
                applied = await claim
            except Exception:
                applied = True  # it may have applied unseen
            if applied:
                await self._give_back(key, claimed, state)  # logs, never raises
            raise
        except BaseException:
            await self._give_back(key, claimed, state)  # in case it applied unseen
            raise

    async def _give_back(self, key: str, claimed: str, state: str | None) -> None:
        """Undo a claim whose EMF line was not written, so that a later replay counts the event."""
        try:
            await self.store.set_count_state(key, claimed, state)
        except Exception as error:
            log.error(
                "invocationId=%s was claimed for counting but its EMF line was not written, and the"
                " claim could not be undone (%s: %s): its metrics may be missing",
                key,
                type(error).__name__,
                error,
            )

    async def _write(
        self, raw: object, invocation: Invocation, deadline: float | None, extra: Item | None = None
    ) -> tuple[MailEvent | Invalid, Item, PutResult, Enrichment | None]:
        """Parse, [enrich], build the item and make the one conditional write."""
        parsed = self._source(raw)
        enrichment: Enrichment | None = None
        if isinstance(parsed, Invalid):
            item = invalid_item(parsed, invocation, self.settings.retention_days, self.redactor)
        else:
            item = record_item(parsed, invocation, self.settings.retention_days, self.redactor)
            if self.enricher is not None and parsed.source is Source.WORKMAIL:
                # The message-flow API knows WorkMail's messages only; SES sends its own verdicts.
                if deadline is None:
                    deadline = time.monotonic() + self.settings.enrich_budget_seconds
                read = await self.enricher.summarize(parsed.message_id, deadline)
                item.update(enrichment_fields(read, self.redactor))
                enrichment = _enrichment(read, parsed.direction)
        item["attemptId"] = uuid.uuid4().hex
        item.update(extra or {})
        item = fit(item)
        if isinstance(parsed, Invalid) and (earlier := await self._quarantined_earlier(parsed)) is not None:
            # Read before writing: a copy under the new key would count the payload a second time.
            keyed = {"invocationId": earlier["invocationId"], "fingerprint": earlier["fingerprint"]}
            return parsed, item | keyed, Duplicate(earlier), enrichment
        result = await self.store.put_once(item)
        if (
            isinstance(result, Duplicate)
            and isinstance(parsed, MailEvent)
            and _quarantined_before(result.existing)
        ):
            result = await self._take_back(item, result.existing)
        return parsed, item, result, enrichment

    async def _quarantined_earlier(self, invalid: Invalid) -> Item | None:
        """The record an older version quarantined this same payload as, under the key it kept such
        payloads by then (the key the payload claimed, or `sha256:<hash>`), if it is still there.

        One GetItem per legacy key, on the invalid path only. Read before the write, so a payload
        quarantined before an upgrade and redelivered after it (WorkMail or SNS retrying across the
        deploy, `replay` run again on a file an older version replayed) stays one record, counted
        once, and nothing is written that could leave a second copy. A record an event has since
        taken back moved to the quarantine's key space under its own hash, and is found there by
        the write itself."""
        for key in invalid.legacy_keys:
            old = await self.store.get(key)
            same = old is not None and old.get("fingerprint") == invalid.old_fingerprint
            if same and old is not None and old.get("status") == "INVALID":
                return old
        return None

    async def _take_back(self, item: Item, old: Item) -> PutResult:
        """An older version quarantined a broken copy of this event under the event's own key. Move
        that record where this version keeps it (its content hash in the quarantine's key space,
        the key it took as claimedKey), then write the event in its place: the event is recorded
        and counted, and the quarantined payload is still kept. Each step is safe to repeat."""
        moved = old | {
            "invocationId": QUARANTINE_KEY_PREFIX + old["fingerprint"],
            "claimedKey": old["invocationId"],
        }
        await self.store.put_once(moved)
        if await self.store.replace_invalid(item):
            return Inserted()
        # Another delivery took it back first (or an SDK retry of this write already applied): the
        # record now there, as one more conditional write reports it (which returns it in the same call).
        return await self.store.put_once(item)

    async def close(self) -> None:
        await self.store.close()
        if self.enricher is not None:
            await self.enricher.close()

    def _properties(self, parsed: MailEvent | Invalid) -> dict[str, Any]:
        """EMF properties: an SES event's type (a Delivery is not a message), then opt-in PII."""
        found: dict[str, Any] = {}
        if isinstance(parsed, MailEvent) and parsed.event_type is not None:
            found["eventType"] = parsed.event_type.value
        return found | self._pii_properties(parsed)

    def _pii_properties(self, parsed: MailEvent | Invalid) -> dict[str, Any]:
        """Opt-in only; with redaction on, the same HMACs as in the store (redaction wins)."""
        if not self.settings.log_pii or isinstance(parsed, Invalid):
            return {}
        values = {"sender": parsed.sender, "mailFrom": parsed.mail_from, "subject": parsed.subject}
        return {k: self.redactor.optional(v) for k, v in values.items()}

    def _log(self, outcome: Outcome, parsed: MailEvent | Invalid, invocation: Invocation) -> None:
        key, request_id = _clip(outcome.dedupe_key), _clip(invocation.request_id)
        context = {"invocationId": key, "requestId": request_id}
        if outcome.status is Status.QUARANTINED:
            assert isinstance(parsed, Invalid)
            log.error(
                "invalid event quarantined: %s (invocationId=%s requestId=%s)",
                _clip(parsed.reason),
                key,
                request_id,
                extra=context,
            )
        elif outcome.status is Status.CONFLICT:
            log.warning(
                "conflicting redelivery: invocationId=%s differs from the stored record in %s",
                key,
                ", ".join(outcome.differing_fields) or "fingerprint only",
                extra=context,
            )
        elif log.isEnabledFor(logging.DEBUG):
            detail = ""
            if self.settings.log_pii and isinstance(parsed, MailEvent):
                shown = self._pii_properties(parsed)
                sender = _clip(shown["sender"] or shown["mailFrom"])
                detail = f" from={sender} subject={_clip(shown['subject'])!r}"
            log.debug("%s invocationId=%s%s", outcome.status.value, key, detail, extra=context)


def _quarantined_before(existing: Item) -> bool:
    """A record an older version quarantined under the key its payload claimed (this version keys
    quarantined payloads by their content, in their own key space)."""
    return (
        existing.get("status") == "INVALID"
        and isinstance(existing.get("fingerprint"), str)
        and not str(existing.get("invocationId", "")).startswith(QUARANTINE_KEY_PREFIX)
    )


def _own_attempt(existing: Item, item: Item) -> bool:
    """The stored record is this very attempt's write (the SDK retried a PutItem it applied)."""
    return bool(existing.get("attemptId") == item["attemptId"])


def _on_the_records_day(invocation: Invocation, record: Item) -> Invocation:
    """The count of a record written earlier today (by an interrupted replay, or by the Lambda before
    its invocation failed) is dated when the record was received.

    Not across days: a record from an earlier day is counted now, on the replay's day. That day's
    metric then shows one more than its records and the record's day one fewer, which `reconcile`
    reports and `--fix` corrects on both days. Dated back instead, the count would double a
    correction that `reconcile --fix` (or the scheduled one, the next morning) already wrote for the
    record's day, and nothing would look at that day again."""
    try:
        at = parse_iso_millis(str(record["receivedAt"]))
    except (KeyError, ValueError):
        return invocation
    now = invocation.received_at
    if at.tzinfo is None or not (at <= now and at.astimezone(UTC).date() == now.astimezone(UTC).date()):
        return invocation
    return replace(invocation, received_at=at)


def _own_write(existing: Item, item: Item) -> bool:
    """The stored record is this delivery's own earlier write: the SDK retried this very attempt
    (same attemptId), or Lambda retried the failed invocation (Lambda keeps the request id across
    its asynchronous retries) and the content is the same."""
    if _own_attempt(existing, item):
        return True
    return (
        item["requestId"] not in ("", "unknown")
        and existing.get("requestId") == item["requestId"]
        and existing.get("fingerprint") == item.get("fingerprint")
    )


def _enrichment(result: EnrichmentResult, direction: Direction) -> Enrichment:
    summary = result.summary
    if summary is None:
        return Enrichment(ok=False)
    failures = frozenset(
        check for check in AUTH_CHECKS if direction is Direction.INBOUND and getattr(summary, check) == "fail"
    )
    return Enrichment(True, summary.size_bytes, summary.attachment_count, failures)


def _classify(
    parsed: MailEvent | Invalid, item: Item, existing: Item | None, enrichment: Enrichment | None = None
) -> Outcome:
    if isinstance(parsed, Invalid):
        synthesized = parsed.key_synthesized
        if existing is None:
            status = Status.QUARANTINED
        elif existing.get("fingerprint") == item["fingerprint"]:
            status = Status.QUARANTINED_DUPLICATE
        else:  # an invalid payload under a key already stored with other content
            return Outcome(
                Status.CONFLICT,
                parsed.dedupe_key,
                Direction(existing.get("direction", "UNKNOWN")),
                key_synthesized=synthesized,
                differing_fields=differing_fields(existing, item),
                source=parsed.source,
            )
        # Where the record is: the quarantine's key, or the key an older version kept it under.
        key = str(item["invocationId"])
        return Outcome(status, key, parsed.direction, key_synthesized=synthesized, source=parsed.source)
    differing: tuple[str, ...] = ()
    if existing is None:
        status = Status.RECORDED
    elif existing.get("fingerprint") == item["fingerprint"]:
        status = Status.DUPLICATE
    else:
        status = Status.CONFLICT
        differing = differing_fields(existing, item)
    direction = parsed.direction if existing is None else Direction(existing.get("direction", "UNKNOWN"))
    failures = parsed.auth_failures
    if enrichment is not None and enrichment.ok:
        failures |= enrichment.auth_failures
    return Outcome(
        status=status,
        dedupe_key=parsed.dedupe_key,
        direction=direction,
        recipient_count=len(parsed.recipients),
        truncated=parsed.truncated,
        key_synthesized=parsed.key_synthesized,
        differing_fields=differing,
        enrichment=enrichment,
        message_id=parsed.message_id,
        source=parsed.source,
        event_type=parsed.event_type,
        auth_failures=failures,
    )
