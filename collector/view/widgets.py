"""A dashboard widget's definition -> what it shows over the extracted metrics, as CloudWatch would.

Metric rows are read as a dashboard body writes them (`[namespace, name, dim, value, ...,
{options}]`, or `[{expression, ...}]`); each metric is aggregated per the row's period and
statistic (the widget's when the row has none; one period over the whole range with
`setPeriodToTimeRange`), and metric math is evaluated over the range's periods. A metric outside
the collector's namespace has no data here (only AWS has it): it, and every expression that reads
it, is marked so and never drawn. Alarms are evaluated over the same series; an alarm that reads
data only AWS has gets no state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.view.alarms import AlarmConfig, MetricRef, State, composite_state_known, evaluate
from collector.view.emf import Extracted, MetricKey
from collector.view.mathexpr import Parser, Series, Unsupported, Value, evaluate_all, refs
from collector.view.stats import check, statistic

DEFAULT_PERIOD = 300
DEFAULT_STAT = "Average"  # a metric widget's statistic when neither row nor widget names one


@dataclass(frozen=True)
class Scope:
    """What a page reads: the collector's metrics, over [end - seconds, end)."""

    extracted: Extracted
    namespace: str
    end: float  # seconds since the epoch, exclusive
    seconds: int
    _cache: dict[tuple[MetricRef, int | None], Series] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def start(self) -> float:
        return self.end - self.seconds

    def grid(self, period: int) -> range:
        """Period indices (time // period) that overlap the range."""
        return range(math.floor(self.start / period), math.floor((self.end - 1e-6) / period) + 1)

    def ours(self, namespace: str) -> bool:
        return namespace == self.namespace

    def series(self, ref: MetricRef, period: int | None) -> Series:
        """One metric's statistic per period (None: one value over the whole range, index 0)."""
        if (ref, period) in self._cache:  # widgets and alarms read the same series many times
            return dict(self._cache[ref, period])
        data = self.extracted.metrics.get(MetricKey(ref.namespace, ref.name, ref.dimensions))
        if data is None:
            return {}
        check(ref.stat)
        buckets: dict[int, list[float]] = {}
        for t, v in data.points:
            if self.start <= t < self.end:
                buckets.setdefault(0 if period is None else math.floor(t / period), []).append(v)
        self._cache[ref, period] = {k: statistic(ref.stat, values) for k, values in buckets.items()}
        return dict(self._cache[ref, period])

    def unit(self, ref: MetricRef) -> str | None:
        data = self.extracted.metrics.get(MetricKey(ref.namespace, ref.name, ref.dimensions))
        return data.unit if data is not None else None


@dataclass
class Line:
    """One row of a metric widget: a metric or an expression, and what it shows."""

    id: str
    label: str
    visible: bool
    right: bool
    period: int
    metric: MetricRef | None = None
    expression: str | None = None
    values: Series = field(default_factory=dict)
    aws: bool = False  # its data only AWS has
    error: str | None = None  # something this renderer does not implement
    unit: str | None = None

    @property
    def has_data(self) -> bool:
        return bool(self.values)


def parse_rows(props: Mapping[str, Any]) -> list[Line]:
    period = int(props.get("period", DEFAULT_PERIOD))
    stat = str(props.get("stat", DEFAULT_STAT))
    lines: list[Line] = []
    for number, row in enumerate(props.get("metrics", []), start=1):
        options: dict[str, Any] = row[-1] if row and isinstance(row[-1], dict) else {}
        visible = bool(options.get("visible", True))
        right = options.get("yAxis") == "right"
        row_period = int(options.get("period", period))
        if "expression" in options:
            key = str(options.get("id", f"e{number}"))
            label = str(options.get("label", key))
            lines.append(Line(key, label, visible, right, row_period, expression=str(options["expression"])))
            continue
        fields = row[:-1] if options else row
        namespace, name, *pairs = fields
        dimensions = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
        ref = MetricRef(str(namespace), str(name), dimensions, str(options.get("stat", stat)))
        key = str(options.get("id", f"m{number}"))
        lines.append(Line(key, str(options.get("label", name)), visible, right, row_period, metric=ref))
    return lines


def compute(lines: list[Line], scope: Scope, whole_range: bool) -> None:
    """Fills each line's values (or marks it as AWS's or unsupported), in place."""
    env: dict[str, Value] = {}
    grids: dict[str, range] = {}
    for line in lines:
        grids[line.id] = range(0, 1) if whole_range else scope.grid(line.period)
        if line.metric is None:
            continue
        if not scope.ours(line.metric.namespace):
            line.aws = True
            continue
        try:
            env[line.id] = scope.series(line.metric, None if whole_range else line.period)
            line.unit = scope.unit(line.metric)
        except Unsupported as error:
            line.error = str(error)
    blocked = {line.id for line in lines if line.aws or line.error}
    expressions = {line.id: line for line in lines if line.expression is not None}
    parsed: dict[str, list[str]] = {}
    for key, line in expressions.items():
        try:
            parsed[key] = refs(Parser(line.expression or "").parse())
        except Unsupported as error:
            line.error = str(error)
            blocked.add(key)
    by_id = {line.id: line for line in lines}
    changed = True
    while changed:  # an expression reading AWS data (or a failed one) cannot be computed either
        changed = False
        for key, line in expressions.items():
            if key not in blocked and set(parsed[key]) & blocked:
                blocked.add(key)
                line.aws = any(by_id[r].aws for r in parsed[key] if r in by_id)
                line.error = None if line.aws else "reads a series that could not be computed"
                changed = True
    ready = {key: line.expression or "" for key, line in expressions.items() if key not in blocked}
    grid = next((grids[key] for key in ready), range(0))
    try:
        evaluate_all(ready, env, grid, fill_absent=False)
    except Unsupported as error:
        for key in ready:
            if key not in env:
                expressions[key].error = str(error)
                blocked.add(key)
    for line in lines:
        if line.id in env and line.id not in blocked:
            value = env[line.id]
            grid = grids[line.id]
            line.values = {k: value for k in grid} if isinstance(value, float) else value


def single_value(line: Line) -> float | None:
    """What a single-value widget shows for a line: its newest value."""
    return line.values[max(line.values)] if line.values else None


# ---------------------------------------------------------------------------------------- alarms


@dataclass(frozen=True)
class AlarmView:
    name: str
    state: State | None  # None: its data only AWS has, or the evaluator cannot say
    note: str = ""
    since: float | None = None  # when it went into ALARM within the range (seconds since the epoch)


def alarm_views(alarms: Mapping[str, Mapping[str, Any]], scope: Scope) -> dict[str, AlarmView]:
    """Each alarm's state at the end of the range, evaluated period by period over the range."""
    views: dict[str, AlarmView] = {}
    for arn, props in alarms.items():
        if "AlarmRule" not in props:
            views[arn] = _metric_alarm(props, scope)
    for arn, props in alarms.items():
        if "AlarmRule" in props:
            rule = str(props["AlarmRule"])
            state = composite_state_known(rule, {k: v.state for k, v in views.items()})
            note = "" if state is not None else "data from AWS: its state shows in CloudWatch after a deploy"
            views[arn] = AlarmView(str(props.get("AlarmName", arn)), state, note)
    return views


def _metric_alarm(props: Mapping[str, Any], scope: Scope) -> AlarmView:
    name = str(props.get("AlarmName", ""))
    try:
        config = AlarmConfig.from_properties(props)
    except Unsupported as error:
        return AlarmView(name, None, f"not evaluated here: {error}")
    if not all(scope.ours(ref.namespace) for ref in config.metrics.values()):
        return AlarmView(name, None, "data from AWS: its state shows in CloudWatch after a deploy")
    grid = scope.grid(config.period)
    series = {
        key: {k - grid.start: v for k, v in scope.series(ref, config.period).items()}
        for key, ref in config.metrics.items()
    }
    by_ref = {ref: series[key] for key, ref in config.metrics.items()}
    try:
        states = evaluate(config, lambda ref: by_ref[ref], len(grid), fill_absent=False)
    except Unsupported as error:
        return AlarmView(name, None, f"not evaluated here: {error}")
    since = None
    if states[-1] is State.ALARM:  # the start of the ALARM state it ends the range in
        streak = len(states) - 1
        while streak > 0 and states[streak - 1] is State.ALARM:
            streak -= 1
        since = float((grid.start + streak) * config.period)
    return AlarmView(name, states[-1], since=since)
