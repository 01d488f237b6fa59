"""Nothing the collector keeps is destroyed with the stack: table, logs, key, and the failure queue."""

from __future__ import annotations

from tests.cdk.support import Synth


def test_the_failure_queue_outlives_the_stack(any_synth: Synth) -> None:
    """It may hold events no invocation could record; docs/deploy.md says how to drain it first."""
    _, queue = any_synth.collector("AWS::SQS::Queue")  # the trail's holds failed runs' requests only
    assert queue["DeletionPolicy"] == "Retain"
    assert queue["UpdateReplacePolicy"] == "Retain"
