"""EMF documents -> raw datapoints, per CloudWatch's extraction rules for the embedded metric format.

Each directive in `_aws.CloudWatchMetrics` names a namespace, dimension sets and metrics; every
dimension set gives one metric per listed name, its dimension values read from the document's root
members, its value the root member of the metric's name: a number, or an array of numbers (each a
datapoint), at `_aws.Timestamp` (milliseconds since the epoch). A line that is not such a
document, or a directive whose dimension or value members are missing or not of the right type, is
left out the way CloudWatch leaves it out (no metric), and counted so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

Dimensions = tuple[tuple[str, str], ...]  # sorted (name, value) pairs


@dataclass(frozen=True)
class MetricKey:
    """One CloudWatch metric: namespace, name and dimension values."""

    namespace: str
    name: str
    dimensions: Dimensions


@dataclass
class Datapoints:
    """Every extracted value of one metric, as (seconds since the epoch, value)."""

    points: list[tuple[float, float]] = field(default_factory=list)
    unit: str | None = None


@dataclass
class Extracted:
    metrics: dict[MetricKey, Datapoints] = field(default_factory=dict)
    documents: int = 0  # EMF documents read
    skipped: int = 0  # lines or directives that yield no metric

    def namespaces(self) -> set[str]:
        return {key.namespace for key in self.metrics}

    def dimension_values(self, namespace: str, dimension: str) -> set[str]:
        return {
            value
            for key in self.metrics
            if key.namespace == namespace
            for name, value in key.dimensions
            if name == dimension
        }

    def newest(self) -> float | None:
        times = [t for data in self.metrics.values() for t, _ in data.points]
        return max(times) if times else None

    def add_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.skipped += 1
            return
        if not isinstance(document, dict) or not self._add(document):
            self.skipped += 1

    def _add(self, document: dict[str, Any]) -> bool:
        meta = document.get("_aws")
        if not isinstance(meta, dict):
            return False
        timestamp = meta.get("Timestamp")
        directives = meta.get("CloudWatchMetrics")
        if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
            return False
        if not isinstance(directives, list):
            return False
        self.documents += 1
        seconds = float(timestamp) / 1000
        for directive in directives:
            if not self._add_directive(document, directive, seconds):
                self.skipped += 1
        return True

    def _add_directive(self, document: dict[str, Any], directive: Any, seconds: float) -> bool:
        if not isinstance(directive, dict):
            return False
        namespace = directive.get("Namespace")
        sets = directive.get("Dimensions")
        listed = directive.get("Metrics")
        if not isinstance(namespace, str) or not isinstance(sets, list) or not isinstance(listed, list):
            return False
        added = False
        for names in sets:
            if not isinstance(names, list) or not all(
                isinstance(n, str) and isinstance(document.get(n), str) for n in names
            ):
                continue
            dimensions = tuple(sorted((n, str(document[n])) for n in names))
            for metric in listed:
                if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                    continue
                values = _values(document.get(metric["Name"]))
                if not values:
                    continue
                data = self.metrics.setdefault(MetricKey(namespace, metric["Name"], dimensions), Datapoints())
                data.points += [(seconds, v) for v in values]
                unit = metric.get("Unit")
                data.unit = unit if isinstance(unit, str) else data.unit
                added = True
        return added


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _values(value: Any) -> list[float]:
    if _number(value):
        return [float(value)]
    if isinstance(value, list) and value and all(_number(v) for v in value):
        return [float(v) for v in value]
    return []


def extract(lines: Iterable[str], into: Extracted | None = None) -> Extracted:
    extracted = into if into is not None else Extracted()
    for line in lines:
        extracted.add_line(line)
    return extracted
