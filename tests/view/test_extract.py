"""EMF documents -> series as CloudWatch extracts and aggregates them (the EMF specification;
Statistics definitions in the CloudWatch User Guide)."""

from __future__ import annotations

import orjson
import pytest

from collector.view import ViewError, duration_seconds
from collector.view.alarms import MetricRef, State, composite_state_known
from collector.view.emf import Extracted, MetricKey, extract
from collector.view.mathexpr import Unsupported
from collector.view.stats import statistic
from collector.view.widgets import Scope, compute, parse_rows


def doc(ms: int, directives: list[dict[str, object]], **members: object) -> str:
    return orjson.dumps({**members, "_aws": {"Timestamp": ms, "CloudWatchMetrics": directives}}).decode()


def test_each_dimension_set_gives_one_metric_and_arrays_give_datapoints() -> None:
    line = doc(
        1_700_000_000_000,
        [
            {
                "Namespace": "NS",
                "Dimensions": [["Service"], ["Service", "Source"], []],
                "Metrics": [{"Name": "M"}],
            }
        ],
        Service="svc",
        Source="WorkMail",
        M=[1, 2, 3],
    )
    got = extract([line])
    assert got.documents == 1 and got.skipped == 0
    assert set(got.metrics) == {
        MetricKey("NS", "M", (("Service", "svc"),)),
        MetricKey("NS", "M", (("Service", "svc"), ("Source", "WorkMail"))),
        MetricKey("NS", "M", ()),
    }
    assert got.metrics[MetricKey("NS", "M", ())].points == [(1_700_000_000.0, v) for v in (1.0, 2.0, 3.0)]


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '{"no": "aws block"}',
        doc(1, [{"Namespace": "NS", "Dimensions": [["Missing"]], "Metrics": [{"Name": "M"}]}], M=1),
        doc(1, [{"Namespace": "NS", "Dimensions": [[]], "Metrics": [{"Name": "M"}]}], M="1"),
        doc(1, [{"Namespace": "NS", "Dimensions": [["D"]], "Metrics": [{"Name": "M"}]}], D=5, M=1),
    ],
)
def test_what_cloudwatch_would_not_extract_is_left_out_and_counted(line: str) -> None:
    got = extract([line])
    assert got.metrics == {} and got.skipped == 1


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("Sum", 10),
        ("SampleCount", 4),
        ("Average", 2.5),
        ("Minimum", 1),
        ("Maximum", 4),
        ("p50", 2),
        ("p99", 4),
    ],
)
def test_statistics(stat: str, expected: float) -> None:
    assert statistic(stat, [4.0, 1.0, 3.0, 2.0]) == expected


def test_unimplemented_statistics_are_refused() -> None:
    with pytest.raises(Unsupported):
        statistic("tm99", [1.0])


def test_periods_align_to_the_epoch_and_math_fills_the_range() -> None:
    directive: list[dict[str, object]] = [
        {"Namespace": "NS", "Dimensions": [["Service"]], "Metrics": [{"Name": "M"}]}
    ]
    lines = [doc(t * 1000, directive, Service="s", M=v) for t, v in ((600, 1), (899, 2), (1200, 5))]
    scope = Scope(extract(lines), "NS", end=1201, seconds=1200)
    rows = parse_rows(
        {
            "period": 300,
            "metrics": [
                ["NS", "M", "Service", "s", {"id": "m", "stat": "Sum", "visible": False}],
                [{"expression": "FILL(m, 0) * 2", "label": "doubled"}],
                [
                    "AWS/Lambda",
                    "Errors",
                    "FunctionName",
                    "f",
                    {"id": "errors", "stat": "Sum", "visible": False},
                ],
                [{"expression": "m / errors", "label": "needs AWS"}],
            ],
        }
    )
    compute(rows, scope, whole_range=False)
    m, doubled, errors, ratio = rows
    assert m.values == {2: 3.0, 4: 5.0}
    assert doubled.values == {0: 0.0, 1: 0.0, 2: 6.0, 3: 0.0, 4: 10.0}
    assert errors.aws and ratio.aws and not ratio.values
    whole = parse_rows({"metrics": [["NS", "M", "Service", "s", {"stat": "Maximum"}]]})
    compute(whole, scope, whole_range=True)
    assert whole[0].values == {0: 5.0}
    assert scope.series(MetricRef("NS", "M", (("Service", "s"),), "SampleCount"), 300) == {2: 2.0, 4: 1.0}


def test_durations() -> None:
    assert duration_seconds("-P7D") == 7 * 86400
    assert duration_seconds("PT3H") == 3 * 3600
    with pytest.raises(ViewError):
        duration_seconds("3h")


def test_nothing_extracted_is_empty() -> None:
    assert Extracted().newest() is None


def test_a_composite_is_decided_only_where_unknown_children_cannot_change_it() -> None:
    rule = 'ALARM("a") OR ALARM("b")'
    assert composite_state_known(rule, {"a": State.ALARM, "b": None}) is State.ALARM
    assert composite_state_known(rule, {"a": State.OK, "b": None}) is None
    assert composite_state_known(rule, {"a": State.OK, "b": State.INSUFFICIENT_DATA}) is State.OK
