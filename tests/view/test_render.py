"""`workmail-collector dashboard` as a user runs it: user mistakes in one line with exit code 2,
and the SES dashboards of a deployment whose sources include SES."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.view.conftest import Demo, cli


def ses_document(ms: int, **metrics: int) -> str:
    per_flow = {"Messages", "Recipients"}
    flow = [{"Name": n} for n in metrics if n in per_flow]
    totals = [{"Name": n} for n in metrics if n not in per_flow]
    directives = [
        {"Namespace": "WorkMailCollector", "Dimensions": [dims], "Metrics": listed}
        for dims, listed in ((["Service", "Source", "FlowDirection"], flow), (["Service"], totals))
        if listed
    ]
    body = {"Service": "svc", "Source": "SES", "FlowDirection": "OUTBOUND", **metrics}
    return orjson.dumps({**body, "_aws": {"Timestamp": ms, "CloudWatchMetrics": directives}}).decode()


def test_ses_sources_render_the_ses_section(tmp_path: Path) -> None:
    emf = tmp_path / "ses.jsonl"
    emf.write_text(
        "\n".join(
            [
                ses_document(1_796_000_000_000, Messages=1, Recipients=3),
                ses_document(1_796_000_060_000, SesDeliveries=2, SesBounces=1),
                "a log line that is not EMF",
            ]
        )
    )
    done = cli("dashboard", "--emf", str(emf), "--out", str(tmp_path / "out"), "--sources", "ses")
    assert done.returncode == 0, done.stderr
    pages = [Path(p) for p in done.stdout.splitlines()]
    assert [p.name for p in pages] == ["SesCollector-MailFlow.html", "SesCollector-Operations.html"]
    html = pages[0].read_text()
    assert 'data-title="SES totals for the selected time range"' in html
    assert 'data-label="SesDeliveries" data-value="2.0"' in html
    assert 'data-label="SesBounces" data-value="1.0"' in html
    assert "1 lines without a metric left out" in html
    assert "AWS/WorkMail" not in html  # no WorkMail source, no coverage against it


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--emf", "missing.jsonl"], "cannot read missing.jsonl"),
        (["--emf", "README.md"], "no metrics of namespace WorkMailCollector"),
        (["--emf", "{emf}", "--namespace", "Other"], "no metrics of namespace Other"),
        (["--emf", "{emf}", "--range", "three hours"], "not an ISO 8601 duration"),
        (["--emf", "{emf}", "--sources", "imap"], "--sources must name"),
        (["--emf", "{emf}", "--out", "/proc/no/such"], "cannot create /proc/no/such"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    demo: Demo, tmp_path: Path, args: list[str], says: str
) -> None:
    full = [a.replace("{emf}", str(demo.emf)) for a in args]
    if "--out" not in full:
        full += ["--out", str(tmp_path / "out")]
    done = cli("dashboard", *full)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_shorter_range_keeps_the_same_totals(demo: Demo, tmp_path: Path) -> None:
    done = cli("dashboard", "--emf", str(demo.emf), "--out", str(tmp_path), "--range", "PT1H")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / demo.page("-MailFlow.html").name).read_text()
    assert 'data-label="Messages inbound" data-value="44.0"' in html
    assert "(1 h)" in html


def test_documents_of_several_services_need_one_named(tmp_path: Path) -> None:
    emf = tmp_path / "two.jsonl"
    first = ses_document(1_796_000_000_000, Messages=1)
    second = first.replace('"Service":"svc"', '"Service":"other"')
    emf.write_text(f"{first}\n{second}\n")
    out = str(tmp_path / "out")
    done = cli("dashboard", "--emf", str(emf), "--out", out, "--sources", "ses")
    assert done.returncode == 2 and "several services (other, svc): pick one with --service" in done.stderr
    chosen = cli("dashboard", "--emf", str(emf), "--out", out, "--sources", "ses", "--service", "other")
    assert chosen.returncode == 0, chosen.stderr
