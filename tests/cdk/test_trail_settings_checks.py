"""Trail settings S3 or Athena would refuse at deploy are refused at synth, in one line naming the
setting: a transition to an IA class before 30 days, and a first day that is no real day or has
not come yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdk.settings import SettingsError, StackSettings
from tests.cdk.support import ORG_ID


def settings(**context: Any) -> StackSettings:
    return StackSettings.from_context({"organizationId": ORG_ID, "trail": "true", **context}.get)


@pytest.mark.parametrize("days", ["1", "29"])
def test_standard_ia_before_thirty_days_is_refused(days: str) -> None:
    with pytest.raises(SettingsError, match=r"^context value trailColdAfterDays must be at least 30 with "):
        settings(trailColdAfterDays=days, trailColdStorageClass="STANDARD_IA")
    with pytest.raises(SettingsError, match="trailColdAfterDays must be at least 30"):
        settings(trailColdAfterDays=days)  # STANDARD_IA is the default class


@pytest.mark.parametrize(
    ("days", "storage"),
    [
        ("0", "STANDARD_IA"),
        ("30", "STANDARD_IA"),
        ("0", "GLACIER_IR"),
        ("1", "GLACIER_IR"),
        ("1", "INTELLIGENT_TIERING"),
    ],
)
def test_what_s3_takes_is_taken(days: str, storage: str) -> None:
    trail = settings(trailColdAfterDays=days, trailColdStorageClass=storage).trail
    assert (trail.cold_after_days, trail.cold_storage_class) == (int(days), storage)


@pytest.mark.parametrize("day", ["2026-02-30", "2025-13-01", "2025-W10-1", "20250310"])
def test_a_start_day_that_is_no_day_is_refused(day: str) -> None:
    with pytest.raises(SettingsError, match=r"^context value trailStartDay must be a UTC day as YYYY-MM-DD"):
        settings(trailStartDay=day)


def test_a_start_day_in_the_future_is_refused() -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    with pytest.raises(SettingsError, match=r"^context value trailStartDay must not be in the future"):
        settings(trailStartDay=tomorrow)
    today = datetime.now(UTC).date().isoformat()
    assert settings(trailStartDay=today).trail.start_day == today
