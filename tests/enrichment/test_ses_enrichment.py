"""With enrichment on and SES beside WorkMail, only WorkMail's messages are read through the
message-flow API: it knows no SES message, and SES sends its own verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config import Settings
from collector.model import Invocation, Status
from collector.runtime import build_pipeline
from collector.sampling import generate_events
from tests.conftest import run
from tests.emf import sum_metric
from tests.enrichment.flowserver import MessageFlowServer, message_reply
from tests.enrichment.mimecorpus import nested
from tests.public_samples import SES, load


def test_ses_events_are_never_read_through_the_message_flow_api(
    flow_server: MessageFlowServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW", flow_server.url)
    monkeypatch.setenv("COLLECTOR_ENRICH", "true")
    monkeypatch.setenv("COLLECTOR_SOURCES", "workmail,ses")
    monkeypatch.setenv("COLLECTOR_SQLITE_PATH", str(tmp_path / "audit.sqlite3"))
    workmail = generate_events(seed=61)[0]
    flow_server.add(workmail["messageId"], message_reply(nested().raw))
    receipt = load(SES / "aws-lambda-go-ses-lambda-event.json")
    receipt["Records"][0]["ses"]["receipt"]["spfVerdict"]["status"] = "FAIL"
    lines: list[str] = []

    async def body() -> None:
        pipeline = await build_pipeline(Settings.from_env(), lines.append)
        try:
            for n, event in enumerate([workmail, receipt]):
                outcome = await pipeline.process(event, Invocation(f"r{n}", "1", datetime.now(UTC)))
                assert outcome.status is Status.RECORDED
            ses_record = await pipeline.store.get("ses:6n4thuhcbhpfiuf25gshf70rss364fuejrvmqko1")
            workmail_record = await pipeline.store.get(workmail["invocationId"])
        finally:
            await pipeline.close()
        assert ses_record is not None and "enrichment" not in ses_record
        assert workmail_record is not None and workmail_record["enrichment"] == "OK"

    run(body())
    assert [r.message_id for r in flow_server.requests] == [workmail["messageId"]]
    assert sum_metric(lines, "EnrichmentFailures") == 0
    assert sum_metric(lines, "SpfFailures") == 1  # from SES's verdict, with no read
