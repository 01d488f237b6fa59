"""Validation of EMF documents: the specification's schema plus the rules a schema cannot say."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson

SCHEMA_PATH = Path(__file__).parent / "data" / "emf_schema.json"
MAX_DOCUMENT_BYTES = 256 * 1024 - 26  # the largest CloudWatch Logs event, less its per-event overhead


@cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(orjson.loads(SCHEMA_PATH.read_bytes()))


def validate_document(line: str) -> dict[str, Any]:
    """Raise AssertionError unless `line` is one valid EMF document; return it parsed."""
    assert len(line.encode()) <= MAX_DOCUMENT_BYTES, "EMF document larger than CloudWatch Logs accepts"
    document: dict[str, Any] = orjson.loads(line)
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, f"EMF schema violations: {[e.message for e in errors]}"
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                # Target members: every referenced dimension must be a string on the root node.
                assert isinstance(document.get(name), str), f"dimension {name} has no string value"
        assert len(directive["Metrics"]) <= 100, "more than 100 metrics in one document"
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            assert values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), (
                f"metric {metric['Name']} has no numeric value"
            )
    return document


def sum_metric(lines: list[str], name: str, **dimensions: str) -> float:
    """Sum a metric over documents, as CloudWatch's Sum statistic would for one dimension set."""
    total = 0.0
    for line in lines:
        document = validate_document(line)
        if all(document.get(k) == v for k, v in dimensions.items()):
            value = document.get(name, 0)
            total += sum(value) if isinstance(value, list) else value
    return total
