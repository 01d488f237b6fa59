"""CloudWatch statistics over the raw values of one period (Statistics-definitions.html).

Sum, SampleCount, Average, Minimum, Maximum and percentiles pNN / pNN.N. CloudWatch computes
percentiles from its stored distribution (approximate for large sets); here they are exact
(nearest rank) over the raw values the EMF documents carry. Trimmed means, interquartile means and
the other extended statistics are refused, never guessed.
"""

from __future__ import annotations

import math
import re

from collector.view.mathexpr import Unsupported

PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?|100)")


def check(stat: str) -> str:
    if stat in ("Sum", "SampleCount", "Average", "Minimum", "Maximum") or PERCENTILE.fullmatch(stat):
        return stat
    raise Unsupported(f"the statistic {stat}")


def statistic(stat: str, values: list[float]) -> float:
    """The statistic of a non-empty list of values."""
    if stat == "Sum":
        return math.fsum(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Average":
        return math.fsum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    match = PERCENTILE.fullmatch(stat)
    if match is None:
        raise Unsupported(f"the statistic {stat}")
    if min(values) < 0:  # CloudWatch returns no percentile for such a period
        raise Unsupported("a percentile of negative values")
    ordered = sorted(values)
    rank = max(1, math.ceil(float(match.group(1)) / 100 * len(ordered)))
    return ordered[rank - 1]
