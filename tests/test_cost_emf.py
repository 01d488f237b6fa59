"""EMF bytes: only what a reader uses; and the bill's reference design is what 5a284cb really wrote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.billing import legacy_document
from bench.traffic import PROFILE, Mix, hours_with_data
from collector.config import Settings
from collector.metrics import EmfWriter, features_for
from collector.model import Invocation, Outcome
from collector.pipeline import Pipeline
from collector.sampling import generate_events
from collector.store.sqlite import SqliteStore
from tests.conftest import run
from tests.emf import validate_document

OLD = json.loads((Path(__file__).parent / "data" / "emf-5a284cb.json").read_text())
RECEIVED = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
# What the saved Logs Insights queries read (dashboards/queries.py) besides the metrics themselves.
READ_BY_QUERIES = {"invocationId", "status", "messageId", "requestId"}


def emitted(tmp_path: Path, cases: list[dict[str, Any]]) -> list[tuple[str, Outcome]]:
    """The current collector's EMF lines and outcomes for the given deliveries (SQLite store)."""
    lines: list[str] = []
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "audit.sqlite3", service="WorkMailCollector")

    async def body() -> list[Outcome]:
        store = SqliteStore(settings.sqlite_path)
        pipeline = Pipeline(store, EmfWriter(settings.namespace, settings.service, lines.append), settings)
        try:
            return [
                await pipeline.process(c["event"], Invocation(c["requestId"], "$LATEST", RECEIVED))
                for c in cases
            ]
        finally:
            await store.close()

    outcomes = run(body())
    return [(line.rstrip("\n"), outcome) for line, outcome in zip(lines, outcomes, strict=True)]


def test_a_new_message_carries_its_dimensions_the_queries_fields_and_its_metrics_only(tmp_path: Path) -> None:
    (event,) = generate_events(direction="OUTBOUND", recipients=3, seed=5)
    ((line, _),) = emitted(tmp_path, [{"event": event, "requestId": "r-1"}])
    document = validate_document(line)
    assert set(document) == {
        "Service",
        "Source",
        "FlowDirection",
        *READ_BY_QUERIES,
        "Messages",
        "Recipients",
        "_aws",
    }
    assert set(document["_aws"]) == {"Timestamp", "CloudWatchMetrics"}
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "Messages"}, {"Name": "Recipients"}]  # Count: no unit written


def test_a_redelivery_carries_its_source_but_no_direction(tmp_path: Path) -> None:
    (event,) = generate_events(seed=6)
    lines = emitted(
        tmp_path, [{"event": event, "requestId": "r-1"}, {"event": dict(event), "requestId": "r-2"}]
    )
    document = validate_document(lines[1][0])
    # Every document names its source (WorkMail and SES side by side); FlowDirection only with a
    # per-flow metric.
    assert set(document) == {"Service", "Source", *READ_BY_QUERIES, "DuplicateInvocations", "_aws"}
    assert document["Source"] == "WorkMail"
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]]


def test_units_other_than_count_are_still_written() -> None:
    from collector.model import Direction, Enrichment, Status

    writer = EmfWriter("WorkMailCollector", "svc", lambda _: None, features_for(True))
    outcome = Outcome(
        Status.RECORDED,
        "k",
        Direction.INBOUND,
        recipient_count=1,
        enrichment=Enrichment(True, 2048, 0, frozenset()),
    )
    document = orjson.loads(writer.line(outcome, Invocation("r", "$LATEST", RECEIVED)))
    listed = [m for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert {"Name": "MessageBytes", "Unit": "Bytes"} in listed
    assert all("Unit" not in m for m in listed if m["Name"] != "MessageBytes")


def test_the_reference_design_rebuilds_exactly_what_5a284cb_wrote(tmp_path: Path) -> None:
    """bench/bill.py prices the old design from today's documents: byte for byte the old lines."""
    for (line, outcome), old in zip(emitted(tmp_path, OLD["cases"]), OLD["cases"], strict=True):
        rebuilt = legacy_document(json.loads(line), outcome.direction.value, frozenset())
        assert json.dumps(rebuilt, separators=(",", ":"), ensure_ascii=False) == old["line"]


def test_hours_with_data_grow_with_traffic_up_to_every_hour_of_the_month() -> None:
    assert abs(sum(PROFILE) - 1) < 1e-9 and len(PROFILE) == 168
    assert hours_with_data(0) == 0
    assert 0 < hours_with_data(0.1) < hours_with_data(10) < hours_with_data(10_000) <= 730
    assert hours_with_data(1e9) > 729.9
    # A rare series costs about one hour per data point: hourly proration at work.
    assert abs(hours_with_data(1) * 168 / 730 - 1) < 0.01


def test_the_delivery_mix_has_one_new_message_per_message() -> None:
    for enrich in (False, True):
        shares = Mix().per_message(enrich)
        new = [k for k in shares if k not in ("duplicate", "conflict", "invalid")]
        assert abs(sum(shares[k] for k in new) - 1) < 1e-12
