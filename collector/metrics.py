"""The metric catalog (one source of truth for names, units, dimensions) and the EMF writer.

CloudWatch bills every distinct metric name + dimension values per month (prorated by the hours it
receives data), so each metric is emitted under exactly one dimension set, chosen in the catalog
where its price is visible:

* `[Service, Source, FlowDirection]` for what a reader splits by direction and by mail service
  (Messages, Recipients, MessageBytes): 3 series per source for WorkMail; SES receipts and Sends
  are a second Source (INBOUND and OUTBOUND), so SES costs series, not a dimension;
* `[Service]` for everything else (duplicates, conflicts, invalid events, SES's sending events).

Optional groups are gated by features a deployment switches on: `enrichment` (the message-flow
read) and `ses` (SES among COLLECTOR_SOURCES); a metric of several features is emitted when any
of them is on (the SPF/DKIM/DMARC failures come from either).

Totals a dashboard or alarm needs are metric math over the per-direction series (dashboards/).
A document carries only the metrics whose value is not zero: an hour without a conflict then
costs nothing for `Conflicts`, and graphs fill the gaps with zeros (FILL in metric math).

The writer builds the document itself (orjson, one line) after validating the catalog, namespace
and dimension values with aws-embedded-metrics' own validator once, at construction: its logger
and environment modules are not imported, because their EC2 environment imports aiohttp, which
the cold start does not need before the first client exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aws_embedded_metrics.storage_resolution import StorageResolution
from aws_embedded_metrics.validator import validate_dimension_set, validate_metric, validate_namespace

from collector.jsonutil import clean_text
from collector.model import Enrichment, EventType, Invocation, Outcome, Source, Status

SERVICE = "Service"
SOURCE = "Source"
FLOW_DIRECTION = "FlowDirection"
TOTALS: tuple[str, ...] = (SERVICE,)
PER_FLOW: tuple[str, ...] = (SERVICE, SOURCE, FLOW_DIRECTION)
DIMENSION_SETS: tuple[tuple[str, ...], ...] = (TOTALS, PER_FLOW)
DIRECTIONS = ("INBOUND", "OUTBOUND", "UNKNOWN")
# The directions each source's events take: SES receipts are INBOUND and SES Sends OUTBOUND, so
# SES never writes an UNKNOWN series (and a dashboard that graphed one would query nothing).
SOURCE_DIRECTIONS: Mapping[str, tuple[str, ...]] = {
    Source.WORKMAIL.value: DIRECTIONS,
    Source.SES.value: ("INBOUND", "OUTBOUND"),
}
UNKNOWN_SOURCE = "Unknown"
COUNT = "Count"  # the unit of most metrics; left out of EMF directives (CloudWatch records None)
MAX_MESSAGE_ID_CHARS = 120  # the message-flow API's own limit; longer ids stay out of EMF lines

# CloudWatch Logs refuses events over 256 KB (262,144 bytes, 26 of them its own overhead). Every
# document stays far below: properties are cut to MAX_PROPERTY_CHARS, and dropped (metrics never)
# if the document would still pass MAX_DOCUMENT_BYTES.
MAX_PROPERTY_CHARS = 1024
MAX_DOCUMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    meaning: str
    value: Callable[[Outcome], int]
    dimensions: tuple[str, ...] = TOTALS  # the one dimension set it is emitted under
    statistic: str = "Sum"
    features: frozenset[str] = frozenset()  # emitted only when one of these is on; empty: always
    sources: frozenset[str] = frozenset()  # per-flow only: the sources that write it; empty: all

    @property
    def per_flow(self) -> bool:
        return self.dimensions == PER_FLOW

    @property
    def written_unit(self) -> str | None:
        """The unit written to CloudWatch: none for counts (CloudWatch records None), so every
        writer's data points of one metric aggregate together."""
        return None if self.unit == COUNT else self.unit

    def flows(self, sources: Iterable[str]) -> list[tuple[str, str]]:
        """The (source, direction) series of a per-flow metric that `sources` can write."""
        return [
            (source, direction)
            for source in sources
            if not self.sources or source in self.sources
            for direction in SOURCE_DIRECTIONS[source]
        ]


ENRICHMENT = "enrichment"
SES = "ses"  # on when the deployment's sources include SES (COLLECTOR_SOURCES)
# SPF/DKIM/DMARC verdicts come from the message-flow read (WorkMail) or from SES's own receipt.
AUTH_FEATURES = frozenset({ENRICHMENT, SES})


def _when(*statuses: Status) -> Callable[[Outcome], int]:
    return lambda o: int(o.status in statuses)


def _sending(event: EventType, per_recipient: bool = True) -> Callable[[Outcome], int]:
    """First deliveries of one SES sending event type: its recipients, or 1 per event."""

    def value(o: Outcome) -> int:
        if not o.first or o.event_type is not event:
            return 0
        return o.recipient_count if per_recipient else 1

    return value


def _enriched(value: Callable[[Enrichment], int]) -> Callable[[Outcome], int]:
    """Counted messages whose message-flow read succeeded; zero for everything else."""
    return lambda o: value(o.enrichment) if o.counted and o.enrichment is not None and o.enrichment.ok else 0


def _auth_failure(check: str) -> Callable[[Outcome], int]:
    return lambda o: int(o.counted and check in o.auth_failures)


CATALOG: tuple[MetricSpec, ...] = (
    MetricSpec(
        "Messages",
        "Count",
        "Messages recorded for the first time (WorkMail events, SES receipts and SES Sends; once each)",
        lambda o: int(o.counted),
        PER_FLOW,
    ),
    MetricSpec(
        "Recipients",
        "Count",
        "Envelope recipients of the messages counted in Messages",
        lambda o: o.recipient_count if o.counted else 0,
        PER_FLOW,
    ),
    MetricSpec(
        "TruncatedMessages",
        "Count",
        "Counted messages whose summary passed 128 KB, so WorkMail cut the recipient list",
        lambda o: int(o.counted and o.truncated),
    ),
    MetricSpec(
        "DuplicateInvocations",
        "Count",
        "Redeliveries of an already stored key (the mail service's or Lambda's retries)",
        _when(Status.DUPLICATE, Status.CONFLICT, Status.QUARANTINED_DUPLICATE),
    ),
    MetricSpec(
        "Conflicts",
        "Count",
        "Redeliveries whose content differs from the stored record",
        _when(Status.CONFLICT),
    ),
    MetricSpec(
        "InvalidEvents",
        "Count",
        "Events that failed validation and were quarantined in the audit store (once each)",
        _when(Status.QUARANTINED),
    ),
    MetricSpec(
        "MessageBytes",
        "Bytes",
        "Raw size of counted messages, read through the message-flow API",
        _enriched(lambda e: e.size_bytes),
        PER_FLOW,
        features=frozenset({ENRICHMENT}),
        sources=frozenset({Source.WORKMAIL.value}),  # the message-flow read is WorkMail's
    ),
    MetricSpec(
        "Attachments",
        "Count",
        "Attachments in counted messages",
        _enriched(lambda e: e.attachments),
        features=frozenset({ENRICHMENT}),
    ),
    MetricSpec(
        "MessagesWithAttachments",
        "Count",
        "Counted messages with at least one attachment",
        _enriched(lambda e: int(e.attachments > 0)),
        features=frozenset({ENRICHMENT}),
    ),
    MetricSpec(
        "SpfFailures",
        "Count",
        "Inbound messages that failed SPF (Authentication-Results spf=fail, or SES spfVerdict FAIL)",
        _auth_failure("spf"),
        features=AUTH_FEATURES,
    ),
    MetricSpec(
        "DkimFailures",
        "Count",
        "Inbound messages that failed DKIM (dkim=fail with no passing signature, or SES dkimVerdict FAIL)",
        _auth_failure("dkim"),
        features=AUTH_FEATURES,
    ),
    MetricSpec(
        "DmarcFailures",
        "Count",
        "Inbound messages that failed DMARC (Authentication-Results dmarc=fail, or SES dmarcVerdict FAIL)",
        _auth_failure("dmarc"),
        features=AUTH_FEATURES,
    ),
    MetricSpec(
        "EnrichmentFailures",
        "Count",
        "Counted messages recorded without enrichment (not found, access denied, timeout, error)",
        lambda o: int(o.counted and o.enrichment is not None and not o.enrichment.ok),
        features=frozenset({ENRICHMENT}),
    ),
    MetricSpec(
        "SesDeliveries",
        "Count",
        "Recipients SES delivered to (Delivery events, each event once)",
        _sending(EventType.DELIVERY),
        features=frozenset({SES}),
    ),
    MetricSpec(
        "SesBounces",
        "Count",
        "Recipients whose mail SES reported bounced (hard, or soft and no longer retried)",
        _sending(EventType.BOUNCE),
        features=frozenset({SES}),
    ),
    MetricSpec(
        "SesComplaints",
        "Count",
        "Recipients who marked mail sent through SES as spam (Complaint events)",
        _sending(EventType.COMPLAINT),
        features=frozenset({SES}),
    ),
    MetricSpec(
        "SesRejects",
        "Count",
        "Messages SES accepted but rejected before delivery (virus found; one per message)",
        _sending(EventType.REJECT, per_recipient=False),
        features=frozenset({SES}),
    ),
    MetricSpec(
        "SesDeliveryDelays",
        "Count",
        "Recipients whose delivery SES reported delayed (DeliveryDelay events)",
        _sending(EventType.DELIVERY_DELAY),
        features=frozenset({SES}),
    ),
)
METRIC_NAMES = tuple(spec.name for spec in CATALOG)


def features_for(enrich: bool, sources: Iterable[Source] = (Source.WORKMAIL,)) -> frozenset[str]:
    """The optional metric groups a deployment's settings switch on (enrichment, SES as a source)."""
    features = {ENRICHMENT} if enrich else set()
    if Source.SES in tuple(sources):
        features.add(SES)
    return frozenset(features)


def catalog_for(features: frozenset[str] = frozenset()) -> tuple[MetricSpec, ...]:
    """The metrics a deployment emits: the base catalog plus those of the features it has on."""
    return tuple(spec for spec in CATALOG if not spec.features or spec.features & features)


def spec_named(name: str) -> MetricSpec:
    for spec in CATALOG:
        if spec.name == name:
            return spec
    raise KeyError(f"{name!r} is not in the metric catalog")


def metric_values(outcome: Outcome, features: frozenset[str] = frozenset()) -> dict[str, int]:
    return {spec.name: spec.value(outcome) for spec in catalog_for(features)}


def custom_metrics(catalog: tuple[MetricSpec, ...], sources: Iterable[str] = (Source.WORKMAIL.value,)) -> int:
    """How many distinct CloudWatch metrics (name + dimension values) `catalog` can create when
    the deployment counts mail of `sources`."""
    sources = tuple(sources)
    return sum(len(spec.flows(sources)) if spec.per_flow else 1 for spec in catalog)


# JSON allows these inside strings unescaped, but readers that split on Unicode line boundaries
# (Python's str.splitlines, some log tooling) would cut the document in two. Escaped, it stays one
# line and the same JSON value.
LINE_BREAK_ESCAPES = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _property(value: Any) -> Any:
    """Strings cut to MAX_PROPERTY_CHARS, lone surrogates replaced (the line must be UTF-8);
    properties are context for a reader, not evidence."""
    if isinstance(value, str):
        return clean_text(value[:MAX_PROPERTY_CHARS])
    return value


def _line(document: dict[str, Any]) -> str:
    return orjson.dumps(document).decode().translate(LINE_BREAK_ESCAPES)


class EmfWriter:
    """Turns one Outcome into one EMF document, written as one line through `write`."""

    def __init__(
        self,
        namespace: str,
        service: str,
        write: Callable[[str], Any],
        features: frozenset[str] = frozenset(),
    ) -> None:
        validate_namespace(namespace)
        validate_dimension_set({SERVICE: service})
        self._namespace = namespace
        self._service = service
        self._write = write
        self.features = features
        self._catalog = catalog_for(features)
        # Each metric's entry in a directive, built once: documents share them and never change them.
        self._listed = {
            spec.name: {"Name": spec.name} | ({"Unit": spec.written_unit} if spec.written_unit else {})
            for spec in self._catalog
        }
        seen: dict[str, StorageResolution] = {}
        for spec in self._catalog:
            validate_metric(spec.name, 0, spec.unit, StorageResolution.STANDARD, seen)

    def document(
        self, outcome: Outcome, invocation: Invocation, properties: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The EMF document for one outcome: nonzero metrics, grouped by their dimension set.

        Every byte is read by someone (see docs/reference.md, "Metrics"): Source (which mail service sent the
        event, `Unknown` when no adapter recognised it), FlowDirection (only when a per-flow metric is
        present, whose dimension it is), the four
        properties the saved Logs Insights queries read (invocationId, status, messageId,
        requestId), the metric values, and the `_aws` block CloudWatch needs (Timestamp,
        Namespace, Dimensions, metric Names). A metric's Unit is written only when it is not a
        count: CloudWatch then records no unit, which no dashboard or alarm filters on.
        """
        body: dict[str, Any] = {SERVICE: self._service}
        directives: dict[tuple[str, ...], list[dict[str, str]]] = {}
        values: dict[str, int] = {}
        for spec in self._catalog:
            value = spec.value(outcome)
            if value:
                values[spec.name] = value
                directives.setdefault(spec.dimensions, []).append(self._listed[spec.name])
        # Every document names its source (Unknown: no adapter recognised the payload).
        body[SOURCE] = outcome.source.value if outcome.source is not None else UNKNOWN_SOURCE
        if PER_FLOW in directives:
            body[FLOW_DIRECTION] = outcome.direction.value
        body["invocationId"] = _property(outcome.dedupe_key)
        body["status"] = outcome.status.value
        if outcome.message_id is not None and len(outcome.message_id) <= MAX_MESSAGE_ID_CHARS:
            body["messageId"] = outcome.message_id  # an id, not personal data
        body["requestId"] = _property(invocation.request_id)
        for key, value in (properties or {}).items():
            body[key] = _property(value)
        body.update(values)
        body["_aws"] = {
            "Timestamp": int(invocation.received_at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": self._namespace, "Dimensions": [list(dims)], "Metrics": listed}
                for dims, listed in directives.items()
            ],
        }
        return body

    def line(
        self, outcome: Outcome, invocation: Invocation, properties: Mapping[str, Any] | None = None
    ) -> str:
        """One line, bounded: properties are dropped, never metrics, before it passes the bound."""
        document = self.document(outcome, invocation, properties)
        line = _line(document)
        droppable = [*(properties or {}), "requestId", "invocationId"]
        while len(line.encode()) > MAX_DOCUMENT_BYTES and droppable:
            document.pop(droppable.pop(0), None)
            line = _line(document)
        return line

    async def emit(
        self, outcome: Outcome, invocation: Invocation, properties: Mapping[str, Any] | None = None
    ) -> None:
        self._write(self.line(outcome, invocation, properties) + "\n")
