"""CloudWatch metrics for the collector's own EMF catalog, and nothing else.

Every dashboard and alarm gets its collector metrics from here, so a metric the deployment does not
emit cannot be graphed (`CollectorMetrics.metric` raises): not a name outside the catalog, and not
an optional metric whose feature (enrichment) is off. Each metric has the one dimension set the
catalog gives it: `[Service]`, or `[Service, Source, FlowDirection]`. A per-flow metric asked for
without a direction or source is the metric-math sum of its series, each FILLed with zeros (the
collector writes no zeros), so totals cost no metric of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from collector.metrics import (
    CATALOG,
    DIRECTIONS,
    FLOW_DIRECTION,
    SERVICE,
    SOURCE,
    MetricSpec,
    catalog_for,
)
from collector.model import Source


class UnknownMetricError(KeyError):
    """A dashboard asked for a metric this deployment does not emit."""


@dataclass(frozen=True)
class CollectorMetrics:
    """Where the collector's metrics live (namespace, `Service` value) and which of them it emits."""

    namespace: str
    service: str
    features: frozenset[str] = field(default_factory=frozenset)
    period_minutes: int = 5
    sources: tuple[str, ...] = (Source.WORKMAIL.value,)

    @property
    def period(self) -> Duration:
        return Duration.minutes(self.period_minutes)

    @property
    def catalog(self) -> tuple[MetricSpec, ...]:
        """The metrics this deployment emits: the base catalog plus its features' metrics."""
        return catalog_for(self.features)

    def emits(self, feature: str) -> bool:
        return feature in self.features

    def spec(self, name: str) -> MetricSpec:
        emitted = {spec.name: spec for spec in self.catalog}
        if name in emitted:
            return emitted[name]
        features = next((s.features for s in CATALOG if s.name == name), None)
        if features:
            raise UnknownMetricError(f"{name!r} is emitted only with {' or '.join(sorted(features))} on")
        raise UnknownMetricError(f"{name!r} is not a collector metric; known: {', '.join(emitted)}")

    def series(self, name: str, direction: str, source: str) -> cw.Metric:
        """One stored series of a per-flow metric."""
        spec = self.spec(name)
        if not spec.per_flow:
            raise ValueError(f"{name} has no per-direction series")
        if (source, direction) not in spec.flows(self.sources):
            raise ValueError(f"{name} has no {source} {direction} series in this deployment")
        return self._metric(
            spec,
            {SERVICE: self.service, SOURCE: source, FLOW_DIRECTION: direction},
            label=f"{source} {direction.title()}",
        )

    def metric(
        self,
        name: str,
        direction: str | None = None,
        *,
        source: str | None = None,
        label: str | None = None,
        statistic: str | None = None,
    ) -> cw.IMetric:
        """A catalog metric: one series, or the FILLed sum of the per-flow series it covers."""
        spec = self.spec(name)
        if not spec.per_flow:
            if direction is not None or source is not None:
                raise ValueError(f"{name} is emitted under [Service] only")
            return self._metric(spec, {SERVICE: self.service}, label or spec.name, statistic)
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"{direction!r} is not a FlowDirection the collector emits")
        flows = [
            (s, d)
            for s, d in spec.flows(self.sources)
            if (source is None or s == source) and (direction is None or d == direction)
        ]
        if not flows:
            raise ValueError(f"{name} has no {source or ''} {direction or ''} series in this deployment")
        parts = [self.series(name, d, s) for s, d in flows]
        default_label = spec.name if direction is None else direction.title()
        if len(parts) == 1 and statistic is None:
            return parts[0].with_(label=label or default_label)
        using = {_series_id(p): p.with_(statistic=statistic) if statistic else p for p in parts}
        return cw.MathExpression(
            expression=" + ".join(f"FILL({key}, 0)" for key in using),
            using_metrics=dict(using),
            label=label or default_label,
            period=self.period,
        )

    def reconcile_report(self, name: str, label: str) -> cw.Metric:
        """A daily figure the scheduled reconcile publishes under [Service] (collector.reconcile),
        outside the EMF catalog: its largest value of the day."""
        return cw.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map={SERVICE: self.service},
            statistic="Maximum",
            period=Duration.days(1),
            label=label,
        )

    def _metric(
        self, spec: MetricSpec, dimensions: dict[str, str], label: str, statistic: str | None = None
    ) -> cw.Metric:
        return cw.Metric(
            namespace=self.namespace,
            metric_name=spec.name,
            dimensions_map=dimensions,
            statistic=statistic or spec.statistic,
            # No `unit`: on an alarm it filters datapoints, and a unit mismatch would silence it.
            period=self.period,
            label=label,
        )

    def directions(self, name: str) -> list[str]:
        """The directions this deployment's sources write `name` in (SES has no UNKNOWN)."""
        written = {direction for _, direction in self.spec(name).flows(self.sources)}
        return [direction for direction in DIRECTIONS if direction in written]

    def per_direction(self, name: str) -> list[cw.IMetric]:
        return [self.metric(name, direction) for direction in self.directions(name)]

    def flows(self, name: str) -> list[cw.IMetric]:
        """What a per-direction graph shows: one line per direction, or, when the deployment counts
        more than one source, one line per source and direction (the sources side by side)."""
        if len(self.sources) == 1:
            return self.per_direction(name)
        return [
            self.metric(name, direction, source=source, label=f"{source} {direction.title()}")
            for source, direction in self.spec(name).flows(self.sources)
        ]

    def totals(self) -> list[cw.IMetric]:
        """Every metric this deployment emits, summed over directions and sources."""
        return [self.metric(spec.name) for spec in self.catalog]


def _series_id(metric: cw.Metric) -> str:
    """A metric-math id unique to one series, so expressions in one widget never collide."""
    dimensions = metric.dimensions or {}
    parts = [metric.metric_name, str(dimensions.get(SOURCE, "")), str(dimensions.get(FLOW_DIRECTION, ""))]
    return "_".join(p.lower() for p in parts if p)
