"""CloudWatch alarm evaluation, as the User Guide documents it, for alarms read from a template.

An alarm's configuration is read exactly as CloudFormation gets it (its metric or metric-math
queries, period, threshold, comparison, evaluation periods, datapoints to alarm and missing-data
rule) and replayed over series of one datapoint per period (AlarmThatSendsEmail.md, "How alarm
state is evaluated when data is missing"): CloudWatch reads an evaluation range longer than the
evaluation periods (5 periods for 3 in the documented example; here `evaluation_periods + 2`);
with at least N real datapoints it judges the most recent N; with fewer, it fills the gap with the
missing-data rule, using as few filled points as possible, and M of the N must breach. For
`missing` and `ignore` with fewer than N real points that are all breaching but fewer than M, the
guide gives only two cases (the newest period real: insufficient data; only the oldest real:
ALARM); any other such case raises `Undocumented`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from collector.view.mathexpr import Series, Unsupported, Value, evaluate_all

TOKEN = "TOKEN"  # stands for a CloudFormation reference in a dimension value
MAX_UNKNOWN = 9  # children of unknown state a composite is decided over


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str

    def dims(self) -> dict[str, str]:
        return dict(self.dimensions)


def _metric_ref(metric: Mapping[str, Any], stat: str) -> MetricRef:
    dims = tuple(
        sorted(
            (d["Name"], d["Value"] if isinstance(d["Value"], str) else TOKEN)
            for d in metric.get("Dimensions", [])
        )
    )
    return MetricRef(metric["Namespace"], metric["MetricName"], dims, stat)


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
MISSING_RULES = ("missing", "ignore", "breaching", "notBreaching")


@dataclass(frozen=True)
class AlarmConfig:
    name: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    metrics: dict[str, MetricRef]  # query id -> metric
    expressions: dict[str, str]  # query id -> metric-math expression
    returned: str  # the id whose values the alarm judges

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> AlarmConfig:
        if props["ComparisonOperator"] not in COMPARISONS:
            raise Unsupported(f"comparison {props['ComparisonOperator']}")
        missing = props.get("TreatMissingData", "missing")
        if missing not in MISSING_RULES:
            raise Unsupported(f"TreatMissingData {missing}")
        metrics: dict[str, MetricRef] = {}
        expressions: dict[str, str] = {}
        periods: set[int] = set()
        if "MetricName" in props:
            stat = props.get("Statistic") or props.get("ExtendedStatistic")
            metrics["m"] = _metric_ref(props, str(stat))
            periods.add(int(props["Period"]))
            returned = "m"
        else:
            returned = ""
            for query in props["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    metrics[query["Id"]] = _metric_ref(stat["Metric"], stat["Stat"])
                    periods.add(int(stat["Period"]))
                else:
                    expressions[query["Id"]] = query["Expression"]
                    if "Period" in query:
                        periods.add(int(query["Period"]))
                if query.get("ReturnData", True):
                    if returned:
                        raise Unsupported("an alarm judges exactly one time series")
                    returned = query["Id"]
        if len(periods) != 1:
            raise Unsupported(f"every metric of an alarm uses the same period, got {sorted(periods)}")
        evaluation = int(props["EvaluationPeriods"])
        period = periods.pop()
        if period * evaluation > 86400:
            raise Unsupported("evaluation periods times period may not exceed one day")
        return cls(
            name=str(props.get("AlarmName", "")),
            period=period,
            evaluation_periods=evaluation,
            datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation)),
            threshold=float(props["Threshold"]),
            comparison=props["ComparisonOperator"],
            treat_missing=missing,
            metrics=metrics,
            expressions=expressions,
            returned=returned,
        )

    def breaching(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)


class Undocumented(Unsupported):
    """A missing-data case the User Guide gives no answer for."""


def judged_series(
    config: AlarmConfig, data: Callable[[MetricRef], Series], window: range, fill_absent: bool
) -> Series:
    """The values the alarm judges within `window`: its returned metric or expression."""
    env: dict[str, Value] = {
        key: {k: v for k, v in data(ref).items() if k in window} for key, ref in config.metrics.items()
    }
    evaluate_all(config.expressions, env, window, fill_absent)
    result = env[config.returned]
    if isinstance(result, float):
        raise Unsupported(f"{config.returned} is a scalar; an alarm needs a time series")
    return {k: v for k, v in result.items() if k in window}


def decide(config: AlarmConfig, points: Series, window: range, previous: State) -> State:
    """The state for one evaluation, from the real datapoints in the evaluation range."""
    n, m = config.evaluation_periods, config.datapoints_to_alarm
    real = [points[k] for k in sorted(points)]
    if len(real) >= n:
        return State.ALARM if sum(map(config.breaching, real[-n:])) >= m else State.OK
    rule = config.treat_missing
    fill = n - len(real)
    if rule in ("breaching", "notBreaching"):
        breaching = sum(map(config.breaching, real)) + (fill if rule == "breaching" else 0)
        return State.ALARM if breaching >= m else State.OK
    if not real:
        return previous if rule == "ignore" else State.INSUFFICIENT_DATA
    breaching = sum(map(config.breaching, real))
    if breaching >= m:
        return State.ALARM
    if breaching < len(real):  # a real non-breaching point among them
        return State.OK
    if rule == "ignore":
        return previous
    if max(points) == window[-1]:
        return State.INSUFFICIENT_DATA
    if list(points) == [window[0]]:
        return State.ALARM
    raise Undocumented(f"{config.name}: missing data with breaching points {sorted(points)} in {window}")


def evaluate(
    config: AlarmConfig,
    data: Callable[[MetricRef], Series],
    periods: int,
    *,
    initial: State = State.INSUFFICIENT_DATA,
    fill_absent: bool = True,
) -> list[State]:
    """The alarm's state after each of `periods` periods (index 0 is the first)."""
    states, state = [], initial
    span = config.evaluation_periods + 2
    for t in range(periods):
        window = range(t - span + 1, t + 1)
        state = decide(config, judged_series(config, data, window, fill_absent), window, state)
        states.append(state)
    return states


def first_alarm(states: list[State]) -> int | None:
    return next((t for t, s in enumerate(states) if s is State.ALARM), None)


# --------------------------------------------------------------------------------- composite rules

RULE_TOKENS = re.compile(
    r'\s*(?:(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\("(?P<id>[^"]+)"\)|(?P<word>AND|OR|NOT|TRUE|FALSE)|(?P<p>[()]))'
)


def composite_state(rule: str, children: Mapping[str, State]) -> State:
    """A composite alarm's rule (ALARM/OK/INSUFFICIENT_DATA of children, AND, OR, NOT, parentheses)."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(rule.rstrip()):
        match = RULE_TOKENS.match(rule, position)
        if match is None:
            raise Unsupported(f"cannot read rule at {rule[position:]!r}")
        if match.group("fn"):
            tokens.append(("state", f"{match.group('fn')}:{match.group('id')}"))
        else:
            tokens.append(("word", match.group("word") or match.group("p")))
        position = match.end()
    at = 0

    def expr() -> bool:
        nonlocal at
        value = term()
        while at < len(tokens) and tokens[at] == ("word", "OR"):
            at += 1
            value = term() or value
        return value

    def term() -> bool:
        nonlocal at
        value = factor()
        while at < len(tokens) and tokens[at] == ("word", "AND"):
            at += 1
            value = factor() and value
        return value

    def factor() -> bool:
        nonlocal at
        kind, text = tokens[at]
        at += 1
        if kind == "state":
            wanted, child = text.split(":", 1)
            return children[child].value == wanted
        if text == "NOT":
            return not factor()
        if text == "(":
            value = expr()
            at += 1  # ")"
            return value
        return text == "TRUE"

    return State.ALARM if expr() else State.OK


def composite_state_known(rule: str, children: Mapping[str, State | None]) -> State | None:
    """The composite's state where some children's states are unknown (None: their data only AWS
    has): the state every possible assignment of the unknown ones agrees on, or None."""
    unknown = [name for name, state in children.items() if state is None and f'"{name}"' in rule]
    if len(unknown) > MAX_UNKNOWN:  # every assignment is tried: 3 ** len(unknown) of them
        return None
    outcomes = set()
    for states in itertools.product(list(State), repeat=len(unknown)):
        known = {name: state or State.INSUFFICIENT_DATA for name, state in children.items()}
        known.update(zip(unknown, states, strict=True))
        outcomes.add(composite_state(rule, known))
    return outcomes.pop() if len(outcomes) == 1 else None
