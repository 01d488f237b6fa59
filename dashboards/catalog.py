"""CloudWatch metrics for the collector's own EMF catalog, and nothing else.

Every dashboard and alarm gets its collector metrics from here, so a metric the deployment does not
emit cannot be graphed (`CollectorMetrics.metric` raises): not a name outside the catalog, and not
an optional metric whose feature (enrichment) is off. The dimensions are the ones the EMF writer
declares (`DIMENSION_SETS`): `[Service]` for totals, `[Service, FlowDirection]` per direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from collector.metrics import (
    CATALOG,
    DIMENSION_SETS,
    DIRECTIONS,
    FLOW_DIRECTION,
    SERVICE,
    MetricSpec,
    catalog_for,
)

TOTALS = (SERVICE,)
PER_DIRECTION = (SERVICE, FLOW_DIRECTION)
if set(DIMENSION_SETS) != {TOTALS, PER_DIRECTION}:  # pragma: no cover - a catalog change needs new graphs
    raise RuntimeError(f"dashboards expect dimension sets {TOTALS} and {PER_DIRECTION}, got {DIMENSION_SETS}")


class UnknownMetricError(KeyError):
    """A dashboard asked for a metric this deployment does not emit."""


@dataclass(frozen=True)
class CollectorMetrics:
    """Where the collector's metrics live (namespace, `Service` value) and which of them it emits."""

    namespace: str
    service: str
    features: frozenset[str] = field(default_factory=frozenset)
    period_minutes: int = 5

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
        feature = next((s.feature for s in CATALOG if s.name == name), None)
        if feature is not None:
            raise UnknownMetricError(f"{name!r} is emitted only with the {feature} feature, which is off")
        raise UnknownMetricError(f"{name!r} is not a collector metric; known: {', '.join(emitted)}")

    def metric(
        self,
        name: str,
        direction: str | None = None,
        *,
        label: str | None = None,
        statistic: str | None = None,
    ) -> cw.Metric:
        """One catalog metric: totals when `direction` is None, else one FlowDirection series."""
        spec = self.spec(name)
        dimensions = {SERVICE: self.service}
        if direction is not None:
            if direction not in DIRECTIONS:
                raise ValueError(f"{direction!r} is not a FlowDirection the collector emits")
            dimensions[FLOW_DIRECTION] = direction
        return cw.Metric(
            namespace=self.namespace,
            metric_name=spec.name,
            dimensions_map=dimensions,
            statistic=statistic or spec.statistic,
            # No `unit`: on an alarm it filters datapoints, and a unit mismatch would silence it.
            period=self.period,
            label=label or (spec.name if direction is None else direction.title()),
        )

    def per_direction(self, name: str) -> list[cw.IMetric]:
        return [self.metric(name, direction) for direction in DIRECTIONS]

    def totals(self) -> list[cw.IMetric]:
        """Every metric this deployment emits, Service dimension only."""
        return [self.metric(spec.name) for spec in self.catalog]
