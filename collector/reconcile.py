"""Reconcile: per UTC day, the collector's metric sums against its audit trail and WorkMail's count.

The audit trail is the source of truth (docs/failure-semantics.md): a record exists for every
event the collector counted, while a metric can be lost (the invocation died between its write and
its EMF line, and no retry recorded it) or doubled (a failure record replayed twice, a duplicate
delivery under one request id). Three counts meet here, per day, source and direction:

* the audit trail: records by status (`AuditStore.tally`, the time index);
* the collector's metrics: `Messages` and `Recipients` per [Service, Source, FlowDirection] and
  `InvalidEvents` per [Service], one GetMetricData query per series, period one day, Sum;
* WorkMail's own count (`AWS/WorkMail`): `OrganizationEmailReceived` against the WorkMail inbound
  records, judged against a minimum coverage when one is given, and the outbound recipients
  WorkMail delivered or bounced against the WorkMail outbound recipients, shown only.

A metric that differs from the trail can be corrected (`fix`): one PutMetricData point of the
difference (negative for a double count), timestamped 23:59 UTC of the day it belongs to, into the
same series. CloudWatch takes timestamps up to two weeks old; an older day, the current day (not
over yet) and a day older than the audit retention (records may have expired) are reported, never
written. Corrections are idempotent through a ledger in the audit store: before writing, a
bookkeeping item keyed by the day, the series and the two counts it saw is created with
`put_once`. Seeing the same counts again means the correction is not visible yet (CloudWatch can
take hours, or two days for old timestamps, to show it): nothing is written twice.

CloudWatch applies every PutMetricData it receives, so a correction is sent once, by a client
without SDK retries (`correction_client`): a retry after a lost answer would add it again. What
the one try says is kept next to the claim: `written` (CloudWatch answered), `released` (it
certainly never applied it: the connection was refused, or it answered with a 4xx, and the next
run claims the correction anew), or nothing (the answer was lost, or the run died while it
waited: the outcome is unknown). An unknown outcome keeps its claim. A later run that sees the
same counts reads them as the read-back: once CloudWatch would show the point (`visible_after`),
an unchanged sum means it never landed, and that run writes it again. Ledger items have no
`receivedDay`, so they never appear in listings or tallies, and expire with the store's TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from collector.clock import iso_millis, parse_iso_millis, utc_now
from collector.metrics import DIRECTIONS, FLOW_DIRECTION, SERVICE, SOURCE, spec_named
from collector.model import Direction, Source
from collector.store import AuditStore, Duplicate, Tally, TallyKey

WORKMAIL_NAMESPACE = "AWS/WorkMail"
WORKMAIL_RECEIVED = "OrganizationEmailReceived"  # per message received by the organization
WORKMAIL_SENT = "OutgoingEmailSent"  # per recipient a sent message was delivered to
WORKMAIL_BOUNCED = "OutgoingEmailBounced"  # per recipient a sent message could not be delivered to
# WorkMail documents no dimension for its metrics; this is the likeliest name (checked with
# `aws cloudwatch list-metrics --namespace AWS/WorkMail`, docs/deploy.md) and a setting everywhere.
DEFAULT_WORKMAIL_DIMENSION = "OrganizationId"

# What the scheduled reconcile reports through EMF, next to the collector's catalog.
RECONCILE_DIFFERENCES = "ReconcileDifferences"
RECONCILE_CORRECTIONS = "ReconcileCorrections"
RECONCILE_METRICS = (RECONCILE_DIFFERENCES, RECONCILE_CORRECTIONS)

RECORDED = "RECORDED"
INVALID = "INVALID"
# Every source: a tally's RECORDED counts message records only (an SES delivery, bounce or other
# fact about a message counted already is tallied as EVENT, from the time index's eventType).
RECONCILED_SOURCES = tuple(source.value for source in Source)
LEDGER_PREFIX = "reconcile:"
DAY = timedelta(days=1)
DAY_SECONDS = 86400
MAX_DAYS = 455  # CloudWatch keeps one-hour data (and so daily sums) for 455 days
CLOUDWATCH_LOOKBACK = timedelta(days=14)  # PutMetricData refuses older timestamps
LOOKBACK_MARGIN = timedelta(hours=1)  # so a correction never races the two-week edge
LEDGER_DAYS = 30  # a ledger item outlives every day it may correct
# How long CloudWatch may take to show a data point in GetMetricData (PutMetricData's reference):
# up to two hours for a timestamp less than a day old, 48 hours for an older one.
RECENT_POINT = timedelta(hours=24)
RECENT_DELAY = timedelta(hours=2)
OLD_DELAY = timedelta(hours=48)
SCHEDULE_PERIOD = timedelta(days=1)  # the scheduled reconcile runs once a day (cdk/reconcile.py)
SCHEDULE_SLACK = timedelta(hours=1)  # how late a scheduled run may start, and then take
QUERIES_PER_REQUEST = 500  # GetMetricData's own limit
DEFAULT_MIN_MESSAGES = 10


class ReconcileError(ValueError):
    """The request cannot be reconciled as asked (a bad range); the message says why."""


@dataclass(frozen=True, order=True)
class Series:
    """One collector metric series: a per-flow metric of one source and direction, or a [Service] one."""

    metric: str
    source: str | None = None
    direction: str | None = None

    @property
    def key(self) -> str:
        return "/".join(p for p in (self.metric, self.source, self.direction) if p)

    @property
    def label(self) -> str:
        return " ".join(p for p in (self.metric, self.source, self.direction) if p)

    def dimensions(self, service: str) -> list[dict[str, str]]:
        dims = [{"Name": SERVICE, "Value": service}]
        if self.source is not None and self.direction is not None:
            dims += [
                {"Name": SOURCE, "Value": self.source},
                {"Name": FLOW_DIRECTION, "Value": self.direction},
            ]
        return dims


INBOUND_WORKMAIL = Series("Messages", Source.WORKMAIL.value, Direction.INBOUND.value)
OUTBOUND_WORKMAIL_RECIPIENTS = Series("Recipients", Source.WORKMAIL.value, Direction.OUTBOUND.value)


@dataclass(frozen=True)
class Options:
    """What to reconcile and where the counts live."""

    namespace: str
    service: str
    since: date
    until: date
    organization_id: str | None = None  # without it, WorkMail's count is not read
    workmail_dimension: str = DEFAULT_WORKMAIL_DIMENSION
    min_coverage: float | None = None  # percent; None: WorkMail's count is shown, not judged
    min_messages: int = DEFAULT_MIN_MESSAGES  # days with fewer WorkMail messages are not judged
    fix: bool = False
    retention_days: int = 0  # the audit trail's TTL; 0: records never expire
    # The scheduled run: the days it covers, ending yesterday. It writes a correction only when a
    # later scheduled run will still cover that day once a lost answer would show (read_back_due).
    window_days: int | None = None

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


@dataclass(frozen=True)
class Row:
    """One day and series: the audit trail's count, the metric's sum, and WorkMail's count if any."""

    day: date
    series: Series
    audit: int
    metric: int
    workmail: int | None = None
    workmail_counts: str | None = None  # which WorkMail metrics `workmail` sums

    @property
    def difference(self) -> int:
        """Metric minus audit: negative when counts were lost, positive when doubled."""
        return self.metric - self.audit


@dataclass(frozen=True)
class Coverage:
    """Inbound: the WorkMail records in the trail against the messages WorkMail received."""

    day: date
    workmail: int
    audit: int
    judged: bool  # WorkMail counted enough to judge, and a minimum coverage was given
    below: bool

    @property
    def percent(self) -> float | None:
        return None if self.workmail == 0 else 100 * self.audit / self.workmail


class Outcome(StrEnum):
    WRITTEN = "written"
    PENDING = "pending"  # written by an earlier run for the same counts, not visible yet
    UNKNOWN = "outcome unknown"  # sent, the answer lost: a later run reads the sum back first
    NOT_REQUESTED = "not requested"
    DAY_NOT_OVER = "day not over"
    TOO_OLD = "too old"
    EXPIRED = "past retention"
    NO_READ_BACK = "not written (no read-back)"  # the schedule would never see a lost answer


FIXED = frozenset({Outcome.WRITTEN, Outcome.PENDING})


@dataclass(frozen=True)
class Correction:
    day: date
    series: Series
    value: int  # what is (or would be) added to the day's sum: audit minus metric
    outcome: Outcome
    note: str = ""


@dataclass(frozen=True)
class Report:
    options: Options
    rows: tuple[Row, ...]
    coverage: tuple[Coverage, ...]
    corrections: tuple[Correction, ...]

    @property
    def differences(self) -> list[Row]:
        return [r for r in self.rows if r.difference]

    @property
    def shortfalls(self) -> list[Coverage]:
        return [c for c in self.coverage if c.below]

    @property
    def remaining(self) -> list[Correction]:
        """Differences nothing has corrected (or will, once CloudWatch shows a pending correction)."""
        return [c for c in self.corrections if c.outcome not in FIXED]

    @property
    def ok(self) -> bool:
        return not self.remaining and not self.shortfalls

    @property
    def written(self) -> int:
        return sum(1 for c in self.corrections if c.outcome is Outcome.WRITTEN)

    def verdict(self) -> list[str]:
        """The answer first, then one line per difference and per shortfall."""
        lines: list[str] = []
        if not self.differences:
            lines.append("OK: the metrics equal the audit trail")
        elif not self.remaining:
            lines.append(f"CORRECTED: {len(self.differences)} metric sum(s) differed from the audit trail")
        else:
            lines.append(
                f"DIFFERENT: {len(self.remaining)} metric sum(s) differ from the audit trail"
                + ("" if self.options.fix else " (--fix corrects them)")
            )
        for c in self.corrections:
            row_kind = "short of" if c.value > 0 else "above"
            lines.append(
                f"  {c.day} {c.series.label}: the metric is {abs(c.value)} {row_kind} the audit trail; "
                f"correction {c.value:+d} {c.outcome.value}{': ' + c.note if c.note else ''}"
            )
        if self.options.organization_id is None:
            lines.append("WorkMail's count not read (no organization ID given)")
        elif self.options.min_coverage is None:
            lines.append("WorkMail's count shown, not judged (no minimum coverage given)")
        elif not self.shortfalls:
            lines.append(f"OK: inbound coverage at least {self.options.min_coverage:g}% of WorkMail's count")
        for s in self.shortfalls:
            lines.append(
                f"LOW COVERAGE: {s.day}: WorkMail received {s.workmail} messages, the audit trail holds "
                f"{s.audit} WorkMail inbound records ({s.percent:.1f}% < {self.options.min_coverage:g}%): "
                "events never reached the collector (rule edited, deleted or scoped; permission removed), "
                "or wait in Lambda's queue or the failure queue"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.options.since.isoformat(),
            "until": self.options.until.isoformat(),
            "namespace": self.options.namespace,
            "service": self.options.service,
            "ok": self.ok,
            "verdict": self.verdict(),
            "rows": [
                {
                    "day": r.day.isoformat(),
                    "series": r.series.key,
                    "metric": r.series.metric,
                    "source": r.series.source,
                    "direction": r.series.direction,
                    "audit": r.audit,
                    "metricSum": r.metric,
                    "difference": r.difference,
                    "workmail": r.workmail,
                    "workmailCounts": r.workmail_counts,
                }
                for r in self.rows
            ],
            "coverage": [
                {
                    "day": c.day.isoformat(),
                    "workmailReceived": c.workmail,
                    "auditRecords": c.audit,
                    "percent": c.percent,
                    "judged": c.judged,
                    "below": c.below,
                }
                for c in self.coverage
            ],
            "corrections": [
                {
                    "day": c.day.isoformat(),
                    "series": c.series.key,
                    "value": c.value,
                    "outcome": c.outcome.value,
                    "note": c.note,
                }
                for c in self.corrections
            ],
        }


def check_range(options: Options, today: date) -> None:
    if options.since > options.until:
        raise ReconcileError(f"the range starts ({options.since}) after it ends ({options.until})")
    if options.until > today:
        raise ReconcileError(f"{options.until} is in the future (today is {today}, UTC)")
    if len(options.days()) > MAX_DAYS:
        raise ReconcileError(f"at most {MAX_DAYS} days at a time (CloudWatch keeps daily sums that long)")


async def correction_client(stack: Any) -> Any:
    """A CloudWatch client that tries once: CloudWatch applies each PutMetricData it receives, so
    an SDK retry after a lost answer would write the correction twice."""
    from collector.aws import client_config, open_client

    return await open_client("cloudwatch", stack, config=client_config(total_attempts=1))


async def reconcile(
    store: AuditStore,
    cloudwatch: Any,
    options: Options,
    now: datetime | None = None,
    writer: Any = None,
) -> Report:
    """Compare, per day, and correct the metric sums when `options.fix` asks for it. `writer`
    sends the corrections (`correction_client`); without it, `cloudwatch` does."""
    now = (now or utc_now()).astimezone(UTC)
    check_range(options, now.date())
    days = options.days()
    tallies = {day: await store.tally(day) for day in days}
    series = sorted(_series())
    queries = {
        s.key: _metric_query(options.namespace, s.metric, s.dimensions(options.service)) for s in series
    }
    workmail = _workmail_queries(options)
    sums = await daily_sums(cloudwatch, {**queries, **workmail}, options.since, options.until)

    rows: list[Row] = []
    coverage: list[Coverage] = []
    for day in days:
        for s in series:
            row = _row(day, s, tallies[day], sums, options)
            if row.audit or row.metric or row.workmail:
                rows.append(row)
        if options.organization_id is not None:
            coverage.append(_coverage(day, tallies[day], sums, options))
    writer = cloudwatch if writer is None else writer
    corrections = [await _correct(store, writer, row, options, now) for row in rows if row.difference]
    return Report(options, tuple(rows), tuple(coverage), tuple(corrections))


def _series() -> set[Series]:
    """Every series reconcile compares: each reconciled source and direction, and InvalidEvents."""
    found = {
        Series(m, source, d)
        for m in ("Messages", "Recipients")
        for source in RECONCILED_SOURCES
        for d in DIRECTIONS
    }
    return found | {Series("InvalidEvents")}


def _metric_query(namespace: str, name: str, dimensions: list[dict[str, str]]) -> dict[str, Any]:
    return {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions}


def _workmail_queries(options: Options) -> dict[str, dict[str, Any]]:
    if options.organization_id is None:
        return {}
    dims = [{"Name": options.workmail_dimension, "Value": options.organization_id}]
    return {
        f"workmail/{name}": _metric_query(WORKMAIL_NAMESPACE, name, dims)
        for name in (WORKMAIL_RECEIVED, WORKMAIL_SENT, WORKMAIL_BOUNCED)
    }


def _audit_count(series: Series, tally: Mapping[TallyKey, Tally]) -> int:
    if series.source is None:  # InvalidEvents: every quarantined record, whatever its source
        return sum(t.records for (status, _, _), t in tally.items() if status == INVALID)
    found = tally.get((RECORDED, series.source, series.direction or ""), Tally())
    return found.records if series.metric == "Messages" else found.recipients


def _row(
    day: date,
    series: Series,
    tally: Mapping[TallyKey, Tally],
    sums: Mapping[str, Mapping[date, float]],
    options: Options,
) -> Row:
    audit = _audit_count(series, tally)
    metric = round(sums.get(series.key, {}).get(day, 0.0))
    if options.organization_id is not None and series == INBOUND_WORKMAIL:
        return Row(day, series, audit, metric, _workmail(sums, day, WORKMAIL_RECEIVED), WORKMAIL_RECEIVED)
    if options.organization_id is not None and series == OUTBOUND_WORKMAIL_RECIPIENTS:
        delivered = _workmail(sums, day, WORKMAIL_SENT) + _workmail(sums, day, WORKMAIL_BOUNCED)
        return Row(day, series, audit, metric, delivered, f"{WORKMAIL_SENT}+{WORKMAIL_BOUNCED} (shown only)")
    return Row(day, series, audit, metric)


def _workmail(sums: Mapping[str, Mapping[date, float]], day: date, name: str) -> int:
    return round(sums.get(f"workmail/{name}", {}).get(day, 0.0))


def _coverage(
    day: date, tally: Mapping[TallyKey, Tally], sums: Mapping[str, Mapping[date, float]], options: Options
) -> Coverage:
    received = _workmail(sums, day, WORKMAIL_RECEIVED)
    audit = _audit_count(INBOUND_WORKMAIL, tally)
    judged = options.min_coverage is not None and received >= options.min_messages
    below = judged and 100 * audit < (options.min_coverage or 0) * received
    return Coverage(day, received, audit, judged, below)


async def daily_sums(
    cloudwatch: Any, queries: Mapping[str, dict[str, Any]], since: date, until: date
) -> dict[str, dict[date, float]]:
    """Sum per UTC day of each metric, by query key: one MetricStat query per series, period one day."""
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + DAY
    keys = list(queries)
    sums: dict[str, dict[date, float]] = {key: {} for key in keys}
    for first in range(0, len(keys), QUERIES_PER_REQUEST):
        chunk = keys[first : first + QUERIES_PER_REQUEST]
        ids = {f"q{first + n}": key for n, key in enumerate(chunk)}
        request: dict[str, Any] = {
            "MetricDataQueries": [
                {
                    "Id": query_id,
                    "MetricStat": {"Metric": queries[key], "Period": DAY_SECONDS, "Stat": "Sum"},
                    "ReturnData": True,
                }
                for query_id, key in ids.items()
            ],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            response = await cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                if result.get("StatusCode") not in (None, "Complete", "PartialData"):
                    raise RuntimeError(f"GetMetricData {ids[result['Id']]}: {result.get('StatusCode')}")
                per_day = sums[ids[result["Id"]]]
                for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    day = moment.astimezone(UTC).date()
                    if since <= day <= until:
                        per_day[day] = per_day.get(day, 0.0) + float(value)
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return sums


def correction_time(day: date) -> datetime:
    """23:59 UTC of `day`: inside the day it belongs to, and as late as possible, so the two-week
    limit allows it for as long as it can."""
    return datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)


async def _correct(
    store: AuditStore, cloudwatch: Any, row: Row, options: Options, now: datetime
) -> Correction:
    value = -row.difference
    if not options.fix:
        return Correction(row.day, row.series, value, Outcome.NOT_REQUESTED)
    if row.day >= now.date():
        return Correction(
            row.day, row.series, value, Outcome.DAY_NOT_OVER, "counts still change; fix complete days"
        )
    # The day `retention_days` back is partly expired already (its records before this hour of
    # the day went to TTL): refuse it too, not only the days before it.
    if options.retention_days and row.day <= (now - timedelta(days=options.retention_days)).date():
        return Correction(
            row.day,
            row.series,
            value,
            Outcome.EXPIRED,
            f"audit records expire after {options.retention_days} days, so the trail may be short",
        )
    moment = correction_time(row.day)
    if now - moment > CLOUDWATCH_LOOKBACK - LOOKBACK_MARGIN:
        return Correction(
            row.day,
            row.series,
            value,
            Outcome.TOO_OLD,
            "CloudWatch refuses data points more than two weeks old; the audit trail stays the record",
        )
    send = read_back_due(row.day, now, options.window_days)
    ledger = Ledger(store, row, now)
    earlier = await ledger.claim(send)
    if earlier is not None:
        return _earlier(row, value, earlier)
    if not send:
        return Correction(
            row.day,
            row.series,
            value,
            Outcome.NO_READ_BACK,
            f"no later scheduled run (covering {options.window_days} days) looks at {row.day} once"
            " CloudWatch would show it, so a lost answer would go unnoticed; correct it with"
            f" `workmail-collector reconcile --since {row.day} --fix`",
        )
    datum: dict[str, Any] = {
        "MetricName": row.series.metric,
        "Dimensions": row.series.dimensions(options.service),
        "Timestamp": moment,
        "Value": float(value),
    }
    unit = spec_named(row.series.metric).written_unit  # as the EMF writer writes it
    if unit is not None:
        datum["Unit"] = unit
    try:
        await cloudwatch.put_metric_data(Namespace=options.namespace, MetricData=[datum])
    except Exception as error:
        if never_applied(error):
            await ledger.mark("released")
            raise
        until = iso_millis(now + visible_after(row.day, now))
        return _unknown(row, value, Earlier(iso_millis(now), False, until), type(error).__name__)
    # (A BaseException, such as a cancelled run, leaves the claim unmarked: an unknown outcome.)
    await ledger.mark("written")
    return Correction(row.day, row.series, value, Outcome.WRITTEN, f"at {iso_millis(moment)}")


def _earlier(row: Row, value: int, earlier: Earlier) -> Correction:
    if earlier.answered:
        return Correction(
            row.day, row.series, value, Outcome.PENDING, f"written at {earlier.sent}, not visible yet"
        )
    return _unknown(row, value, earlier, "no answer recorded")


def _unknown(row: Row, value: int, sent: Earlier, why: str) -> Correction:
    return Correction(
        row.day,
        row.series,
        value,
        Outcome.UNKNOWN,
        f"sent at {sent.sent} with no clear answer ({why}); not sent again before {sent.until},"
        " and then only if the metric still lacks it",
    )


def never_applied(error: BaseException) -> bool:
    """True only when CloudWatch certainly did not apply the request: the connection was never
    made, or CloudWatch refused it (a 4xx answer). A timeout or a dropped answer is no proof."""
    if isinstance(error, ConnectionRefusedError):
        return True
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    if isinstance(error, ConnectTimeoutError):
        return True
    if isinstance(error, EndpointConnectionError):
        # aiobotocore raises it for any aiohttp connection error, a reset after the request went
        # out included: only a failed connect (ClientConnectorError) proves nothing was sent.
        from aiohttp import ClientConnectorError

        return isinstance(getattr(error, "kwargs", {}).get("error"), ClientConnectorError)
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        return 400 <= int(status) < 500
    return False


def read_back_due(day: date, now: datetime, window_days: int | None) -> bool:
    """True if a correction of `day` sent `now` can be checked: a run on the daily schedule (one
    period later at most, plus slack for the scheduler's delay) after it would show still covers
    `day`. Always true outside the schedule (window_days None): a person runs the next check."""
    if window_days is None:
        return True
    read_back = now + visible_after(day, now) + SCHEDULE_PERIOD + SCHEDULE_SLACK
    return day >= read_back.date() - timedelta(days=window_days)


def visible_after(day: date, sent: datetime) -> timedelta:
    """How long after `sent` CloudWatch may take to show a correction of `day` (timestamped at
    `correction_time(day)`): only after that does an unchanged sum prove it never landed."""
    return RECENT_DELAY if sent - correction_time(day) < RECENT_POINT else OLD_DELAY


@dataclass(frozen=True)
class Earlier:
    """A correction an earlier run claimed for the same counts."""

    sent: str  # when that run claimed it (just before sending)
    answered: bool  # CloudWatch answered that it took it
    until: str = ""  # an unknown outcome: when CloudWatch will have shown it if it landed


@dataclass
class Ledger:
    """The bookkeeping items that make a correction happen once per observation."""

    store: AuditStore
    row: Row
    now: datetime
    key: str = field(init=False, default="")

    def base(self) -> str:
        r = self.row
        return f"{LEDGER_PREFIX}{r.day.isoformat()}:{r.series.key}:{r.metric}:{r.audit}"

    def item(self, key: str, kind: str) -> dict[str, Any]:
        expires = correction_time(self.row.day) + timedelta(days=LEDGER_DAYS)
        return {
            "invocationId": key,
            "receivedAt": iso_millis(self.now),  # no receivedDay: never listed or tallied
            "status": "RECONCILE",
            "kind": kind,
            "day": self.row.day.isoformat(),
            "series": self.row.series.key,
            "observed": self.row.metric,
            "expected": self.row.audit,
            "value": -self.row.difference,
            "expiresAt": int(expires.timestamp()),
        }

    async def claim(self, send: bool = True) -> Earlier | None:
        """Claim the correction: None if this run must write it, else what an earlier run did.
        With `send` False, only look: None then means no earlier run's claim stands (none taken)."""
        generation = 1
        while True:
            self.key = f"{self.base()}#{generation}"
            if send:
                result = await self.store.put_once(self.item(self.key, "reconcile-correction"))
                existing = result.existing if isinstance(result, Duplicate) else None
            else:
                existing = await self.store.get(self.key)
            if existing is None:
                return None
            if await self.store.get(f"{self.key}:released") is None:
                sent = str(existing.get("receivedAt", ""))
                if await self.store.get(f"{self.key}:written") is not None:
                    return Earlier(sent, answered=True)
                visible = parse_iso_millis(sent) + visible_after(self.row.day, parse_iso_millis(sent))
                if self.now < visible:
                    return Earlier(sent, answered=False, until=iso_millis(visible))
                # The read-back: this run's sum is still the one that run saw, long enough after
                # it sent the correction for CloudWatch to show it: it never landed.
                await self.mark("released", "reconcile-not-landed")
            generation += 1

    async def mark(self, outcome: str, kind: str = "") -> None:
        """What the one try said: `written` or `released` (certainly not applied)."""
        await self.store.put_once(self.item(f"{self.key}:{outcome}", kind or f"reconcile-{outcome}"))
