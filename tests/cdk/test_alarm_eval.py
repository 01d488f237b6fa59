"""The alarm evaluator against the CloudWatch User Guide's own examples, before it judges our alarms.

Every table here is copied from the guide: the metric-math operator and IF examples
(using-metric-math.md) and both missing-data tables (AlarmThatSendsEmail.md, "How alarm state is
evaluated when data is missing"; 5 datapoints retrieved for 3 evaluation periods).
"""

from __future__ import annotations

import pytest

from tests.cdk.alarm_eval import (
    AlarmConfig,
    Parser,
    Series,
    State,
    Unsupported,
    composite_state,
    decide,
    evaluate_expression,
)


def series(*values: float | None) -> Series:
    return {k: float(v) for k, v in enumerate(values) if v is not None}


def compute(expression: str, grid: range = range(5), **env: Series) -> Series:
    value = evaluate_expression(Parser(expression).parse(), dict(env), grid, fill_absent=True)
    assert isinstance(value, dict)
    return value


METRIC1 = series(30, 20, 0, 0)
METRIC2 = series(20, None, 20, None)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(metric1 < metric2)", series(0, 0, 1, 0)),
        ("(metric1 >= 30)", series(1, 0, 0, 0)),
        ("(metric1 > 15 AND metric2 > 15)", series(1, 0, 0, 0)),
        ("(metric1 > 15 && metric2 > 15)", series(1, 0, 0, 0)),
        ("metric1 - metric2", series(10, 20, -20, 0)),  # missing values count as 0
        ("metric2 / metric1", series(20 / 30, 0)),  # a division by zero drops the datapoint
    ],
)
def test_operators_as_documented(expression: str, expected: Series) -> None:
    assert compute(expression, metric1=METRIC1, metric2=METRIC2) == expected


IF1 = series(1, 1, 0, 0, None)
IF2 = series(30, None, 0, 0, 30)
IF3 = series(0, 0, 20, None, 20)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("IF(metric1, metric2, metric3)", series(30, 0, 20)),
        ("IF(metric1, 5, metric3)", series(5, 5, 20)),
        ("IF(metric1, metric2, 5)", series(30, 0, 5, 5)),
        ("IF(metric1, metric2)", series(30, 0)),
    ],
)
def test_if_as_documented(expression: str, expected: Series) -> None:
    assert compute(expression, metric1=IF1, metric2=IF2, metric3=IF3) == expected


def test_fill_fills_every_period_of_the_range() -> None:
    assert compute("FILL(m, 0)", range(4), m=series(None, 3, None)) == series(0, 3, 0, 0)
    assert evaluate_expression(Parser("FILL(m, 0)").parse(), {"m": {}}, range(4), fill_absent=False) == {}


@pytest.mark.parametrize(
    "expression", ["RATE(m)", "m ^ 2", "SUM(m)", "FILL(m, REPEAT)", "ANOMALY_DETECTION_BAND(m)"]
)
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises(Unsupported):
        compute(expression, m=series(1, 2))


def config(datapoints: int, missing: str) -> AlarmConfig:
    return AlarmConfig(
        name="doc",
        period=300,
        evaluation_periods=3,
        datapoints_to_alarm=datapoints,
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        treat_missing=missing,
        metrics={},
        expressions={},
        returned="m",
    )


def points(row: str) -> Series:
    return {k: (1.0 if c == "X" else 0.0) for k, c in enumerate(row.split()) if c != "-"}


RETAIN = "retain"
# Data points | MISSING | IGNORE | BREACHING | NOT BREACHING, 3 of 3 (first table of the guide).
THREE_OF_THREE = [
    ("0 - X - X", State.OK, State.OK, State.OK, State.OK),
    ("0 - - - -", State.OK, State.OK, State.OK, State.OK),
    ("- - - - -", State.INSUFFICIENT_DATA, RETAIN, State.ALARM, State.OK),
    ("0 X X - X", State.ALARM, State.ALARM, State.ALARM, State.ALARM),
    ("- - - - X", State.INSUFFICIENT_DATA, RETAIN, State.ALARM, State.OK),
    ("X - - - -", State.ALARM, RETAIN, State.ALARM, State.OK),
]
# The same for 2 of 3 (second table).
TWO_OF_THREE = [
    ("0 - X - X", State.ALARM, State.ALARM, State.ALARM, State.ALARM),
    ("0 0 X 0 X", State.ALARM, State.ALARM, State.ALARM, State.ALARM),
    ("0 - X - -", State.OK, State.OK, State.ALARM, State.OK),
    ("- - - - 0", State.OK, State.OK, State.ALARM, State.OK),
    ("- - - - X", State.INSUFFICIENT_DATA, RETAIN, State.ALARM, State.OK),
]


@pytest.mark.parametrize(
    ("datapoints", "row", "expected"),
    [(3, row[0], row[1:]) for row in THREE_OF_THREE] + [(2, row[0], row[1:]) for row in TWO_OF_THREE],
)
@pytest.mark.parametrize("previous", [State.OK, State.ALARM])
def test_missing_data_tables(
    datapoints: int, row: str, expected: tuple[State | str, ...], previous: State
) -> None:
    for missing, want in zip(("missing", "ignore", "breaching", "notBreaching"), expected, strict=True):
        got = decide(config(datapoints, missing), points(row), range(5), previous)
        assert got == (previous if want == RETAIN else want), (row, missing)


def test_composite_rules() -> None:
    rule = '(ALARM("a") OR ALARM("b")) AND NOT OK("c")'
    assert composite_state(rule, {"a": State.ALARM, "b": State.OK, "c": State.ALARM}) is State.ALARM
    assert composite_state(rule, {"a": State.ALARM, "b": State.OK, "c": State.OK}) is State.OK
    assert composite_state(rule, {"a": State.OK, "b": State.INSUFFICIENT_DATA, "c": State.ALARM}) is State.OK
