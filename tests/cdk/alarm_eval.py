"""A small evaluator of CloudWatch alarm semantics, for the alarms in a synthesized template.

It reads an alarm's configuration exactly as CloudFormation gets it (its metric or metric-math
queries, period, threshold, comparison, evaluation periods, datapoints to alarm and missing-data
rule) and replays it over synthetic series, one datapoint per period, so a test can say where an
alarm fires. What it implements is what the CloudWatch User Guide documents, and nothing else:

* metric math (using-metric-math.md): arithmetic where a missing value in a time series counts as
  0 and a division by zero drops the datapoint; comparison and logical operators (`== != <= >= <
  >`, `AND && OR ||`) with the same missing-as-0 rule; `IF` with the documented cases for a
  missing true or false value; `FILL(series, number)`. Any other function (or `^`) is refused
  with an error, never guessed.
* alarm evaluation (AlarmThatSendsEmail.md, "How alarm state is evaluated when data is missing"):
  CloudWatch reads an evaluation range longer than the evaluation periods (5 periods for 3 in the
  documented example; here `evaluation_periods + 2`); with at least N real datapoints it judges
  the most recent N; with fewer, it fills the gap with the missing-data rule, using as few filled
  points as possible, and M of the N must breach. For `missing` and `ignore` with fewer than N
  real points that are all breaching but fewer than M, the guide gives only two cases (the newest
  period real: insufficient data; only the oldest real: ALARM); any other such case raises.

Whether FILL produces values for a metric with no datapoint at all in the range is not documented;
`fill_absent` chooses, and the tests run both ways.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

TOKEN = "TOKEN"  # stands for a CloudFormation reference in a dimension value
Series = dict[int, float]  # period index -> value
Value = float | Series


class Unsupported(ValueError):
    """The expression or configuration uses something this evaluator does not implement."""


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


# ----------------------------------------------------------------------------------- metric math

TOKENS = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/<>(),^]))"
)
FUNCTIONS = frozenset({"IF", "FILL"})


def tokenize(expression: str) -> list[str]:
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKENS.match(expression, position)
        if match is None:
            raise Unsupported(f"cannot read {expression[position:]!r}")
        token = match.group("number") or match.group("name") or match.group("op")
        if token == "^":
            raise Unsupported("the ^ operator")
        tokens.append(token)
        position = match.end()
    return tokens


Node = tuple[Any, ...]


class Parser:
    """Recursive descent: OR < AND < comparison < + - < * / < unary minus."""

    def __init__(self, expression: str) -> None:
        self.tokens = tokenize(expression)
        self.at = 0

    def parse(self) -> Node:
        node = self.logical("OR", ("OR", "||"))
        if self.at != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.at]!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'more'}, got {token!r}")
        self.at += 1
        return token

    def logical(self, kind: str, ops: tuple[str, str]) -> Node:
        node = self._operand(kind)
        while self.peek() in ops:
            self.take()
            node = (kind, node, self._operand(kind))
        return node

    def _operand(self, kind: str) -> Node:
        return self.logical("AND", ("AND", "&&")) if kind == "OR" else self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        if self.peek() in ("==", "!=", "<=", ">=", "<", ">"):
            op = self.take()
            node = (op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = (op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = (op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.logical("OR", ("OR", "||"))
            self.take(")")
            return node
        if re.fullmatch(r"\d+(\.\d+)?", token):
            return ("num", float(token))
        if token[0].isupper():
            if token not in FUNCTIONS:
                raise Unsupported(f"metric-math function {token}")
            self.take("(")
            args = [self.logical("OR", ("OR", "||"))]
            while self.peek() == ",":
                self.take()
                args.append(self.logical("OR", ("OR", "||")))
            self.take(")")
            return ("call", token, args)
        return ("ref", token)


def _binary(op: str, left: Value, right: Value) -> Value:
    def apply(a: float, b: float) -> float | None:
        if op == "/":
            return None if b == 0 else a / b
        results: dict[str, float] = {
            "+": a + b,
            "-": a - b,
            "*": a * b,
            "==": float(a == b),
            "!=": float(a != b),
            "<=": float(a <= b),
            ">=": float(a >= b),
            "<": float(a < b),
            ">": float(a > b),
            "AND": float(bool(a) and bool(b)),
            "OR": float(bool(a) or bool(b)),
        }
        return results[op]

    if isinstance(left, float) and isinstance(right, float):
        value = apply(left, right)
        if value is None:
            raise Unsupported("a scalar division by zero")
        return value
    if isinstance(left, dict) and isinstance(right, dict):
        keys = sorted(set(left) | set(right))
        pairs = {k: (left.get(k, 0.0), right.get(k, 0.0)) for k in keys}  # missing counts as 0
    elif isinstance(left, dict):
        pairs = {k: (v, float(right)) for k, v in left.items()}  # type: ignore[arg-type]
    else:
        pairs = {k: (float(left), v) for k, v in right.items()}  # type: ignore[union-attr]
    out: Series = {}
    for k, (a, b) in pairs.items():
        value = apply(a, b)
        if value is not None:
            out[k] = value
    return out


def _if(cond: Value, true: Value, false: Value | None) -> Value:
    if isinstance(cond, float):
        if cond:
            return true
        return {} if false is None else false
    out: Series = {}
    for k, c in cond.items():
        if c:
            out[k] = true if isinstance(true, float) else true.get(k, 0.0)
        elif isinstance(false, float):
            out[k] = false
        elif isinstance(false, dict) and k in false:
            out[k] = false[k]
    return out


def evaluate_expression(node: Node, env: Mapping[str, Value], grid: range, fill_absent: bool) -> Value:
    kind = node[0]
    if kind == "num":
        return float(node[1])
    if kind == "ref":
        if node[1] not in env:
            raise Unsupported(f"unknown id {node[1]}")
        return env[node[1]]
    if kind == "neg":
        return _binary("*", -1.0, evaluate_expression(node[1], env, grid, fill_absent))
    if kind == "call":
        name, args = node[1], [evaluate_expression(a, env, grid, fill_absent) for a in node[2]]
        if name == "IF":
            if len(args) not in (2, 3):
                raise Unsupported("IF takes 2 or 3 arguments")
            return _if(args[0], args[1], args[2] if len(args) == 3 else None)
        series, filler = args if len(args) == 2 else (None, None)
        if not isinstance(series, dict) or not isinstance(filler, float):
            raise Unsupported("only FILL(series, number) is implemented")
        if not series and not fill_absent:
            return {}
        return {k: series.get(k, filler) for k in grid}
    left = evaluate_expression(node[1], env, grid, fill_absent)
    right = evaluate_expression(node[2], env, grid, fill_absent)
    return _binary(kind, left, right)


# ------------------------------------------------------------------------------ alarm evaluation


class Undocumented(Unsupported):
    """A missing-data case the User Guide gives no answer for."""


def judged_series(
    config: AlarmConfig, data: Callable[[MetricRef], Series], window: range, fill_absent: bool
) -> Series:
    """The values the alarm judges within `window`: its returned metric or expression."""
    env: dict[str, Value] = {
        key: {k: v for k, v in data(ref).items() if k in window} for key, ref in config.metrics.items()
    }
    pending = dict(config.expressions)
    while pending:  # expressions may use each other, in any order
        ready = [k for k, e in pending.items() if set(_refs(Parser(e).parse())) <= set(env)]
        if not ready:
            raise Unsupported(f"unresolvable ids in {pending}")
        for key in ready:
            value = evaluate_expression(Parser(pending.pop(key)).parse(), env, window, fill_absent)
            if isinstance(value, float):
                raise Unsupported(f"{key} is a scalar; an alarm needs a time series")
            env[key] = value
    result = env[config.returned]
    assert isinstance(result, dict)
    return {k: v for k, v in result.items() if k in window}


def _refs(node: Node) -> list[str]:
    if node[0] == "ref":
        return [node[1]]
    if node[0] == "num":
        return []
    if node[0] == "call":
        return [r for a in node[2] for r in _refs(a)]
    return [r for child in node[1:] for r in _refs(child)]


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
