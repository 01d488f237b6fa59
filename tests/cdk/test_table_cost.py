"""Issue 11's counted limits, on what the collector really emits and stores and what the stack deploys.

* custom metrics: the distinct (name, dimension values) in the EMF the real pipeline writes for
  every kind of delivery (bench/emitted.py: new inbound, outbound and unknown-direction messages,
  truncated ones, redeliveries, conflicts, invalid payloads; with enrichment also attachments,
  failed authentication and unreadable messages): at most 12 by default, 26 with enrichment;
* write units and bytes stored per new event: the measured items (DynamoDB Local, DynamoDB's size
  rules) against the global secondary indexes of the synthesized table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.billing import stored_bytes, write_units
from bench.emitted import DEFAULT, ENRICHMENT, Measurement, client, create_table, measure
from bench.template import facts
from collector.metrics import DIRECTIONS, PER_FLOW, catalog_for, custom_metrics, features_for
from collector.store.schema import IndexSpec
from tests.cdk.support import Synth
from tests.conftest import run

NEW_KINDS = ("inbound", "outbound", "unknown", "truncated", "invalid")


@pytest.fixture(scope="module")
def default_run(dynamodb_local: str) -> Measurement:
    return measure(DEFAULT, dynamodb_local, warm=False)  # what each kind emits; no CPU timing


@pytest.fixture(scope="module")
def enriched_run(dynamodb_local: str) -> Measurement:
    return measure(ENRICHMENT, dynamodb_local, warm=False)


@pytest.fixture(scope="module")
def indexes(default_synth: Synth) -> tuple[IndexSpec, ...]:
    """The audit table's global secondary indexes as the stack deploys them."""
    return facts(default_synth.json).indexes


def all_series(measurement: Measurement) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return set().union(*(e.series for e in measurement.kinds.values()))


def test_default_deployment_emits_at_most_12_custom_metrics_with_all_three_directions_seen(
    default_run: Measurement,
) -> None:
    seen = all_series(default_run)
    assert len(seen) <= 12
    assert len(seen) == custom_metrics(catalog_for(frozenset()))  # nothing outside the catalog
    per_flow = {(name, dict(dims)["FlowDirection"]) for _, name, dims in seen if len(dims) == len(PER_FLOW)}
    assert per_flow == {(name, d) for name in ("Messages", "Recipients") for d in DIRECTIONS}
    for kind, direction in (("inbound", "INBOUND"), ("outbound", "OUTBOUND"), ("unknown", "UNKNOWN")):
        flows = {dict(dims).get("FlowDirection") for _, _, dims in default_run.kinds[kind].series}
        assert flows == {direction}, kind
    assert len(default_run.kinds["duplicate"].series) == 1  # DuplicateInvocations under [Service]


def test_enrichment_emits_at_most_26_custom_metrics(enriched_run: Measurement) -> None:
    seen = all_series(enriched_run)
    assert len(seen) <= 26
    assert len(seen) == custom_metrics(catalog_for(features_for(True)))


def test_a_new_event_costs_two_write_units_and_at_most_half_again_its_stored_bytes(
    default_run: Measurement, indexes: tuple[IndexSpec, ...]
) -> None:
    assert len(indexes) == 1 and indexes[0].projection is not None
    for kind in NEW_KINDS:
        item = default_run.kinds[kind].item
        assert item is not None, kind
        assert write_units(item, indexes) <= 2, kind
        table, index = stored_bytes(item, indexes)
        assert (table + index) / table <= 1.5, (kind, table, index)


@pytest.fixture
def by_recipients(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Items the pipeline stores for messages with 1 to 5 recipients, read back from DynamoDB Local."""
    from collector.config import Settings
    from collector.model import Invocation
    from collector.runtime import build_pipeline
    from collector.sampling import generate_events

    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # bench's client: DynamoDB Local keys by them
        monkeypatch.setenv(name, "local")
    table = create_table(dynamodb_local)
    events = [generate_events(recipients=n, seed=n)[0] for n in range(1, 6)]

    async def body() -> None:
        pipeline = await build_pipeline(Settings(store="dynamodb", table_name=table), lambda _: None)
        try:
            for event in events:
                await pipeline.process(event, Invocation(str(uuid.uuid4()), "$LATEST", datetime.now(UTC)))
        finally:
            await pipeline.close()

    run(body())
    dynamodb = client(dynamodb_local)
    yield [
        dynamodb.get_item(TableName=table, Key={"invocationId": {"S": e["invocationId"]}})["Item"]
        for e in events
    ]


def test_one_to_five_recipients_stay_within_two_write_units(
    by_recipients: list[dict[str, Any]], indexes: tuple[IndexSpec, ...]
) -> None:
    for item in by_recipients:
        assert write_units(item, indexes) == 2
