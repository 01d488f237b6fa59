"""The scheduled reconcile (CDK `-c reconcile=true`): once a day, the last few UTC days, in Lambda.

It covers `COLLECTOR_RECONCILE_DAYS` days ending yesterday (5 by default), not yesterday alone:
events that arrive late (Lambda's retries, a failure queue replayed) change a day after its first
check, and a correction whose answer was lost is read back only once CloudWatch would show it (up
to two days later, `collector.reconcile.visible_after`). So the run sends a correction only for a
day a later run will still cover by then (`collector.reconcile.read_back_due`: with five days,
yesterday and the day before); an older day's difference is reported `not written (no read-back)`.

It runs `collector.reconcile` against the deployment's table and metrics, logs the report as one
JSON line, and reports through EMF (no cloudwatch:PutMetricData needed for that) two metrics under
[Service] in the collector's namespace: `ReconcileDifferences` (metric sums that differed from the
audit trail, plus days of low inbound coverage) and `ReconcileCorrections` (data points written).
An alarm watches the first. With `COLLECTOR_RECONCILE_FIX=true` it also writes the corrections.

| variable | meaning |
|---|---|
| COLLECTOR_* | as for the collector: store, table, namespace, service, retention |
| COLLECTOR_RECONCILE_FIX | `true`: write corrections (needs cloudwatch:PutMetricData) |
| COLLECTOR_WORKMAIL_ORGANIZATION_ID | read WorkMail's own count for this organization |
| COLLECTOR_WORKMAIL_METRIC_DIMENSION | the dimension WorkMail's metrics carry (`OrganizationId`) |
| COLLECTOR_RECONCILE_MIN_COVERAGE | percent; lower inbound coverage is a difference |
| COLLECTOR_RECONCILE_MIN_MESSAGES | WorkMail's daily count below which coverage is not judged |
| COLLECTOR_RECONCILE_DAYS | days covered, ending yesterday (default 5, at most 14) |

A manual invocation may pass `{"day": "YYYY-MM-DD"}` to reconcile that one day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from aws_embedded_metrics.validator import validate_dimension_set, validate_namespace

from collector.aws import open_client
from collector.clock import parse_day, utc_now
from collector.config import (
    ConfigError,
    Settings,
    check_dimension_name,
    check_min_coverage,
    normalize_organization_id,
    parse_bool,
)
from collector.metrics import SERVICE
from collector.reconcile import (
    DEFAULT_MIN_MESSAGES,
    DEFAULT_WORKMAIL_DIMENSION,
    RECONCILE_CORRECTIONS,
    RECONCILE_DIFFERENCES,
    Options,
    Report,
    correction_client,
    reconcile,
)
from collector.runtime import open_store

log = logging.getLogger("workmail_collector")
DEFAULT_DAYS = 5  # the day before yesterday's correction is read back two days later, inside it
MAX_SCHEDULED_DAYS = 14  # CloudWatch takes corrections up to two weeks old


def scheduled_days(env: Mapping[str, str], yesterday: date) -> tuple[date, date]:
    """The first and last day a scheduled run covers: COLLECTOR_RECONCILE_DAYS ending yesterday."""
    raw = env.get("COLLECTOR_RECONCILE_DAYS", "").strip()
    try:
        days = int(raw) if raw else DEFAULT_DAYS
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_SCHEDULED_DAYS:
        raise ConfigError(
            f"COLLECTOR_RECONCILE_DAYS must be a whole number from 1 to {MAX_SCHEDULED_DAYS}, got {raw!r}"
        )
    return yesterday - timedelta(days=days - 1), yesterday


def options_from_env(
    env: Mapping[str, str],
    settings: Settings,
    since: date,
    until: date | None = None,
    window_days: int | None = None,
) -> Options:
    """The reconcile of `since` to `until` (or `since` alone), configured by the function's
    environment and checked as the CLI checks its flags, so the scheduled run and
    `workmail-collector reconcile` judge alike. `window_days`: the scheduled window's length (a
    correction the next scheduled runs could not read back is reported, not written)."""
    coverage = env.get("COLLECTOR_RECONCILE_MIN_COVERAGE", "").strip()
    minimum = env.get("COLLECTOR_RECONCILE_MIN_MESSAGES", "").strip()
    try:
        min_coverage = float(coverage) if coverage else None
        min_messages = int(minimum) if minimum else DEFAULT_MIN_MESSAGES
    except ValueError:
        raise ConfigError(
            "COLLECTOR_RECONCILE_MIN_COVERAGE must be a percentage and COLLECTOR_RECONCILE_MIN_MESSAGES "
            f"a whole number, got {coverage!r} and {minimum!r}"
        ) from None
    if min_coverage is not None:
        check_min_coverage(min_coverage, "COLLECTOR_RECONCILE_MIN_COVERAGE")
    if min_messages < 0:
        raise ConfigError(f"COLLECTOR_RECONCILE_MIN_MESSAGES must be at least 0, got {min_messages}")
    return Options(
        namespace=settings.namespace,
        service=settings.service,
        since=since,
        until=until or since,
        organization_id=normalize_organization_id(env.get("COLLECTOR_WORKMAIL_ORGANIZATION_ID")),
        workmail_dimension=check_dimension_name(
            env.get("COLLECTOR_WORKMAIL_METRIC_DIMENSION", "").strip() or DEFAULT_WORKMAIL_DIMENSION,
            "COLLECTOR_WORKMAIL_METRIC_DIMENSION",
        ),
        min_coverage=min_coverage,
        min_messages=min_messages,
        fix=parse_bool(env.get("COLLECTOR_RECONCILE_FIX"), "COLLECTOR_RECONCILE_FIX"),
        retention_days=settings.retention_days,
        window_days=window_days,
    )


def emf_line(report: Report, now: datetime) -> str:
    """One EMF document: the day's differences and corrections under [Service]."""
    namespace, service = report.options.namespace, report.options.service
    validate_namespace(namespace)
    validate_dimension_set({SERVICE: service})
    document = {
        SERVICE: service,
        "day": report.options.until.isoformat(),  # the last day covered
        "since": report.options.since.isoformat(),
        RECONCILE_DIFFERENCES: len(report.differences) + len(report.shortfalls),
        RECONCILE_CORRECTIONS: report.written,
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[SERVICE]],
                    "Metrics": [
                        {"Name": RECONCILE_DIFFERENCES},  # counts: no Unit, as the collector writes
                        {"Name": RECONCILE_CORRECTIONS},
                    ],
                }
            ],
        },
    }
    return orjson.dumps(document).decode()


async def run(event: Any, env: Mapping[str, str], now: datetime) -> Report:
    settings = Settings.from_env(env)
    since, until = scheduled_days(env, now.date() - timedelta(days=1))
    window: int | None = (until - since).days + 1
    if isinstance(event, dict) and event.get("day"):
        try:
            since = until = parse_day(str(event["day"]))
        except ValueError:
            raise ConfigError(f"event day must be YYYY-MM-DD, got {event['day']!r}") from None
        window = None  # a person asked for this day, and reads its report
    options = options_from_env(env, settings, since, until, window)
    store = await open_store(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            cloudwatch = await open_client("cloudwatch", stack)
            writer = await correction_client(stack) if options.fix else None
            return await reconcile(store, cloudwatch, options, now, writer)
    finally:
        await store.close()


def handler(event: Any, context: Any) -> dict[str, Any]:
    now = utc_now()
    report = asyncio.run(run(event, os.environ, now))
    summary = report.to_json()
    level = logging.INFO if report.ok and not report.differences else logging.WARNING
    log.log(level, "reconcile %s: %s", report.options.since, " | ".join(report.verdict()))
    sys.stdout.write(orjson.dumps({"reconcile": summary}).decode() + "\n")
    sys.stdout.write(emf_line(report, now) + "\n")
    sys.stdout.flush()
    return {"ok": report.ok, "differences": len(report.differences), "corrections": report.written}
