"""The trail bill's exporter model follows the exporter's schedule: a day written once it is over,
in parts of PART_ROWS records, as many runs as the busiest day needs, and cheap idle runs."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bench.template import BEFORE
from bench.traffic import DAYS_PER_MONTH, PROFILE, busiest_day_share
from bench.trail_cost import RUN_LIMIT_S, RUNS_PER_DAY, Writer, exporter_month, measure_starts
from collector.trail.layout import PART_ROWS

FACTS = replace(BEFORE, trail=True, retention_days=7, export_memory_mb=1769, export_days=3)
WRITER = Writer(bytes_per_record=110, writer_us=20.0, decode_us=6.0, compression="zstd")


def test_busiest_day_is_a_weekday_share_of_the_week() -> None:
    share = busiest_day_share()
    assert 1 / 7 < share < 1
    assert math.isclose(sum(PROFILE), 1.0)


def test_a_small_day_is_one_object_in_one_run() -> None:
    run = exporter_month(FACTS, records_per_day=1_000, index_bytes=128_000, writer=WRITER)
    assert run.parts_per_day == 1
    assert run.working_runs_per_day == 1
    assert run.heads == run.parts_per_day * DAYS_PER_MONTH  # one ETag check before each part's PUT


def test_a_big_day_takes_parts_and_several_runs() -> None:
    records = 10 * PART_ROWS
    run = exporter_month(FACTS, records_per_day=records, index_bytes=records * 128, writer=WRITER)
    assert run.parts_per_day == 10
    assert run.working_runs_per_day >= 2
    # every run of the busiest day fits the Lambda limit
    assert run.busiest_day_s / run.working_runs_per_day < RUN_LIMIT_S


def test_idle_runs_are_most_of_the_day_and_cost_no_pyarrow() -> None:
    idle_cpu, pyarrow_cpu = measure_starts(runs=1)
    assert idle_cpu > 0 and pyarrow_cpu > 0
    empty = exporter_month(FACTS, records_per_day=0, index_bytes=0, writer=WRITER)
    # a day without records is one empty part, written by one run; the other runs only LIST
    assert empty.parts_per_day == 1 and empty.working_runs_per_day == 1
    lists = DAYS_PER_MONTH * RUNS_PER_DAY * (FACTS.export_days - 1)
    assert empty.puts == pytest.approx(lists + DAYS_PER_MONTH)
    assert empty.seconds / (DAYS_PER_MONTH * RUNS_PER_DAY) < 5
