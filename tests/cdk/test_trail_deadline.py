"""TrailExportFailed's deadline and the settings that leave none, against the exporter's real window.

A scheduled run exports from `today - max(trailExportDays - 1, 1)` to yesterday
(collector/trail_handler.py `days_to_export`): trailExportDays=1 reaches back as far as 2 does. A
day D is last re-read by the run on D + reach; its first records expire at D + retentionDays. So a
day the runs no longer reach has `retentionDays - reach - 1` days left for a re-export by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from cdk.settings import SettingsError, StackSettings, export_reach_days
from cdk.trail import export_failed
from collector.trail_handler import days_to_export
from tests.cdk.support import ORG_ID


@pytest.mark.parametrize("export_days", range(1, 15))
def test_the_reach_is_the_exporters_own_window(export_days: int) -> None:
    now = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
    first, _ = days_to_export({}, export_days, now)
    assert now.date() - first == timedelta(days=export_reach_days(export_days))


@pytest.mark.parametrize(
    ("hot_days", "export_days", "says"),
    [
        (7, 1, "within about 5 more days,"),  # the runs reach yesterday only, as with 2
        (7, 2, "within about 5 more days,"),
        (7, 3, "within about 4 more days,"),
        (3, 1, "within about 1 more day,"),
        (8, 7, "within about 1 more day,"),
    ],
)
def test_the_alarms_deadline_counts_the_days_the_runs_really_reach(
    hot_days: int, export_days: int, says: str
) -> None:
    queue = sqs.Queue(Stack(App(), "Bare"), "Failures")
    assert says in export_failed(queue, hot_days=hot_days, export_days=export_days).what


def settings(**context: str) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get)


@pytest.mark.parametrize(
    ("retention", "export_days"), [("2", "1"), ("2", "2"), ("3", "3"), ("7", "7"), ("1", "1")]
)
def test_settings_that_leave_no_day_to_re_export_are_refused(retention: str, export_days: str) -> None:
    with pytest.raises(SettingsError, match=f"context value retentionDays \\({retention}\\) must be"):
        settings(retentionDays=retention, trailExportDays=export_days)


@pytest.mark.parametrize(("retention", "export_days"), [("3", "1"), ("3", "2"), ("8", "7"), ("0", "14")])
def test_settings_that_leave_a_day_are_accepted(retention: str, export_days: str) -> None:
    assert settings(retentionDays=retention, trailExportDays=export_days).retention_days == int(retention)
