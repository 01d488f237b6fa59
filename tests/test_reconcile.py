"""reconcile against real engines: the audit trail on SQLite and DynamoDB Local, metrics in moto's
CloudWatch (PutMetricData, GetMetricData over HTTP on 127.0.0.1).

Records come from the real pipeline; its EMF documents are put into CloudWatch the way CloudWatch
Logs extracts them (one data point per metric, dimension set and timestamp), except for the
planted differences: one lost document and one doubled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from collector.aws import open_client
from collector.cli import main
from collector.config import Settings
from collector.metrics import EmfWriter
from collector.model import Invocation, Status
from collector.pipeline import Pipeline
from collector.reconcile import (
    WORKMAIL_NAMESPACE,
    WORKMAIL_RECEIVED,
    WORKMAIL_SENT,
    Options,
    Outcome,
    Report,
    Series,
    correction_time,
    daily_sums,
    reconcile,
)
from collector.sampling import generate_events
from collector.store import AuditStore, Query
from tests.conftest import Backend, run
from tests.emf import validate_document
from tests.test_store_contract import with_store

NOW = datetime.now(UTC)
TODAY = NOW.date()
DAY = TODAY - timedelta(days=2)


@pytest.fixture
def cloudwatch_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", moto_endpoint)
    return moto_endpoint


@dataclasses.dataclass(frozen=True)
class Names:
    """A namespace, Service and organization of one test's own: moto's CloudWatch is shared."""

    namespace: str
    service: str
    org: str


@pytest.fixture
def names() -> Names:
    tag = uuid.uuid4().hex
    return Names(f"Test{tag[:10]}", f"svc-{tag[:10]}", f"m-{tag}")


@contextlib.asynccontextmanager
async def cloudwatch() -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as stack:
        yield await open_client("cloudwatch", stack)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def record(store: AuditStore, names: Names, day: date) -> list[str]:
    """One day of mail through the real pipeline: 5 inbound (2 recipients), 3 outbound (4), 1 invalid,
    and one redelivery. Returns the EMF documents, in order."""
    lines: list[str] = []
    pipeline = Pipeline(store, EmfWriter(names.namespace, names.service, lines.append), Settings())
    seed = 2 * day.toordinal()  # each day its own events
    events: list[object] = [
        *generate_events(count=5, direction="INBOUND", recipients=2, seed=seed),
        *generate_events(count=3, direction="OUTBOUND", recipients=4, seed=seed + 1),
        {"flowDirection": "INBOUND", "note": f"no messageId: invalid ({day})"},
    ]
    events.append(events[0])  # a redelivery: a duplicate, no second count
    for n, event in enumerate(events):
        outcome = await pipeline.process(event, Invocation(f"req-{n}", "1", at(day, 9, n)))
        assert outcome.status in (Status.RECORDED, Status.QUARANTINED, Status.DUPLICATE)
    return lines


async def publish(client: Any, lines: list[str]) -> None:
    """Put EMF documents into CloudWatch as CloudWatch Logs extracts them."""
    data = []
    for line in lines:
        document = validate_document(line)
        moment = datetime.fromtimestamp(document["_aws"]["Timestamp"] / 1000, UTC)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = [{"Name": d, "Value": document[d]} for d in dimension_set]
                for metric in directive["Metrics"]:
                    data.append(
                        (
                            directive["Namespace"],
                            {
                                "MetricName": metric["Name"],
                                "Dimensions": dims,
                                "Timestamp": moment,
                                "Value": float(document[metric["Name"]]),
                                "Unit": metric.get("Unit", "None"),  # EMF's default: no unit
                            },
                        )
                    )
    for namespace, datum in data:
        await client.put_metric_data(Namespace=namespace, MetricData=[datum])


async def workmail_counts(client: Any, org: str, day: date, received: int, sent: int) -> None:
    for name, value in ((WORKMAIL_RECEIVED, received), (WORKMAIL_SENT, sent)):
        await client.put_metric_data(
            Namespace=WORKMAIL_NAMESPACE,
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "OrganizationId", "Value": org}],
                    "Timestamp": at(day, 10),
                    "Value": float(value),
                    "Unit": "Count",
                }
            ],
        )


def options(names: Names, **changes: Any) -> Options:
    base = Options(
        namespace=names.namespace, service=names.service, since=DAY, until=DAY, organization_id=names.org
    )
    return dataclasses.replace(base, **changes)


def planted(lines: list[str]) -> list[str]:
    """Lose the first inbound document and double the first outbound one."""
    docs = [orjson.loads(line) for line in lines]
    inbound = next(n for n, d in enumerate(docs) if d.get("FlowDirection") == "INBOUND" and "Messages" in d)
    outbound = next(n for n, d in enumerate(docs) if d.get("FlowDirection") == "OUTBOUND" and "Messages" in d)
    return [line for n, line in enumerate(lines) if n != inbound] + [lines[outbound]]


async def seed_planted_day(store: AuditStore, names: Names) -> None:
    """DAY's records in `store`, the planted metric lines (four differences) and WorkMail's counts."""
    lines = await record(store, names, DAY)
    async with cloudwatch() as client:
        await publish(client, planted(lines))
        await workmail_counts(client, names.org, DAY, received=5, sent=12)


def by_series(report: Report) -> dict[str, tuple[int, int]]:
    return {r.series.key: (r.audit, r.metric) for r in report.rows}


def test_reconcile_finds_and_fixes_a_planted_difference_once(
    store_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:

    async def body(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        async with cloudwatch() as client:
            await publish(client, planted(lines))
            await workmail_counts(client, names.org, DAY, received=5, sent=12)

            first = await reconcile(store, client, options(names), NOW)
            rows = by_series(first)
            assert rows["Messages/WorkMail/INBOUND"] == (5, 4)
            assert rows["Recipients/WorkMail/INBOUND"] == (10, 8)
            assert rows["Messages/WorkMail/OUTBOUND"] == (3, 4)
            assert rows["Recipients/WorkMail/OUTBOUND"] == (12, 16)
            assert rows["InvalidEvents"] == (1, 1)
            assert len(first.differences) == 4 and not first.ok
            assert {c.outcome for c in first.corrections} == {Outcome.NOT_REQUESTED}
            assert first.verdict()[0].startswith("DIFFERENT: 4 metric sum(s)")
            (coverage,) = first.coverage
            assert (coverage.workmail, coverage.audit, coverage.percent) == (5, 5, 100.0)
            inbound = next(r for r in first.rows if r.series.key == "Messages/WorkMail/INBOUND")
            assert (inbound.workmail, inbound.workmail_counts) == (5, WORKMAIL_RECEIVED)

            fixed = await reconcile(store, client, options(names, fix=True), NOW)
            assert [(c.series.key, c.value, c.outcome) for c in fixed.corrections] == [
                ("Messages/WorkMail/INBOUND", 1, Outcome.WRITTEN),
                ("Messages/WorkMail/OUTBOUND", -1, Outcome.WRITTEN),
                ("Recipients/WorkMail/INBOUND", 2, Outcome.WRITTEN),
                ("Recipients/WorkMail/OUTBOUND", -4, Outcome.WRITTEN),
            ]
            assert fixed.ok and fixed.verdict()[0].startswith("CORRECTED")

            again = await reconcile(store, client, options(names, fix=True), NOW)
            assert again.differences == [] and again.corrections == () and again.ok
            assert again.verdict()[0] == "OK: the metrics equal the audit trail"
            sums = await daily_sums(client, {"m": metric(names, "Messages", "INBOUND")}, DAY, DAY)
            assert sums["m"] == {DAY: 5.0}, "corrected once, not twice"
            # Written like the collector's own counts, without a unit, so the two sum together.
            counted = {**metric(names, "Messages", "INBOUND")}
            with_unit = await client.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "c",
                        "MetricStat": {"Metric": counted, "Period": 86400, "Stat": "Sum", "Unit": "Count"},
                    }
                ],
                StartTime=at(DAY, 0),
                EndTime=at(DAY, 0) + timedelta(days=1),
            )
            assert with_unit["MetricDataResults"][0]["Values"] == []

        # Ledger items never show up as records.
        listed = await store.query(Query(since=at(DAY, 0), until=NOW, limit=1000, full=False))
        assert {i["status"] for i in listed} == {"RECORDED", "INVALID"}
        tally = await store.tally(DAY)
        assert sum(t.records for t in tally.values()) == 9
        assert await store.tally(TODAY) == {}

    run(with_store(store_backend, body))


def metric(names: Names, name: str, direction: str) -> dict[str, Any]:
    return {
        "Namespace": names.namespace,
        "MetricName": name,
        "Dimensions": Series(name, "WorkMail", direction).dimensions(names.service),
    }


class NotVisibleYet:
    """CloudWatch as it is just after a write for a past day: it accepts the data point, and
    GetMetricData does not show it for a while. Held points reach moto on `ingest()`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.held: list[dict[str, Any]] = []
        self.failures = 0

    async def get_metric_data(self, **request: Any) -> Any:
        return await self.client.get_metric_data(**request)

    async def put_metric_data(self, **request: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("CloudWatch unreachable")  # certainly never applied
        self.held.append(request)
        return {}

    async def ingest(self) -> None:
        for request in self.held:
            await self.client.put_metric_data(**request)
        self.held.clear()


def test_a_second_fix_before_the_correction_shows_writes_nothing(
    sqlite_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:

    async def body(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        async with cloudwatch() as client:
            await publish(client, planted(lines))
            delayed = NotVisibleYet(client)
            first = await reconcile(store, delayed, options(names, fix=True), NOW)
            assert [c.outcome for c in first.corrections] == [Outcome.WRITTEN] * 4
            assert len(delayed.held) == 4

            second = await reconcile(store, delayed, options(names, fix=True), NOW)
            assert [c.outcome for c in second.corrections] == [Outcome.PENDING] * 4
            assert len(delayed.held) == 4, "the same observation is corrected once"
            assert second.ok and "not visible yet" in second.verdict()[1]

            await delayed.ingest()
            third = await reconcile(store, delayed, options(names, fix=True), NOW)
            assert third.differences == [] and delayed.held == []

    run(with_store(sqlite_backend, body))


def test_a_failed_write_is_claimed_again_by_the_next_run(
    store_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:

    async def body(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        async with cloudwatch() as client:
            await publish(client, lines[1:])  # the first inbound message's count is lost
            flaky = NotVisibleYet(client)
            flaky.failures = 1
            with pytest.raises(ConnectionRefusedError):
                await reconcile(store, flaky, options(names, fix=True), NOW)
            retried = await reconcile(store, flaky, options(names, fix=True), NOW)
            assert {c.outcome for c in retried.corrections} == {Outcome.WRITTEN}
            await flaky.ingest()
            assert (await reconcile(store, client, options(names), NOW)).ok

    run(with_store(store_backend, body))


def test_what_is_reported_and_never_written(
    sqlite_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:
    old = TODAY - timedelta(days=15)

    async def body(store: AuditStore) -> None:
        for day in (old, TODAY):
            await record(store, names, day)  # no metrics at all: every count lost
        async with cloudwatch() as client:
            watch = NotVisibleYet(client)
            report = await reconcile(store, watch, options(names, since=old, until=TODAY, fix=True), NOW)
            outcomes = {(c.day, c.outcome) for c in report.corrections}
            assert outcomes == {(old, Outcome.TOO_OLD), (TODAY, Outcome.DAY_NOT_OVER)}
            assert watch.held == [] and not report.ok
            note = next(c.note for c in report.corrections if c.day == old)
            assert "two weeks" in note
            expired = await reconcile(
                store,
                watch,
                options(names, since=old, until=old, fix=True, retention_days=7),
                NOW,
            )
            assert {c.outcome for c in expired.corrections} == {Outcome.EXPIRED} and watch.held == []

    run(with_store(sqlite_backend, body))


def test_the_day_retention_days_back_is_refused_it_is_partly_expired(
    sqlite_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:
    """At 10:00 UTC with `--days 7` and a 7-day retention, the window's first day (today - 7) lost
    its records before 10:00 to TTL already: a correction from what is left would be wrong."""
    now = at(TODAY, 10)
    first = TODAY - timedelta(days=7)  # --days 7: the 7 days ending yesterday

    async def body(store: AuditStore) -> None:
        await record(store, names, first)  # no metrics: every count looks lost
        async with cloudwatch() as client:
            watch = NotVisibleYet(client)
            window = options(names, since=first, until=TODAY - timedelta(days=1), fix=True, retention_days=7)
            report = await reconcile(store, watch, window, now)
            assert {c.outcome for c in report.corrections if c.day == first} == {Outcome.EXPIRED}
            assert watch.held == []

    run(with_store(sqlite_backend, body))


def test_low_coverage_is_judged_only_when_asked_and_above_the_minimum(
    sqlite_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:

    async def body(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        async with cloudwatch() as client:
            await publish(client, lines)
            await workmail_counts(client, names.org, DAY, received=20, sent=12)
            shown = await reconcile(store, client, options(names), NOW)
            assert shown.ok and shown.differences == []
            assert "shown, not judged" in shown.verdict()[-1]
            judged = await reconcile(store, client, options(names, min_coverage=80), NOW)
            (low,) = judged.shortfalls
            assert (low.workmail, low.audit, low.percent) == (20, 5, 25.0)
            assert not judged.ok and judged.verdict()[-1].startswith(f"LOW COVERAGE: {DAY}")
            quiet = await reconcile(store, client, options(names, min_coverage=80, min_messages=50), NOW)
            assert quiet.ok, "a day with fewer WorkMail messages than the minimum is not judged"
            blind = await reconcile(store, client, options(names, organization_id=None), NOW)
            assert blind.coverage == () and "not read" in blind.verdict()[-1]

    run(with_store(sqlite_backend, body))


def test_ses_messages_are_reconciled_and_its_deliveries_are_no_messages(
    sqlite_backend: Backend, cloudwatch_endpoint: str, names: Names
) -> None:
    """SES records include deliveries and bounces, which are no messages: the tally tells them apart
    (the time index keeps eventType), so SES's Messages and Recipients are compared like WorkMail's."""
    from collector.sampling_ses import generate_ses_events

    async def body(store: AuditStore) -> None:
        lines = await record(store, names, DAY)
        ses: list[str] = []
        pipeline = Pipeline(store, EmfWriter(names.namespace, names.service, ses.append), Settings())
        events = generate_ses_events(count=2, seed=7) + generate_ses_events(count=3, event="delivery", seed=8)
        events += generate_ses_events(count=1, event="send", seed=9)
        for n, event in enumerate(events):
            outcome = await pipeline.process(event, Invocation(f"ses-{n}", "1", at(DAY, 11, n)))
            assert outcome.status is Status.RECORDED
        async with cloudwatch() as client:
            await publish(client, lines + ses)
            report = await reconcile(store, client, options(names), NOW)
            assert report.ok and report.differences == []
            ses_rows = {
                (r.series.metric, r.series.direction): r for r in report.rows if r.series.source == "SES"
            }
            assert ses_rows[("Messages", "INBOUND")].audit == 2  # two receipts; deliveries are no messages
            assert ses_rows[("Messages", "OUTBOUND")].audit == 1  # one Send
            # A lost SES count is found and corrected like WorkMail's.
            await publish(client, lines + ses[1:])  # (a second copy of everything but one receipt)
            doubled = await reconcile(store, client, options(names), NOW)
            assert {r.series.source for r in doubled.differences} == {"WorkMail", "SES", None}

    run(with_store(sqlite_backend, body))


def test_correction_time_is_inside_its_day() -> None:
    moment = correction_time(DAY)
    assert moment.date() == DAY and moment.tzinfo is UTC and moment.hour == 23


# ------------------------------------------------------------------------------------- the command


def cli(*args: str) -> int:
    return main(["reconcile", *args])


def test_the_command_prints_the_verdict_and_fixes(
    sqlite_backend: Backend,
    cloudwatch_endpoint: str,
    names: Names,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = str(sqlite_backend.settings.sqlite_path)

    run(with_store(sqlite_backend, lambda store: seed_planted_day(store, names)))
    common = ["--db", db, "--namespace", names.namespace, "--service", names.service]
    common += ["--since", DAY.isoformat(), "--until", DAY.isoformat(), "--organization-id", names.org]
    common += ["--cloudwatch-endpoint-url", cloudwatch_endpoint]

    assert cli(*common) == 3
    out = capsys.readouterr().out
    assert "Messages WorkMail INBOUND" in out and "DIFFERENT: 4 metric sum(s)" in out
    assert "(--fix corrects them)" in out and "inbound coverage 100.0%" in out

    assert cli(*common, "--json") == 3
    document = orjson.loads(capsys.readouterr().out)
    assert document["ok"] is False and len(document["corrections"]) == 4
    assert {c["outcome"] for c in document["corrections"]} == {"not requested"}

    assert cli(*common, "--fix") == 0
    assert "CORRECTED" in capsys.readouterr().out
    assert cli(*common, "--fix", "--json") == 0
    again = orjson.loads(capsys.readouterr().out)
    assert again["corrections"] == [] and again["verdict"][0] == "OK: the metrics equal the audit trail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since must be a day"),
        (["--days", "3", "--since", "2026-01-01"], "not both"),
        (["--days", "0"], "at least 1"),
        (["--since", "2030-01-02", "--until", "2030-01-01"], "starts"),
        (["--min-coverage", "150"], "percentage"),
        (["--organization-id", "m-1", "--workmail-dimension", ""], "--workmail-dimension must be"),
        (["--workmail-dimension", ":Org"], "--workmail-dimension must be"),
    ],
)
def test_usage_mistakes_say_what_is_wrong(
    args: list[str], message: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("--db", str(tmp_path / "a.sqlite3"), *args) == 2
    assert message in capsys.readouterr().err


def test_a_missing_database_is_named_and_not_created(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    for fix in ([], ["--fix"]):
        assert cli("--db", str(missing), *fix) == 2
        assert "no audit database" in capsys.readouterr().err
    assert not missing.exists()


def test_a_future_day_is_refused(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tomorrow = (TODAY + timedelta(days=2)).isoformat()
    assert cli("--db", str(tmp_path / "a.sqlite3"), "--since", tomorrow) == 2
    assert "in the future" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the scheduled run


def test_the_scheduled_handler_reports_through_emf_and_fixes(
    moto_backend: Backend,
    cloudwatch_endpoint: str,
    names: Names,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from collector import reconcile_handler

    run(with_store(moto_backend, lambda store: seed_planted_day(store, names)))
    for key, value in {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": moto_backend.settings.table_name,
        "COLLECTOR_NAMESPACE": names.namespace,
        "COLLECTOR_SERVICE": names.service,
        "COLLECTOR_WORKMAIL_ORGANIZATION_ID": names.org,
        "COLLECTOR_RECONCILE_FIX": "true",
        "COLLECTOR_RECONCILE_MIN_COVERAGE": "80",
        "COLLECTOR_RECONCILE_MIN_MESSAGES": "5",
    }.items():
        monkeypatch.setenv(key, value)

    def invoke() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        answer = reconcile_handler.handler({"day": DAY.isoformat()}, None)
        summary, emf = capsys.readouterr().out.splitlines()
        document = validate_document(emf)
        assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]]
        assert document["Service"] == names.service and document["day"] == DAY.isoformat()
        return answer, orjson.loads(summary)["reconcile"], document

    answer, summary, document = invoke()
    assert answer == {"ok": True, "differences": 4, "corrections": 4}
    assert (document["ReconcileDifferences"], document["ReconcileCorrections"]) == (4, 4)
    assert summary["verdict"][0].startswith("CORRECTED")
    answer, _, document = invoke()
    assert answer == {"ok": True, "differences": 0, "corrections": 0}
    assert (document["ReconcileDifferences"], document["ReconcileCorrections"]) == (0, 0)


def test_the_scheduled_handler_reconciles_yesterday_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector import reconcile_handler
    from collector.config import ConfigError

    env = {"COLLECTOR_WORKMAIL_ORGANIZATION_ID": "m-1", "COLLECTOR_RECONCILE_MIN_COVERAGE": "75"}
    opts = reconcile_handler.options_from_env(env, Settings(service="svc"), TODAY - timedelta(days=1))
    assert (opts.since, opts.until, opts.fix, opts.min_coverage) == (TODAY - timedelta(days=1),) * 2 + (
        False,
        75.0,
    )
    with pytest.raises(ConfigError, match="COLLECTOR_RECONCILE_MIN_COVERAGE"):
        reconcile_handler.options_from_env({"COLLECTOR_RECONCILE_MIN_COVERAGE": "most"}, Settings(), TODAY)


def test_the_scheduled_handler_covers_the_last_days_by_default(
    moto_backend: Backend,
    cloudwatch_endpoint: str,
    names: Names,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not yesterday alone: late events change a day after its first check, and a correction whose
    answer was lost is read back days later."""
    from collector import reconcile_handler

    run(with_store(moto_backend, lambda store: seed_planted_day(store, names)))  # two days ago
    for key, value in {
        "COLLECTOR_STORE": "dynamodb",
        "COLLECTOR_TABLE_NAME": moto_backend.settings.table_name,
        "COLLECTOR_NAMESPACE": names.namespace,
        "COLLECTOR_SERVICE": names.service,
    }.items():
        monkeypatch.setenv(key, value)
    answer = reconcile_handler.handler({}, None)
    summary = orjson.loads(capsys.readouterr().out.splitlines()[0])["reconcile"]
    yesterday = TODAY - timedelta(days=1)
    assert (summary["since"], summary["until"]) == (
        (yesterday - timedelta(days=reconcile_handler.DEFAULT_DAYS - 1)).isoformat(),
        yesterday.isoformat(),
    )
    assert answer["differences"] == 4 and {r["day"] for r in summary["rows"]} == {DAY.isoformat()}


@pytest.mark.parametrize(("value", "days"), [("", 5), ("1", 1), (" 14 ", 14)])
def test_the_scheduled_range_is_set_by_collector_reconcile_days(value: str, days: int) -> None:
    from collector.reconcile_handler import scheduled_days

    since, until = scheduled_days({"COLLECTOR_RECONCILE_DAYS": value}, TODAY)
    assert until == TODAY and (until - since).days == days - 1


@pytest.mark.parametrize("value", ["0", "15", "week", "-3"])
def test_a_scheduled_range_outside_two_weeks_is_refused(value: str) -> None:
    from collector.config import ConfigError
    from collector.reconcile_handler import scheduled_days

    with pytest.raises(ConfigError, match="COLLECTOR_RECONCILE_DAYS must be a whole number from 1 to 14"):
        scheduled_days({"COLLECTOR_RECONCILE_DAYS": value}, TODAY)
