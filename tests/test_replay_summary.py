"""What `replay` says and where its EMF documents go: its own EMF documents in the input are
skipped (one line), the summary sums the metrics of every source it saw, and on a terminal the
EMF documents go to a file the summary names instead of flooding the screen."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from pathlib import Path

import orjson

from collector.sampling import generate_events
from tests.conftest import ROOT
from tests.emf import sum_metric
from tests.test_cli import SCRIPT, cli

EVENTS = generate_events(count=4, seed=86)


def jsonl(events: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def test_the_collectors_own_emf_documents_are_skipped_with_one_line(tmp_path: Path) -> None:
    """`replay ... > all.jsonl` then replaying all.jsonl (events and EMF mixed) quarantined the
    EMF documents as invalid events."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl(EVENTS))
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "first.sqlite3")}
    first = cli("replay", str(events), env=env)
    assert first.returncode == 0, first.stderr
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(events.read_text() + first.stdout)
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "second.sqlite3")}
    again = cli("replay", str(mixed), env=env)
    assert again.returncode == 0, again.stderr
    assert f"processed {len(EVENTS)}: recorded {len(EVENTS)}" in again.stderr
    assert "invalid 0" in again.stderr and sum_metric(again.stdout.splitlines(), "InvalidEvents") == 0
    (line,) = [x for x in again.stderr.splitlines() if "EMF document" in x and "skipped" in x]
    assert f"skipped {len(EVENTS)} EMF documents" in line and str(mixed) in line


def test_an_emf_document_of_another_namespace_is_an_invalid_event(tmp_path: Path) -> None:
    other = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Other", "Metrics": []}]}}
    path = tmp_path / "other.json"
    path.write_bytes(orjson.dumps(other))
    result = cli("replay", str(path), env={"COLLECTOR_SQLITE_PATH": str(tmp_path / "a.sqlite3")})
    assert result.returncode == 0, result.stderr
    assert "invalid 1" in result.stderr and "skipped" not in result.stderr


def test_the_summary_sums_the_metrics_of_every_source_in_the_input(tmp_path: Path) -> None:
    """With COLLECTOR_SOURCES left at workmail, SES events were counted but their metrics left out."""
    generated = cli(
        "generate-event", "--source", "ses", "--ses-event", "bounce", "-n", "2", "--recipients", "3"
    )
    assert generated.returncode == 0, generated.stderr
    path = tmp_path / "bounces.jsonl"
    path.write_text(generated.stdout)
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3"), "COLLECTOR_SOURCES": "workmail"}
    result = cli("replay", str(path), env=env)
    assert result.returncode == 0, result.stderr
    (sums,) = [x for x in result.stderr.splitlines() if x.startswith("EMF metric sums")]
    assert "SesBounces 6" in sums, sums
    workmail_only = cli("replay", "samples/", env={"COLLECTOR_SQLITE_PATH": str(tmp_path / "wm.sqlite3")})
    assert "SesBounces" not in workmail_only.stderr


def test_on_a_terminal_emf_documents_go_to_a_file_the_summary_names(tmp_path: Path) -> None:
    """72 EMF lines scrolled the README's example off the screen."""
    store = tmp_path / "store" / "audit.sqlite3"
    store.parent.mkdir()  # an explicit --db names a file in a folder that exists
    primary, secondary = pty.openpty()
    screen = bytearray()

    def read_screen() -> None:  # a terminal that nobody reads blocks its writer
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # closed and drained
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read_screen)
    reader.start()
    try:
        done = subprocess.run(
            [str(SCRIPT), "replay", "samples/", "--db", str(store)],
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
            timeout=120,
        )
    finally:
        os.close(secondary)
        reader.join(timeout=10)
        os.close(primary)
    assert done.returncode == 0, done.stderr
    assert b"_aws" not in screen
    (named,) = [x for x in done.stderr.splitlines() if x.startswith("EMF documents:")]
    path = Path(named.split(" written to ", 1)[1].split(" (", 1)[0])
    assert path.parent == store.parent and path.suffix == ".jsonl"
    assert sum_metric(path.read_text().splitlines(), "Messages") == 65


def test_the_summary_warns_when_most_of_the_input_was_invalid(tmp_path: Path) -> None:
    junk = tmp_path / "package.json"
    junk.write_bytes(b"".join(orjson.dumps({"name": f"p{n}"}) + b"\n" for n in range(5)) + jsonl(EVENTS[:1]))
    env = {"COLLECTOR_SQLITE_PATH": str(tmp_path / "audit.sqlite3")}
    result = cli("replay", str(junk), "--emf-out", str(tmp_path / "emf.jsonl"), env=env)
    assert result.returncode == 0, result.stderr
    (warning,) = [x for x in result.stderr.splitlines() if x.startswith("warning:")]
    assert "5 of 6" in warning and "audit purge-invalid" in warning
    fine = cli("replay", "samples/", "--emf-out", str(tmp_path / "emf2.jsonl"), env=env)
    assert "warning:" not in fine.stderr


def test_dry_run_says_what_would_be_recorded_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store" / "audit.sqlite3"
    db.parent.mkdir()  # an explicit --db names a file in a folder that exists
    result = cli("replay", "samples/", "--dry-run", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and not any(db.parent.iterdir())
    assert "dry run: 72 events" in result.stderr, result.stderr
    # 44 + 5 redeliveries inbound: a dry run reads no trail, so it cannot tell a duplicate
    assert "valid 70 (INBOUND 49, OUTBOUND 21, UNKNOWN 0), invalid 2" in result.stderr, result.stderr
    assert "nothing was written" in result.stderr
