"""generate-event makes SES events of every kind, and replay records them: the command line as a
user runs it, in a subprocess."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from collector.events.detect import parse
from collector.model import EventType, MailEvent, Source
from collector.sampling_ses import SENDING_EVENTS, SES_EVENTS, generate_ses_events
from tests.emf import sum_metric
from tests.test_cli import cli

METRIC_OF = {
    "receipt": "Messages",
    "send": "Messages",
    "delivery": "SesDeliveries",
    "bounce": "SesBounces",
    "complaint": "SesComplaints",
    "delivery-delay": "SesDeliveryDelays",
}


@pytest.mark.parametrize("via", ["none", "sns", "eventbridge"])
def test_generated_ses_events_parse_as_the_kind_asked_for(via: str) -> None:
    for event in SES_EVENTS:
        if event == "receipt" and via != "none":
            continue
        generated = generate_ses_events(count=3, event=event, recipients=2, via=via, seed=5)
        parsed = [parse(e) for e in generated]
        assert all(isinstance(p, MailEvent) and p.source is Source.SES for p in parsed), parsed
        kinds = {p.event_type for p in parsed if isinstance(p, MailEvent)}
        expected = EventType.RECEIVED if event == "receipt" else EventType(SENDING_EVENTS[event][0])
        assert kinds == {expected}
        assert len({p.dedupe_key for p in parsed if isinstance(p, MailEvent)}) == 3


def test_generate_then_replay_every_ses_kind(tmp_path: Path) -> None:
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3"), "COLLECTOR_SOURCES": "workmail,ses"}
    files = []
    for n, event in enumerate(SES_EVENTS):
        via = ["none", "sns", "eventbridge"][n % 3] if event != "receipt" else "none"
        result = cli(
            "generate-event",
            "--source",
            "ses",
            "--ses-event",
            event,
            "--via",
            via,
            "-n",
            "4",
            "--recipients",
            "3",
            "--seed",
            str(n),
            *(["--verdict", "FAIL"] if event == "receipt" else []),  # receipts carry verdicts
        )
        assert result.returncode == 0, result.stderr
        files.append(tmp_path / f"{event}.jsonl")
        files[-1].write_text(result.stdout)
    emf = tmp_path / "emf.jsonl"
    replay = cli("replay", *map(str, files), "--emf-out", str(emf), env=env)
    assert replay.returncode == 0, replay.stderr
    total = 4 * len(SES_EVENTS)
    assert f"processed {total}: recorded {total}, duplicates 0 (conflicts 0), invalid 0" in replay.stderr
    lines = emf.read_text().splitlines()
    assert sum_metric(lines, "Messages", Source="SES", FlowDirection="INBOUND") == 4
    assert sum_metric(lines, "Messages", Source="SES", FlowDirection="OUTBOUND") == 4
    for event, metric in METRIC_OF.items():
        if metric != "Messages":
            assert sum_metric(lines, metric) == 4 * 3, event  # 3 recipients each
    assert sum_metric(lines, "SesRejects") == 4
    assert sum_metric(lines, "SpfFailures") == sum_metric(lines, "DmarcFailures") == 4  # --verdict FAIL

    again = cli("replay", *map(str, files), "--emf-out", str(tmp_path / "again.jsonl"), env=env)
    assert f"recorded 0, duplicates {total}" in again.stderr
    listing = cli("audit", "list", "--json", "--limit", "100", env=env)
    items = [orjson.loads(line) for line in listing.stdout.splitlines()]
    assert {i["source"] for i in items} == {"SES"} and len(items) == total


def test_a_user_mistake_in_ses_options_is_one_line_and_exit_2() -> None:
    result = cli("generate-event", "--source", "ses", "--via", "sns")
    assert result.returncode == 2 and "via applies to sending events only" in result.stderr
