"""The scheduled reconcile reads its settings as the CLI reads its flags: the same range for the
minimum coverage, the same form of the organization ID, refused at the start naming the variable."""

from __future__ import annotations

from datetime import date

import pytest

from collector.cli import parser
from collector.cli.reconcile import options_from
from collector.config import ConfigError, Settings
from collector.reconcile_handler import options_from_env

DAY = date(2026, 11, 30)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "500", "0", "-5", "100.5"])
def test_a_coverage_that_is_no_percentage_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="COLLECTOR_RECONCILE_MIN_COVERAGE must be a percentage"):
        options_from_env({"COLLECTOR_RECONCILE_MIN_COVERAGE": value}, Settings(), DAY)


@pytest.mark.parametrize("value", ["0.5", "75", "100"])
def test_a_percentage_is_taken(value: str) -> None:
    options = options_from_env({"COLLECTOR_RECONCILE_MIN_COVERAGE": value}, Settings(), DAY)
    assert options.min_coverage == float(value)


def test_a_negative_minimum_of_messages_is_refused() -> None:
    with pytest.raises(ConfigError, match="COLLECTOR_RECONCILE_MIN_MESSAGES must be at least 0"):
        options_from_env({"COLLECTOR_RECONCILE_MIN_MESSAGES": "-1"}, Settings(), DAY)


@pytest.mark.parametrize(
    "given", ["m-0123456789ABCDEF0123456789abcdef", "  M-0123456789abcdef0123456789ABCDEF\n"]
)
def test_the_organization_id_takes_the_same_form_as_on_the_command_line(given: str) -> None:
    scheduled = options_from_env({"COLLECTOR_WORKMAIL_ORGANIZATION_ID": given}, Settings(), DAY)
    args = parser().parse_args(["reconcile", "--organization-id", given, "--since", DAY.isoformat()])
    by_hand = options_from(args, Settings(), date(2026, 12, 1))
    assert scheduled.organization_id == by_hand.organization_id == "m-0123456789abcdef0123456789abcdef"


def test_a_blank_organization_id_is_none() -> None:
    assert (
        options_from_env({"COLLECTOR_WORKMAIL_ORGANIZATION_ID": "  "}, Settings(), DAY).organization_id
        is None
    )
