"""DynamoDB reads a time range day by day: listing the days must not step past the calendar's first
day, and a range too long is refused before any day is listed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from collector.store import Query, StoreError
from collector.store.dynamodb import MAX_RANGE_DAYS, DynamoDbStore, _days_newest_first
from tests.conftest import run


def test_a_range_from_the_first_day_lists_its_days_without_overflow() -> None:
    days = _days_newest_first(datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 3, 12, tzinfo=UTC))
    assert days == [date(1, 1, 3), date(1, 1, 2), date(1, 1, 1)]


def test_a_range_longer_than_ten_years_is_refused_before_any_request() -> None:
    store = DynamoDbStore.__new__(DynamoDbStore)  # no client: the range is refused before one is used
    query = Query(since=datetime(1, 1, 1, tzinfo=UTC), until=datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(StoreError, match=f"at most {MAX_RANGE_DAYS} days"):
        run(store.query(query))
