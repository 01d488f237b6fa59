"""Sync mode with enrichment: a budget that leaves enrichment no time after the handler's reserves is
refused at the cold start, instead of every record quietly saying enrichment TIMEOUT."""

from __future__ import annotations

import pytest

from collector.config import ConfigError, Settings

SYNC = {
    "COLLECTOR_RULE_MODE": "sync",
    "COLLECTOR_FAILURE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/failures",
}


@pytest.mark.parametrize("budget", ["0.5", "3", "4.5", "5.4"])
def test_a_budget_below_the_reserves_and_one_attempt_is_refused_naming_the_minimum(budget: str) -> None:
    env = {**SYNC, "COLLECTOR_ENRICH": "true", "COLLECTOR_SYNC_BUDGET_SECONDS": budget}
    with pytest.raises(ConfigError, match=r"COLLECTOR_SYNC_BUDGET_SECONDS must be at least 5\.5 with"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "env",
    [
        {**SYNC, "COLLECTOR_ENRICH": "true", "COLLECTOR_SYNC_BUDGET_SECONDS": "5.5"},
        {**SYNC, "COLLECTOR_ENRICH": "true"},  # the default, 12 s
        {**SYNC, "COLLECTOR_ENRICH": "false", "COLLECTOR_SYNC_BUDGET_SECONDS": "3"},  # nothing to enrich
        {"COLLECTOR_ENRICH": "true", "COLLECTOR_SYNC_BUDGET_SECONDS": "3"},  # async: the budget is unused
    ],
)
def test_budgets_that_leave_enrichment_time_or_need_none_are_accepted(env: dict[str, str]) -> None:
    Settings.from_env(env)
