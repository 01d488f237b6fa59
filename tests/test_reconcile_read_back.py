"""The scheduled reconcile sends only corrections a later scheduled run will read back.

A correction whose answer was lost is checked once CloudWatch would show it (`visible_after`: two
hours for yesterday, two days for older days). The scheduled run covers COLLECTOR_RECONCILE_DAYS
days ending yesterday, once a day; a correction of a day that has left that window by then would
never be checked, so a lost one would stay lost. Such a day's difference is reported, not written.
Against moto's CloudWatch over HTTP, behind a proxy that loses answers (tests/lost_answer.py).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

import pytest

from collector.reconcile import Outcome, read_back_due, reconcile, visible_after
from collector.reconcile_handler import MAX_SCHEDULED_DAYS, scheduled_days
from collector.store import AuditStore
from tests.conftest import Backend, run
from tests.lost_answer import lossy_cloudwatch
from tests.test_reconcile import TODAY, Names, options, publish, record
from tests.test_reconcile_lost_answer import clients, names
from tests.test_store_contract import with_store

__all__ = ["names"]  # the fixture

SCHEDULED = time(1, 30)  # cdk/reconcile.py: every day at 01:30 UTC
RUN = datetime.combine(TODAY, SCHEDULED, tzinfo=UTC)


def covered(run_at: datetime, window: int) -> tuple[date, date]:
    return scheduled_days({"COLLECTOR_RECONCILE_DAYS": str(window)}, run_at.date() - timedelta(days=1))


@pytest.mark.parametrize("window", range(1, MAX_SCHEDULED_DAYS + 1))
@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=1), timedelta(minutes=59)])
def test_every_correction_the_schedule_sends_is_read_back_inside_its_window(
    window: int, late: timedelta
) -> None:
    """For every day a run covers: if it sends, the first later run (daily, each up to an hour
    late) that comes once the point would show still covers that day."""
    sent = RUN + late
    first, _ = covered(sent, window)
    for offset in range(window):
        day = first + timedelta(days=offset)
        if not read_back_due(day, sent, window):
            continue
        due = sent + visible_after(day, sent)
        # The latest run that reads it back: the first whose earliest start comes after `due`,
        # starting as late as it may.
        n = next(n for n in range(1, 10) if RUN + timedelta(days=n) >= due)
        since, until = covered(RUN + timedelta(days=n, minutes=59), window)
        assert since <= day <= until, (day, sent, n)


def test_the_default_window_sends_yesterdays_and_the_day_befores() -> None:
    """Five days: yesterday (read back two hours later) and the day before (two days later)."""
    first, last = covered(RUN, 5)
    sent = [d for d in (first + timedelta(days=n) for n in range(5)) if read_back_due(d, RUN, 5)]
    assert sent == [last - timedelta(days=1), last]
    assert read_back_due(first, RUN, None)  # a person's run: they run the next check


def test_a_correction_the_schedule_could_not_read_back_is_reported_not_sent(
    sqlite_backend: Backend, moto_endpoint: str, names: Names
) -> None:
    old, recent = TODAY - timedelta(days=3), TODAY - timedelta(days=2)

    async def body(store: AuditStore) -> None:
        with lossy_cloudwatch(moto_endpoint, mode="swallow") as lossy:
            async with clients(moto_endpoint, lossy.url) as (client, writer):
                for day in (old, recent):
                    lines = await record(store, names, day)
                    await publish(client, lines[1:])  # the first inbound count is lost
                scheduled = options(names, fix=True, since=old, until=recent, window_days=5)
                first = await reconcile(store, client, scheduled, RUN, writer)
                outcomes = {(c.day, c.outcome) for c in first.corrections}
                assert outcomes == {(old, Outcome.NO_READ_BACK), (recent, Outcome.UNKNOWN)}
                assert not first.ok and len(lossy.puts) == 2  # the recent day's two, answers lost
                refused = next(c for c in first.corrections if c.outcome is Outcome.NO_READ_BACK)
                assert f"reconcile --since {old} --fix" in refused.note
                assert any("not written (no read-back)" in line for line in first.verdict())

                # Two days later the recent day is still covered: its lost answer is caught. A
                # correction sent now would be checked only after the day left the window: reported.
                lossy.mode = "pass"
                later = RUN + timedelta(days=2, minutes=1)
                window = dataclasses.replace(scheduled, since=covered(later, 5)[0], until=recent)
                assert window.since <= recent
                second = await reconcile(store, client, window, later, writer)
                assert {(c.day, c.outcome) for c in second.corrections} == {
                    (old, Outcome.NO_READ_BACK),
                    (recent, Outcome.NO_READ_BACK),
                }
                assert len(lossy.puts) == 2 and not second.ok  # the alarm's cue, with the command

                # A person's run (no window) sends both, once.
                by_hand = options(names, fix=True, since=old, until=recent)
                manual = await reconcile(store, client, by_hand, later, writer)
                assert {c.outcome for c in manual.corrections} == {Outcome.WRITTEN}
                assert len(lossy.puts) == 6

    run(with_store(sqlite_backend, body))
