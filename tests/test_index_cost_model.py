"""The bill's model of the time index paged from the table's stream (bench/index_cost.py): the
template's mode is read from the collector's environment, the pages it prices are real pages of the
measured items (readable back, every record once), the batches follow the event source mapping's
shape, and a stream-mode bill has the consumer's lines instead of the per-record index writes."""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import index_cost
from bench.billing import (
    CONSUMER,
    PAGE_STORAGE,
    PAGE_WRITES,
    READS,
    WRITES_INDEXES,
    WRITES_TABLE,
    Design,
    Inputs,
    month,
)
from bench.emitted import DEFAULT, Measurement, measure
from bench.template import BEFORE, INDEX_HANDLER, facts
from bench.traffic import DAYS_PER_MONTH, ORGANIZATIONS, Mix, peak_hour_share
from collector.store import pages
from collector.store.schema import SHARD_ATTRIBUTE, TIME_INDEX, day_shard

pytestmark = pytest.mark.dynamodb

SMALL, MEDIUM, LARGE = ORGANIZATIONS
MIX = Mix()

# The parts of a synthesized template the bill reads, as the stack writes them (cdk/stack.py's
# collector, the index consumer and its event source mapping of PAGES-SPEC piece 4).
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "AuditTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": TIME_INDEX.name,
                        "KeySchema": [
                            {"AttributeName": TIME_INDEX.partition_key, "KeyType": "HASH"},
                            {"AttributeName": TIME_INDEX.sort_key, "KeyType": "RANGE"},
                        ],
                        "Projection": {
                            "ProjectionType": "INCLUDE",
                            "NonKeyAttributes": list(TIME_INDEX.projection or ()),
                        },
                    }
                ],
                "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                "TableClass": "STANDARD",
            },
        },
        "Function76856677": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "collector.handler.handler",
                "MemorySize": 256,
                "Environment": {"Variables": {"COLLECTOR_RETENTION_DAYS": "7"}},
                "LoggingConfig": {"SystemLogLevel": "WARN"},
            },
        },
        "IndexConsumerFunctionAB12CD34": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": INDEX_HANDLER, "MemorySize": 512},
        },
        "IndexConsumerStreamEF56": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "IndexConsumerFunctionAB12CD34"},
                "EventSourceArn": {"Fn::GetAtt": ["AuditTable", "StreamArn"]},
                "BatchSize": 5000,
                "MaximumBatchingWindowInSeconds": 30,
                "StartingPosition": "TRIM_HORIZON",
            },
        },
    }
}


def template(time_index: str | None) -> dict[str, Any]:
    out = copy.deepcopy(TEMPLATE)
    if time_index is not None:
        variables = out["Resources"]["Function76856677"]["Properties"]["Environment"]["Variables"]
        variables["COLLECTOR_TIME_INDEX"] = time_index
    return out


STREAM = replace(
    facts(template("stream")), index_memory_mb=256, index_batch_size=10_000, index_batch_window_s=60
)
RECORD = replace(STREAM, time_index="record")


@pytest.fixture(scope="module")
def measured(dynamodb_local: str) -> Measurement:
    return measure(DEFAULT, dynamodb_local, warm=False)  # the items each kind stores; no CPU timing


@pytest.fixture(scope="module")
def inputs(measured: Measurement) -> Inputs:
    lines = [e.emf_line for e in measured.kinds.values()]  # for the log's compression ratio
    return Inputs(replace(measured, mix_lines=lines, warm_cpu_ms=1.0), cold_cpu_ms=500.0)


def test_the_mode_is_the_collectors_environment() -> None:
    stream = facts(template("stream"))
    assert stream.stream and stream.time_index == "stream"
    assert (stream.index_memory_mb, stream.index_batch_size, stream.index_batch_window_s) == (512, 5000, 30)
    assert not facts(template(None)).stream  # no variable: the per-record index, as before
    assert not facts(template("record")).stream
    bare = template(None)
    for name in ("IndexConsumerFunctionAB12CD34", "IndexConsumerStreamEF56"):
        del bare["Resources"][name]
    design = facts(bare)  # no consumer in the template: the design's shape
    assert (design.index_memory_mb, design.index_batch_size, design.index_batch_window_s) == (256, 10_000, 60)


def test_pages_of_the_measured_items_hold_each_record_once(measured: Measurement) -> None:
    start = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)
    batch = index_cost.synthetic_items(measured, MIX, 500, start, 60.0, 7, random.Random(5))
    assert all(SHARD_ATTRIBUTE not in item for item in batch)  # the hot path's item in stream mode
    assert len({item["invocationId"] for item in batch}) == 500
    records = [index_cost.stream_record(item, index_cost.SEQUENCE_START + n) for n, item in enumerate(batch)]
    removed = [index_cost.stream_record(item, 1, removed=True) for item in batch[:50]]  # TTL: no page
    built = index_cost.consume(json.dumps({"Records": records + removed}))
    assert all(pages.is_page(page) for page in built)
    entries = [entry for page in built for entry in pages.expand(page)]
    assert sorted(e["invocationId"] for e in entries) == sorted(i["invocationId"] for i in batch)
    # a page per (shard, minute) the batch touches: 8 shards over the two minutes 60 s straddle
    assert {(p[SHARD_ATTRIBUTE], p["receivedAt"]) for p in built} == {
        (day_shard(i["receivedDay"], i["invocationId"]), pages.minute_of(i["receivedAt"])) for i in batch
    }
    figures = index_cost.measure_pages(built)
    assert figures["index_units"] == len(built)  # a page's index item is small: one unit
    assert figures["table_units"] < len(batch) / 5  # entries compress far below a unit each


def test_batches_follow_the_event_source_mappings_shape(measured: Measurement) -> None:
    consumers = {o.name: index_cost.consumer_month(STREAM, measured, o, MIX, 6.9) for o in ORGANIZATIONS}
    inserts = sum(index_cost.stored_kinds(measured, MIX).values())
    for organization in ORGANIZATIONS:
        consumer = consumers[organization.name]
        # INSERTs only: the mapping's filter keeps TTL's REMOVEs from the consumer
        stream_records = organization.messages_per_day * DAYS_PER_MONTH * inserts
        assert consumer.total("records") == pytest.approx(stream_records, rel=1e-6)
        assert consumer.total("entries") == pytest.approx(stream_records, rel=0.02)
        for hour, _ in consumer.hours:
            assert hour.batch.records <= min(STREAM.index_batch_size, consumer.payload_records)
    large = consumers[LARGE.name]
    assert large.payload_records < STREAM.index_batch_size  # 6 MB of stream records is the limit
    assert large.busiest().batch.records == large.payload_records
    busy = consumers[MEDIUM.name].busiest()
    rate = MEDIUM.messages_per_day * 7 * peak_hour_share() * inserts / 3600
    assert busy.batch.records == pytest.approx(1 + rate * STREAM.index_batch_window_s)
    assert 3600 / busy.batches == pytest.approx(busy.batch.records / rate)
    per_entry = [
        (c.total("table_units") + c.total("index_units")) / c.total("entries") for c in consumers.values()
    ]
    assert per_entry == sorted(per_entry, reverse=True)  # bigger batches, fuller pages
    assert per_entry[-1] < 0.2  # at 10 million a day: a fraction of the per-record index's 1


def test_a_stream_bill_has_the_consumers_lines_instead_of_the_index_writes(inputs: Inputs) -> None:
    for base in (RECORD, replace(RECORD, trail=False, retention_days=365)):  # trail=false gets it too
        record = month(Design("record", base, legacy_emf=False), inputs, LARGE, MIX)
        stream = month(
            Design("stream", replace(base, time_index="stream"), legacy_emf=False), inputs, LARGE, MIX
        )
        assert record.lines[WRITES_INDEXES] > 0 and record.lines[PAGE_WRITES] == record.lines[CONSUMER] == 0
        assert record.consumer is None and stream.consumer is not None
        assert stream.lines[WRITES_INDEXES] == 0
        assert 0 < stream.lines[PAGE_WRITES] < record.lines[WRITES_INDEXES] / 5
        assert 0 < stream.lines[CONSUMER] < 5
        assert stream.lines[PAGE_STORAGE] > 0
        assert stream.lines[WRITES_TABLE] == pytest.approx(record.lines[WRITES_TABLE])  # one unit a record
        assert stream.lines[READS] > 0
        assert stream.total < record.total


def test_the_record_mode_bill_is_unchanged(inputs: Inputs) -> None:
    """BEFORE's facts and a record-mode template price no page and no consumer."""
    for base in (BEFORE, RECORD):
        bill = month(Design("x", base, legacy_emf=False), inputs, MEDIUM, MIX)
        assert bill.lines[PAGE_WRITES] == bill.lines[CONSUMER] == bill.lines[PAGE_STORAGE] == 0


def test_the_consumers_billed_duration_follows_its_batches(measured: Measurement) -> None:
    consumer = index_cost.consumer_month(STREAM, measured, LARGE, MIX, 6.9)
    hour = consumer.busiest()
    cpu_ms = (hour.batch.records * consumer.cpu_us_per_record / 1000 + consumer.invocation_cpu_ms) * 6.9
    waited = math.ceil(hour.batch.pages / index_cost.BATCH_WRITE_ITEMS) * index_cost.WRITE_ROUND_TRIP_MS
    assert cpu_ms + waited - 1e-6 <= hour.billed_ms < cpu_ms + waited + 1  # rounded up to the ms
    assert consumer.gb_seconds == pytest.approx(
        sum(n * h.batches * h.billed_ms for h, n in consumer.hours) / 1000 * 256 / 1024
    )


def test_the_per_batch_cost_is_a_warm_invocations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured through the handler's own container (its kept loop and client), which is left as
    it was found: the measure opens its own and closes them."""
    import collector.handler as collector_handler
    import collector.index_handler as consumer

    monkeypatch.setattr(index_cost, "_INVOCATION", [])
    before = (collector_handler._loop, consumer._clients)
    assert index_cost.invocation_cpu(runs=2) > 0
    assert (collector_handler._loop, consumer._clients) == before
