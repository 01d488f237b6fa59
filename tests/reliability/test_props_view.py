"""Properties of the dashboard pages' EMF reading: any line is read without an exception, and a
metric's Sum over the range is the sum of every value the documents carry for it."""

from __future__ import annotations

import json
import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.view.alarms import MetricRef
from collector.view.emf import extract
from collector.view.widgets import Scope

VALUES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.lists(st.integers(0, 1000), min_size=1, max_size=100),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


DIRECTIVE = st.fixed_dictionaries(
    {},
    optional={
        "Namespace": st.one_of(st.just("NS"), JSON),
        "Dimensions": st.one_of(st.lists(st.lists(st.sampled_from(["Service", "D", "M"]))), JSON),
        "Metrics": st.one_of(st.lists(st.fixed_dictionaries({"Name": st.sampled_from(["M", "D"])})), JSON),
    },
)
DOCUMENT = st.fixed_dictionaries(
    {
        "_aws": st.fixed_dictionaries(
            {}, optional={"Timestamp": JSON, "CloudWatchMetrics": st.lists(DIRECTIVE)}
        )
    },
    optional={"Service": JSON, "D": JSON, "M": JSON},
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), JSON.map(json.dumps), DOCUMENT.map(json.dumps)), max_size=10))
def test_any_line_is_read_or_left_out(lines: list[str]) -> None:
    extracted = extract(lines)
    assert extracted.documents <= len(lines)
    for data in extracted.metrics.values():
        assert all(isinstance(v, float) and isinstance(t, float) for t, v in data.points)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 86_399_000), VALUES), min_size=1, max_size=30))
def test_the_sum_over_the_range_is_every_value(points: list[tuple[int, int | list[int]]]) -> None:
    directive = [{"Namespace": "NS", "Dimensions": [["Service"]], "Metrics": [{"Name": "M"}]}]
    lines = [
        orjson.dumps(
            {"Service": "s", "M": value, "_aws": {"Timestamp": ms, "CloudWatchMetrics": directive}}
        ).decode()
        for ms, value in points
    ]
    scope = Scope(extract(lines), "NS", end=86_400, seconds=86_400)
    expected = math.fsum(v for _, value in points for v in (value if isinstance(value, list) else [value]))
    got = scope.series(MetricRef("NS", "M", (("Service", "s"),), "Sum"), None)
    assert got == {0: expected}
    assert math.fsum(scope.series(MetricRef("NS", "M", (("Service", "s"),), "Sum"), 300).values()) == expected
