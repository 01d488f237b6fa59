"""The alarm evaluator the tests judge the stack's alarms with: the product's own (collector/view),
which the dashboard pages use too, so the tests and the pages agree on what an alarm does."""

from __future__ import annotations

from collector.view.alarms import (
    TOKEN,
    AlarmConfig,
    MetricRef,
    State,
    Undocumented,
    composite_state,
    decide,
    evaluate,
    first_alarm,
    judged_series,
)
from collector.view.mathexpr import Parser, Series, Unsupported, Value, evaluate_expression, tokenize

__all__ = [
    "TOKEN",
    "AlarmConfig",
    "MetricRef",
    "Parser",
    "Series",
    "State",
    "Undocumented",
    "Unsupported",
    "Value",
    "composite_state",
    "decide",
    "evaluate",
    "evaluate_expression",
    "first_alarm",
    "judged_series",
    "tokenize",
]
