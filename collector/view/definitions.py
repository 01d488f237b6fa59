"""The dashboards and alarms the stack deploys, as synthesized (data/*.json, written by
`python -m cdk.dashboard_export` and checked against the synth by tests/cdk), for one sources
setting, with the collector's namespace and `Service` value set to the ones being rendered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from collector.config import DEFAULT_NAMESPACE
from collector.metrics import SERVICE

VARIANTS = {
    frozenset({"WorkMail"}): "workmail",
    frozenset({"SES"}): "ses",
    frozenset({"WorkMail", "SES"}): "workmail+ses",
}


@dataclass(frozen=True)
class Definitions:
    variant: str
    dashboards: list[dict[str, Any]]  # {"name": ..., "body": {...}} in CloudWatch's body format
    alarms: dict[str, dict[str, Any]]  # alarm ARN placeholder -> CloudFormation properties


def variant_for(sources: frozenset[str]) -> str:
    if sources not in VARIANTS:
        raise KeyError(f"no dashboards are shipped for the sources {', '.join(sorted(sources))}")
    return VARIANTS[sources]


def load(sources: frozenset[str], namespace: str, service: str) -> Definitions:
    variant = variant_for(sources)
    exported = json.loads(resources.files("collector.view").joinpath("data", f"{variant}.json").read_text())
    was = (DEFAULT_NAMESPACE, exported["service"])
    now = (namespace, service)
    for dashboard in exported["dashboards"]:
        for widget in dashboard["body"]["widgets"]:
            rows = widget["properties"].get("metrics", [])
            widget["properties"]["metrics"] = [_row(row, was, now) for row in rows]
    alarms = {arn: _alarm(props, was, now) for arn, props in exported["alarms"].items()}
    return Definitions(variant, exported["dashboards"], alarms)


def _row(row: list[Any], was: tuple[str, str], now: tuple[str, str]) -> list[Any]:
    """A widget's metric row [namespace, name, dim, value, ..., {options}] moved to `now`."""
    if not row or not isinstance(row[0], str) or row[0] != was[0]:
        return row
    out = [now[0], *row[1:]]
    for i in range(2, len(out) - 1, 2):
        if out[i] == SERVICE and out[i + 1] == was[1]:
            out[i + 1] = now[1]
    return out


def _metric(metric: dict[str, Any], was: tuple[str, str], now: tuple[str, str]) -> dict[str, Any]:
    if metric.get("Namespace") != was[0]:
        return metric
    dimensions = [
        {"Name": d["Name"], "Value": now[1] if d["Name"] == SERVICE and d["Value"] == was[1] else d["Value"]}
        for d in metric.get("Dimensions", [])
    ]
    return {**metric, "Namespace": now[0], "Dimensions": dimensions}


def _alarm(props: dict[str, Any], was: tuple[str, str], now: tuple[str, str]) -> dict[str, Any]:
    if "MetricName" in props:
        return _metric(props, was, now)
    if "Metrics" not in props:
        return props
    queries = []
    for query in props["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            query = {**query, "MetricStat": {**stat, "Metric": _metric(stat["Metric"], was, now)}}
        queries.append(query)
    return {**props, "Metrics": queries}
