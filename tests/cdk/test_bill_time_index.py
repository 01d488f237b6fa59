"""The bill reads the time index's mode from the synthesized stack: the collector's
COLLECTOR_TIME_INDEX, and the index consumer's memory and event source mapping when the stack has
them (bench/template.py); a stack given the consumer is priced in stream mode."""

from __future__ import annotations

import copy
from typing import Any

from bench.template import COLLECTOR_HANDLER, INDEX_HANDLER, TIME_INDEX_VARIABLE, facts
from tests.cdk.support import Synth


def collector(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The collector function (by its handler: the stack has other functions)."""
    (found,) = [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("Handler") == COLLECTOR_HANDLER
    ]
    return found


def test_the_bills_mode_is_the_collectors_environment(default_synth: Synth) -> None:
    _, function = collector(default_synth.json)
    variables = function["Properties"]["Environment"]["Variables"]
    assert facts(default_synth.json).time_index == variables.get(TIME_INDEX_VARIABLE, "record")


def test_the_stack_with_the_consumer_is_billed_in_stream_mode(default_synth: Synth) -> None:
    """The default template as the stream design makes it: the collector's variable, the consumer
    and its mapping (added here until the stack has them; after that, as synthesized)."""
    template = copy.deepcopy(default_synth.json)
    collector_id, _ = collector(template)
    resources = template["Resources"]
    resources[collector_id]["Properties"]["Environment"]["Variables"][TIME_INDEX_VARIABLE] = "stream"
    table_id, _ = default_synth.only("AWS::DynamoDB::Table")
    if not any(r.get("Properties", {}).get("Handler") == INDEX_HANDLER for r in resources.values()):
        resources["IndexConsumer"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": INDEX_HANDLER, "MemorySize": 256},
        }
        resources["IndexConsumerMapping"] = {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "IndexConsumer"},
                "EventSourceArn": {"Fn::GetAtt": [table_id, "StreamArn"]},
                "BatchSize": 10000,
                "MaximumBatchingWindowInSeconds": 60,
            },
        }
    stream = facts(template)
    assert stream.stream
    assert (stream.index_memory_mb, stream.index_batch_size, stream.index_batch_window_s) == (256, 10_000, 60)
    before = facts(default_synth.json)
    assert (stream.memory_mb, stream.indexes, stream.retention_days) == (
        before.memory_mb,
        before.indexes,
        before.retention_days,
    )
