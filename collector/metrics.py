"""The metric catalog (one source of truth for names, units, dimensions) and the EMF writer.

Every invocation writes exactly one EMF document holding every catalog metric (zeros included, so
sums and ratios on a dashboard never have gaps). One metric directive carries two dimension sets:
`[Service]` for totals and `[Service, FlowDirection]` for per-direction series.

The writer is built on aws-embedded-metrics' seams: a MetricsContext validates names, units and
dimensions; an Environment that never probes anything hands the context to a Sink; the Sink owns
the stream (stdout on Lambda, a file or a list locally) and serialises with orjson.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aws_embedded_metrics.environment import Environment
from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.logger.metrics_logger import MetricsLogger
from aws_embedded_metrics.serializers import Serializer
from aws_embedded_metrics.sinks import Sink

from collector.model import Enrichment, Invocation, Outcome, Status

SERVICE = "Service"
FLOW_DIRECTION = "FlowDirection"
DIMENSION_SETS: tuple[tuple[str, ...], ...] = ((SERVICE,), (SERVICE, FLOW_DIRECTION))
DIRECTIONS = ("INBOUND", "OUTBOUND", "UNKNOWN")
MAX_MESSAGE_ID_CHARS = 120  # the message-flow API's own limit; longer ids stay out of EMF lines


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    meaning: str
    value: Callable[[Outcome], int]
    statistic: str = "Sum"
    feature: str | None = None  # emitted only when this optional feature is on


ENRICHMENT = "enrichment"


def _when(*statuses: Status) -> Callable[[Outcome], int]:
    return lambda o: int(o.status in statuses)


def _enriched(value: Callable[[Enrichment], int]) -> Callable[[Outcome], int]:
    """Counted messages whose message-flow read succeeded; zero for everything else."""
    return lambda o: value(o.enrichment) if o.counted and o.enrichment is not None and o.enrichment.ok else 0


def _auth_failure(check: str) -> Callable[[Outcome], int]:
    return _enriched(lambda e: int(check in e.auth_failures))


CATALOG: tuple[MetricSpec, ...] = (
    MetricSpec(
        "Messages",
        "Count",
        "Messages recorded for the first time (each event counted once)",
        _when(Status.RECORDED),
    ),
    MetricSpec(
        "Recipients",
        "Count",
        "Envelope recipients of the messages counted in Messages",
        lambda o: o.recipient_count if o.counted else 0,
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
        "Redeliveries of an already stored invocationId (WorkMail or Lambda async retries)",
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
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "Attachments",
        "Count",
        "Attachments in counted messages",
        _enriched(lambda e: e.attachments),
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "MessagesWithAttachments",
        "Count",
        "Counted messages with at least one attachment",
        _enriched(lambda e: int(e.attachments > 0)),
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "SpfFailures",
        "Count",
        "Inbound messages whose Authentication-Results say spf=fail",
        _auth_failure("spf"),
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "DkimFailures",
        "Count",
        "Inbound messages whose Authentication-Results say dkim=fail (no passing signature)",
        _auth_failure("dkim"),
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "DmarcFailures",
        "Count",
        "Inbound messages whose Authentication-Results say dmarc=fail",
        _auth_failure("dmarc"),
        feature=ENRICHMENT,
    ),
    MetricSpec(
        "EnrichmentFailures",
        "Count",
        "Counted messages recorded without enrichment (not found, access denied, timeout, error)",
        lambda o: int(o.counted and o.enrichment is not None and not o.enrichment.ok),
        feature=ENRICHMENT,
    ),
)
METRIC_NAMES = tuple(spec.name for spec in CATALOG)


def features_for(enrich: bool) -> frozenset[str]:
    """The optional metric groups a deployment's settings switch on."""
    return frozenset({ENRICHMENT}) if enrich else frozenset()


def catalog_for(features: frozenset[str] = frozenset()) -> tuple[MetricSpec, ...]:
    """The metrics a deployment emits: the base catalog plus those of the features it has on."""
    return tuple(spec for spec in CATALOG if spec.feature is None or spec.feature in features)


def metric_values(outcome: Outcome, features: frozenset[str] = frozenset()) -> dict[str, int]:
    return {spec.name: spec.value(outcome) for spec in catalog_for(features)}


# JSON allows these inside strings unescaped, but readers that split on Unicode line boundaries
# (Python's str.splitlines, some log tooling) would cut the document in two. Escaped, it stays one
# line and the same JSON value.
LINE_BREAK_ESCAPES = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


class OrjsonSerializer(Serializer):
    """One EMF document per context; the catalog keeps us far below EMF's 100 metrics per document."""

    @staticmethod
    def serialize(context: MetricsContext) -> list[str]:
        dimension_sets = context.get_dimensions()
        body: dict[str, Any] = {}
        for dimension_set in dimension_sets:
            body.update(dimension_set)
        body.update(context.properties)
        metrics = []
        for name, metric in context.metrics.items():
            body[name] = metric.values[0] if len(metric.values) == 1 else metric.values
            metrics.append({"Name": name, "Unit": metric.unit})
        body["_aws"] = {
            **context.meta,
            "CloudWatchMetrics": [
                {
                    "Namespace": context.namespace,
                    "Dimensions": [list(d) for d in dimension_sets],
                    "Metrics": metrics,
                }
            ],
        }
        return [orjson.dumps(body).decode().translate(LINE_BREAK_ESCAPES)]


class StreamSink(Sink):
    """Writes each document as one line through `write` (sys.stdout.write on Lambda)."""

    def __init__(self, write: Callable[[str], Any], serializer: Serializer | None = None) -> None:
        self._write = write
        self._serializer = serializer or OrjsonSerializer()

    @staticmethod
    def name() -> str:
        return "StreamSink"

    def accept(self, context: MetricsContext) -> None:
        for document in self._serializer.serialize(context):
            self._write(document + "\n")


class FixedEnvironment(Environment):
    """An environment that is decided, not detected: no EC2 metadata probe, no agent socket."""

    def __init__(self, sink: Sink, name: str) -> None:
        self._sink = sink
        self._name = name

    async def probe(self) -> bool:
        return True

    def get_name(self) -> str:
        return self._name

    def get_type(self) -> str:
        return "AWS::Lambda::Function"

    def get_log_group_name(self) -> str:
        return self._name

    def configure_context(self, context: MetricsContext) -> None:
        pass

    def get_sink(self) -> Sink:
        return self._sink


class EmfWriter:
    """Turns one Outcome into one EMF document."""

    def __init__(
        self,
        namespace: str,
        service: str,
        write: Callable[[str], Any],
        features: frozenset[str] = frozenset(),
    ) -> None:
        self._namespace = namespace
        self._service = service
        self.features = features
        self._catalog = catalog_for(features)
        environment = FixedEnvironment(StreamSink(write), service)

        async def resolve() -> Environment:
            return environment

        self._resolve = resolve

    async def emit(self, outcome: Outcome, invocation: Invocation, properties: Mapping[str, Any]) -> None:
        logger = MetricsLogger(self._resolve, MetricsContext.empty())
        logger.set_namespace(self._namespace)
        logger.set_dimensions(
            {SERVICE: self._service},
            {SERVICE: self._service, FLOW_DIRECTION: outcome.direction.value},
            use_default=False,
        )
        for spec in self._catalog:
            logger.put_metric(spec.name, spec.value(outcome), spec.unit)
        logger.set_timestamp(invocation.received_at)
        logger.set_property("invocationId", outcome.dedupe_key)
        logger.set_property("status", outcome.status.value)
        if outcome.message_id is not None and len(outcome.message_id) <= MAX_MESSAGE_ID_CHARS:
            logger.set_property("messageId", outcome.message_id)  # an id, not personal data
        logger.set_property("requestId", invocation.request_id)
        for key, value in properties.items():
            logger.set_property(key, value)
        await logger.flush()
