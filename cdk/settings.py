"""Deployment settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`).

Context values from the command line arrive as strings and values from cdk.json as JSON types, so
every parser accepts both. Each error names the context key and shows how to pass it, because the
person reading it is running `cdk deploy` and should not need to read this file.
"""

from __future__ import annotations

import ast
import difflib
import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from collector.clock import parse_day, utc_now
from collector.config import (
    DEFAULT_NAMESPACE,
    ConfigError,
    check_dimension_name,
    parse_bool,
    parse_sources,
)
from collector.history import GLUE_DATABASE_NAME, HOT_DAYS
from collector.model import Source
from collector.reconcile import DEFAULT_WORKMAIL_DIMENSION
from collector.store.schema import LEGACY_INDEX_NAMES
from collector.trail.schema import DATABASE

ORGANIZATION_ID = re.compile(r"m-[0-9a-f]{32}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
# SES names rule sets, rules and configuration sets alike: letters, digits, `_`, `-` (and `.`
# for rules), starting and ending with a letter or digit, at most 64 characters.
SES_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?")
SES_INVOCATION_TYPES = ("Event", "RequestResponse")
SES_DESTINATIONS = ("sns", "eventbridge")
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
NONE = frozenset({"", "none", "off", "unreserved"})


class SettingsError(ValueError):
    """A context value is missing or malformed; the message says which and how to fix it."""


@functools.cache
def known_context_keys() -> frozenset[str]:
    """Every context key the app reads, found where it is read: each string a module of this
    package passes as a key (`get("key")`, `_text(get, "key", ...)`, `try_get_context("key")`). A
    key added to the settings is known without a second list to keep in step."""
    keys: set[str] = set()
    for module in sorted(Path(__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                keys.update(_keys_read(node))
    return frozenset(keys)


def _keys_read(call: ast.Call) -> Iterable[str]:
    args = call.args
    func = call.func
    reader = (isinstance(func, ast.Name) and func.id == "get") or (
        isinstance(func, ast.Attribute) and func.attr in ("try_get_context", "get_context")
    )
    if reader and args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        yield args[0].value
    for before, key in itertools.pairwise(args):
        passes_get = isinstance(before, ast.Name) and before.id == "get"
        if passes_get and isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value


def _squashed(key: str) -> str:
    return re.sub(r"[-_.\s]", "", key.lower())


# The keys the pinned CDK CLI itself keeps in cdk.json and cdk.context.json without a `:` (what
# `cdk acknowledge` and `cdk cli-telemetry` write); tests/cdk/test_context_keys.py reads the CLI's
# code for them, so an upgrade that adds one fails there, not at a user's deploy.
CDK_CLI_KEYS = frozenset({"acknowledged-issue-numbers", "cli-telemetry"})


def check_context_keys(context: Iterable[str]) -> None:
    """Refuse a context key the app does not read (`-c retentiondays=30` would deploy the default
    silently), naming the nearest known one. The CDK's own keys are left alone: feature flags
    (`@aws-cdk/...`), lookups and CLI keys (`aws:cdk:...`, `availability-zones:...`) and the
    CLI's own (CDK_CLI_KEYS); any other key, hyphenated or not (`retention-dyas`), is checked."""
    known = known_context_keys()
    squashed = {_squashed(k): k for k in known}
    for key in context:
        if key in known or key in CDK_CLI_KEYS or key.startswith("@") or ":" in key or "/" in key:
            continue
        near = difflib.get_close_matches(_squashed(key), list(squashed), n=1, cutoff=0.6)
        hint = f"did you mean {squashed[near[0]]}?" if near else f"known keys: {', '.join(sorted(known))}"
        raise SettingsError(f"unknown context key {key} (-c {key}=...): {hint}")


@dataclass(frozen=True)
class SesSettings:
    """What the stack wires up for SES; every name is of something that already exists, except
    the receipt rule when `create_rule` is on (docs/deploy.md, "Amazon SES")."""

    rule_set: str | None = None  # the receipt rule set whose rule invokes the function
    rule_name: str | None = None  # that rule: the invoke permission is scoped to its ARN
    create_rule: bool = False  # create the rule (AWS::SES::ReceiptRule) first in `rule_set`
    recipients: tuple[str, ...] = ()  # the created rule's recipient condition; none: all verified domains
    invocation_type: str = "Event"
    configuration_set: str | None = None  # outbound: its event destination is created here
    destination: str = "sns"  # sns or eventbridge

    @property
    def inbound(self) -> bool:
        return self.rule_set is not None

    @property
    def outbound(self) -> bool:
        return self.configuration_set is not None


OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
COLD_STORAGE_CLASSES = ("STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR")
# S3 lifecycle: a transition to STANDARD_IA or ONEZONE_IA needs objects at least 30 days old (the
# PutBucketLifecycleConfiguration is refused at deploy otherwise); INTELLIGENT_TIERING, GLACIER_IR,
# GLACIER and DEEP_ARCHIVE take any day from 0 (S3 API reference, Transition.Days).
MIN_TRANSITION_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
# With the trail on (the default), DynamoDB keeps only a hot window (TTL) and the Standard class: at
# a short retention writes outweigh storage, and Standard's writes are the cheaper
# (bench/trail_cost.py). A week: the CLI's `--hot-days` default (collector/history.py) is the same
# window, and a day a broken exporter missed (its runs look back trailExportDays, 3) can still be
# re-exported by hand for about four more days before TTL may take it (docs/deploy.md, TrailExportFailed).
TRAIL_HOT_WINDOW_DAYS = HOT_DAYS
# Lambda's system log level on every function: WARN keeps the platform lines of failures (a
# timeout, a crashed runtime, dropped logs) and drops platform.start / platform.report, two lines
# per invocation (docs/deploy.md, "Lambda's own log lines"); INFO or DEBUG bring them back.
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
# With trail=false the table is the only record: it keeps the year, in Standard-IA.
YEAR_DAYS = 365
# The table's default class follows its retention, not the trail: Standard-IA's storage costs 40%
# of Standard's and its requests 25% more, so Standard wins only while few days are stored, up to
# about two months (docs/deploy.md, `tableClass`; bench/bill.py prices both). 0 keeps for good.
STANDARD_CLASS_MAX_DAYS = 60


def export_reach_days(export_days: int) -> int:
    """How many days before today the exporter's scheduled runs re-read: max(trailExportDays - 1, 1)
    (collector/trail_handler.py `days_to_export`; today is never exported). A day they no longer
    reach has `retentionDays - reach - 1` days left before TTL may take its first records."""
    return max(export_days - 1, 1)


def default_table_class(retention_days: int) -> str:
    """Standard for a short hot window (1 to STANDARD_CLASS_MAX_DAYS), Standard-IA otherwise."""
    return "standard" if 0 < retention_days <= STANDARD_CLASS_MAX_DAYS else "infrequent-access"


@dataclass(frozen=True)
class TrailSettings:
    """The long-term trail in S3 with Athena (docs/deploy.md, "The trail in S3"); on unless `trail=false`."""

    enabled: bool = True
    # The Glue database: a name per account and region, so each stack after the first there needs
    # its own (docs/deploy.md, "Update"); the named queries and `audit --athena-database` follow it.
    database: str = DATABASE
    object_lock_days: int = 0  # 0: no Object Lock; otherwise each exported object is locked this long
    object_lock_mode: str = "GOVERNANCE"
    cold_after_days: int = 0  # 0: no lifecycle transition
    cold_storage_class: str = "STANDARD_IA"
    scan_limit_gb: int = 100  # Athena: BytesScannedCutoffPerQuery of the workgroup
    start_day: str = "2025-01-01"  # partition projection's first day
    export_days: int = 3  # each hourly run looks over the finished days of today's window (a lateness margin)
    # Each part is streamed (about 150 MB at any size, bench/trail_memory.py) by one thread: 1,769 MB
    # is one full vCPU (Lambda Developer Guide), and more memory would buy cores the writer leaves idle.
    export_memory_mb: int = 1769
    pyarrow_layer_arn: str | None = None  # otherwise the stack builds the layer (cdk/trail_layer.py)


@dataclass(frozen=True)
class StackSettings:
    organization_id: str | None
    stack_name: str = "WorkMailCollector"
    retention_days: int = TRAIL_HOT_WINDOW_DAYS  # the hot window; with trail=false the year, YEAR_DAYS
    log_retention_days: int = 90
    redact: bool = False
    enrichment: bool = False
    alarm_email: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    reserved_concurrency: int | None = 10
    rule_mode: str = "async"
    sources: tuple[Source, ...] = (Source.WORKMAIL,)
    ses: SesSettings = SesSettings()
    # Migration of a table deployed with the three old indexes (docs/deploy.md): the ones it still has.
    legacy_indexes: tuple[str, ...] = ()
    # False only for the first deploy of the migration to the sharded time index (docs/deploy.md):
    # the function writes each record's shard before the table gets the index that reads it.
    sharded_index: bool = True
    # The audit table's class: Standard for the hot window, where writes outweigh storage. Kept
    # longer (a year with trail=false, or a long retentionDays), storage is most of its bill and
    # Standard-IA's cheaper storage wins (default_table_class; bench/bill.py prices both).
    table_class: str = "standard"
    # Observability: coverage against WorkMail's own metrics, and the scheduled reconcile.
    coverage_threshold: int = 80  # percent of WorkMail's inbound count, per 15 minutes
    coverage_min_messages: int = 5  # WorkMail's inbound count (15 minutes) below which it is not judged
    workmail_metric_dimension: str = DEFAULT_WORKMAIL_DIMENSION
    reconcile: bool = False
    reconcile_fix: bool = False
    # The message trace on the mail-flow dashboard (cdk/trace.py); -c traceWidget=false leaves it out.
    trace_widget: bool = True
    trail: TrailSettings = TrailSettings()
    system_log_level: str = "WARN"  # Lambda's platform lines, on every function (SYSTEM_LOG_LEVELS)

    @property
    def synchronous(self) -> bool:
        """Whether something invokes the collector synchronously: a WorkMail rule run as `sync`, or
        the SES receipt rule the stack creates with RequestResponse (which asks for ruleMode=sync
        too). Only then does a throttle fail back to a caller (dashboards/health.py)."""
        synchronous_ses = self.ses.create_rule and self.ses.invocation_type == "RequestResponse"
        return self.rule_mode == "sync" or synchronous_ses

    @property
    def workmail(self) -> bool:
        return Source.WORKMAIL in self.sources

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> StackSettings:
        """Build from a context lookup such as `app.node.try_get_context`."""
        try:
            sources = parse_sources(_text(get, "sources", "workmail"), "context value sources")
        except ConfigError as error:
            raise SettingsError(str(error)) from None
        raw_org = get("organizationId")
        organization_id: str | None = None
        if Source.WORKMAIL in sources or (raw_org is not None and str(raw_org).strip()):
            if raw_org is None or str(raw_org).strip() == "":
                raise SettingsError(
                    "context value organizationId is required: run `cdk deploy -c organizationId=m-...` "
                    "with your WorkMail organization ID (WorkMail console -> Organizations), or "
                    "`-c sources=ses` for a deployment without WorkMail"
                )
            organization_id = str(raw_org).strip().lower()  # WorkMail shows and expects lower-case hex
            if not ORGANIZATION_ID.fullmatch(organization_id):
                raise SettingsError(
                    f"context value organizationId must be 'm-' followed by 32 hexadecimal characters, "
                    f"got {raw_org!r}"
                )

        defaults = cls(organization_id=organization_id, sources=sources)
        stack_name = _text(get, "stackName", defaults.stack_name)
        if not STACK_NAME.fullmatch(stack_name):
            raise SettingsError(
                "context value stackName must start with a letter and hold only letters, digits and "
                f"hyphens (at most 128), got {stack_name!r}"
            )

        trail = _trail(get)
        retention_days = _int(get, "retentionDays", defaults.retention_days if trail.enabled else YEAR_DAYS)
        if not 0 <= retention_days <= 36500:
            raise SettingsError("context value retentionDays must be between 0 (keep forever) and 36500")
        reach = export_reach_days(trail.export_days)
        if trail.enabled and 0 < retention_days <= reach + 1:
            at_least = f", and at least {reach + 2}" if reach + 1 > trail.export_days else ""
            raise SettingsError(
                f"context value retentionDays ({retention_days}) must be longer than trailExportDays "
                f"({trail.export_days}){at_least}: the scheduled exports re-read {reach} day(s) before "
                "today, and a day they no longer reach needs a day left for a re-export by hand "
                "before the table lets its records expire"
            )

        log_retention_days = _int(get, "logRetentionDays", defaults.log_retention_days)
        if log_retention_days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            raise SettingsError(f"context value logRetentionDays must be one of {allowed}")

        alarm_email = _text(get, "alarmEmail", "") or None
        if alarm_email is not None and not EMAIL.fullmatch(alarm_email):
            raise SettingsError(f"context value alarmEmail must be an e-mail address, got {alarm_email!r}")

        namespace = _text(get, "namespace", defaults.namespace)
        if not namespace or len(namespace) > 255 or namespace.startswith("AWS/"):
            raise SettingsError("context value namespace must be 1-255 characters and not start with 'AWS/'")

        rule_mode = _text(get, "ruleMode", defaults.rule_mode).lower()
        if rule_mode not in ("async", "sync"):
            raise SettingsError(
                f"context value ruleMode must be async or sync (the rule's mode), got {rule_mode!r}"
            )

        enrichment = _bool(get, "enrichment", defaults.enrichment)
        if enrichment and Source.WORKMAIL not in sources:
            raise SettingsError(
                "context value enrichment reads messages through WorkMail's message-flow API: it needs "
                "workmail in sources (SES sends its own SPF/DKIM/DMARC verdicts)"
            )
        legacy_indexes = _legacy_indexes(get)
        sharded_index = _bool(get, "shardedIndex", defaults.sharded_index)
        if not sharded_index and not legacy_indexes:
            raise SettingsError(
                "context value shardedIndex=false is for the first deploy of a migration, with "
                "legacyIndexes listing the indexes the table still has (docs/deploy.md); without them "
                "the table would have no time index"
            )
        return cls(
            organization_id=organization_id,
            stack_name=stack_name,
            retention_days=retention_days,
            log_retention_days=log_retention_days,
            redact=_bool(get, "redact", defaults.redact),
            enrichment=enrichment,
            alarm_email=alarm_email,
            namespace=namespace,
            reserved_concurrency=_concurrency(get, defaults.reserved_concurrency),
            rule_mode=rule_mode,
            sources=sources,
            ses=_ses(get, stack_name) if Source.SES in sources else SesSettings(),
            legacy_indexes=legacy_indexes,
            sharded_index=sharded_index,
            table_class=_table_class(get, default_table_class(retention_days)),
            trail=trail,
            system_log_level=_system_log_level(get, defaults.system_log_level),
            **_observability(get, defaults),
        )


def _observability(get: Callable[[str], Any], defaults: StackSettings) -> dict[str, Any]:
    """Coverage alarm and reconcile settings (docs/deploy.md, "Coverage" and "Reconcile")."""
    threshold = _int(get, "coverageThreshold", defaults.coverage_threshold)
    if not 1 <= threshold <= 100:
        raise SettingsError(
            f"context value coverageThreshold must be a percentage between 1 and 100, got {threshold}"
        )
    minimum = _int(get, "coverageMinMessages", defaults.coverage_min_messages)
    if not 1 <= minimum <= 1_000_000:
        raise SettingsError(
            "context value coverageMinMessages must be between 1 and 1000000 (WorkMail's inbound "
            f"messages per 15 minutes below which coverage is not judged), got {minimum}"
        )
    dimension = _text(get, "workmailMetricDimension", defaults.workmail_metric_dimension)
    try:
        check_dimension_name(dimension, "context value workmailMetricDimension")
    except ConfigError as error:
        raise SettingsError(str(error)) from None
    reconcile = _bool(get, "reconcile", defaults.reconcile)
    fix = _bool(get, "reconcileFix", defaults.reconcile_fix)
    if fix and not reconcile:
        raise SettingsError("context value reconcileFix=true needs reconcile=true (the scheduled reconcile)")
    return {
        "coverage_threshold": threshold,
        "coverage_min_messages": minimum,
        "workmail_metric_dimension": dimension,
        "reconcile": reconcile,
        "reconcile_fix": fix,
        "trace_widget": _bool(get, "traceWidget", defaults.trace_widget),
    }


def _ses_name(get: Callable[[str], Any], key: str, default: str | None = None) -> str | None:
    value = _text(get, key, default or "") or None
    if value is not None and not SES_NAME.fullmatch(value):
        raise SettingsError(
            f"context value {key} must be an SES name: letters, digits, '_', '-' or '.', starting and "
            f"ending with a letter or digit, at most 64 characters; got {value!r}"
        )
    return value


def _ses(get: Callable[[str], Any], stack_name: str) -> SesSettings:
    """SES's settings, read only when sources include ses."""
    rule_set = _ses_name(get, "sesRuleSet")
    configuration_set = _ses_name(get, "sesConfigurationSet")
    if rule_set is None and configuration_set is None:
        raise SettingsError(
            "sources include ses: give -c sesRuleSet=<receipt rule set> for SES receiving, "
            "-c sesConfigurationSet=<configuration set> for SES sending events, or both"
        )
    rule_name = _ses_name(get, "sesRuleName", f"{stack_name}-collector"[:64]) if rule_set else None
    create_rule = _bool(get, "sesCreateRule", False)
    if create_rule and rule_set is None:
        raise SettingsError(
            "context value sesCreateRule needs sesRuleSet: the rule set to create the rule in"
        )
    recipients = tuple(r for r in _text(get, "sesRecipients", "").replace(",", " ").split() if r)
    if recipients and not create_rule:
        raise SettingsError("context value sesRecipients is the condition of the rule sesCreateRule creates")
    invocation = _text(get, "sesInvocationType", "Event")
    matched = [t for t in SES_INVOCATION_TYPES if t.lower() == invocation.lower()]
    if not matched:
        raise SettingsError(
            f"context value sesInvocationType must be Event or RequestResponse, got {invocation!r}"
        )
    destination = _text(get, "sesEventDestination", "sns").lower()
    if destination not in SES_DESTINATIONS:
        raise SettingsError(
            f"context value sesEventDestination must be sns or eventbridge, got {destination!r}"
        )
    return SesSettings(
        rule_set=rule_set,
        rule_name=rule_name,
        create_rule=create_rule,
        recipients=recipients,
        invocation_type=matched[0],
        configuration_set=configuration_set,
        destination=destination,
    )


def _text(get: Callable[[str], Any], key: str, default: str) -> str:
    value = get(key)
    return default if value is None else str(value).strip()


def _int(get: Callable[[str], Any], key: str, default: int) -> int:
    value = get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SettingsError(f"context value {key} must be a whole number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"context value {key} must be a whole number, got {value!r}") from None


def _bool(get: Callable[[str], Any], key: str, default: bool) -> bool:
    try:
        return parse_bool(get(key), f"context value {key}", default)
    except ConfigError as error:
        raise SettingsError(str(error)) from None


def _concurrency(get: Callable[[str], Any], default: int | None) -> int | None:
    """A positive number, or `none` for accounts whose concurrency quota leaves nothing to reserve."""
    value = get("reservedConcurrency")
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in NONE:
        return None
    number = _int(get, "reservedConcurrency", 0)
    if not 1 <= number <= 1000:
        raise SettingsError(
            "context value reservedConcurrency must be between 1 and 1000, or 'none' to leave the "
            f"function unreserved, got {value!r}"
        )
    return number


def _legacy_indexes(get: Callable[[str], Any]) -> tuple[str, ...]:
    """The old indexes an existing table still has, during its migration: comma-separated names."""
    value = get("legacyIndexes")
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    names = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if names in (("none",), ("None",)):
        return ()
    unknown = [name for name in names if name not in LEGACY_INDEX_NAMES]
    if unknown:
        raise SettingsError(
            f"context value legacyIndexes names indexes this table never had: {', '.join(unknown)}; "
            f"list the ones your table still has, from {', '.join(LEGACY_INDEX_NAMES)} "
            "(see docs/deploy.md, Migrating a table that has the three old indexes, and Migrating to "
            "the sharded time index)"
        )
    return tuple(name for name in LEGACY_INDEX_NAMES if name in names)


def _system_log_level(get: Callable[[str], Any], default: str) -> str:
    given = _text(get, "lambdaSystemLogLevel", default)
    value = given.upper()
    if value not in SYSTEM_LOG_LEVELS:
        raise SettingsError(
            "context value lambdaSystemLogLevel must be DEBUG, INFO or WARN (Lambda's own log lines; "
            f"INFO adds platform.start and platform.report to every invocation), got {given!r}"
        )
    return value


TABLE_CLASSES = ("infrequent-access", "standard")


def _table_class(get: Callable[[str], Any], default: str) -> str:
    value = _text(get, "tableClass", default).lower().replace("_", "-")
    value = {"standard-infrequent-access": "infrequent-access", "ia": "infrequent-access"}.get(value, value)
    if value not in TABLE_CLASSES:
        raise SettingsError(
            f"context value tableClass must be infrequent-access or standard (the audit table's class), "
            f"got {get('tableClass')!r}"
        )
    return value


def _trail(get: Callable[[str], Any]) -> TrailSettings:
    """The trail's settings (docs/deploy.md, "The trail in S3"); the others are refused with trail=false."""
    defaults = TrailSettings()
    keys = (
        "trailDatabase",
        "trailObjectLockDays",
        "trailObjectLockMode",
        "trailColdAfterDays",
        "trailColdStorageClass",
        "trailScanLimitGb",
        "trailStartDay",
        "trailExportDays",
        "trailExportMemoryMb",
        "trailPyarrowLayerArn",
    )
    if not _bool(get, "trail", defaults.enabled):
        given = [key for key in keys if get(key) is not None]
        if given:
            raise SettingsError(
                f"context value {given[0]} is a setting of the trail in S3, which trail=false turns off"
            )
        return replace(defaults, enabled=False)
    database = _text(get, "trailDatabase", defaults.database)
    if not GLUE_DATABASE_NAME.fullmatch(database):
        raise SettingsError(
            "context value trailDatabase must be a Glue database name Athena reads unquoted: lowercase "
            f"letters, digits and '_', at most 255 characters; got {database!r}"
        )
    lock_days = _int(get, "trailObjectLockDays", defaults.object_lock_days)
    if not 0 <= lock_days <= 36500:
        raise SettingsError("context value trailObjectLockDays must be between 0 (no Object Lock) and 36500")
    mode = _text(get, "trailObjectLockMode", defaults.object_lock_mode).upper()
    if mode not in OBJECT_LOCK_MODES:
        raise SettingsError(
            f"context value trailObjectLockMode must be GOVERNANCE or COMPLIANCE, got {mode!r}"
        )
    if get("trailObjectLockMode") is not None and lock_days == 0:
        raise SettingsError("context value trailObjectLockMode needs trailObjectLockDays (the retention)")
    cold_days = _int(get, "trailColdAfterDays", defaults.cold_after_days)
    if not 0 <= cold_days <= 36500:
        raise SettingsError("context value trailColdAfterDays must be between 0 (stay in Standard) and 36500")
    cold_class = _text(get, "trailColdStorageClass", defaults.cold_storage_class).upper().replace("-", "_")
    if cold_class not in COLD_STORAGE_CLASSES:
        raise SettingsError(
            "context value trailColdStorageClass must be one Athena reads directly: "
            f"{', '.join(COLD_STORAGE_CLASSES)}; got {cold_class!r}"
        )
    least = MIN_TRANSITION_DAYS.get(cold_class, 0)
    if 0 < cold_days < least:
        raise SettingsError(
            f"context value trailColdAfterDays must be at least {least} with trailColdStorageClass "
            f"{cold_class} (S3 moves objects there only once they are {least} days old), got {cold_days}"
        )
    scan = _int(get, "trailScanLimitGb", defaults.scan_limit_gb)
    if not 1 <= scan <= 100_000:
        raise SettingsError(
            "context value trailScanLimitGb must be between 1 and 100000 (GB one query may scan)"
        )
    start = _text(get, "trailStartDay", defaults.start_day)
    try:
        first = parse_day(start)
    except ValueError:
        raise SettingsError(
            f"context value trailStartDay must be a UTC day as YYYY-MM-DD, got {start!r}"
        ) from None
    if first > utc_now().date():
        raise SettingsError(
            f"context value trailStartDay must not be in the future (partition projection starts"
            f" there and reads up to today), got {start}"
        )
    export_days = _int(get, "trailExportDays", defaults.export_days)
    if not 1 <= export_days <= 14:
        raise SettingsError(
            "context value trailExportDays must be between 1 and 14 (days back from today; today itself "
            "is never exported)"
        )
    memory = _int(get, "trailExportMemoryMb", defaults.export_memory_mb)
    if not 512 <= memory <= 10240:
        raise SettingsError("context value trailExportMemoryMb must be between 512 and 10240 (Lambda's most)")
    layer = _text(get, "trailPyarrowLayerArn", "") or None
    if layer is not None and not re.fullmatch(
        r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+", layer
    ):
        raise SettingsError(
            f"context value trailPyarrowLayerArn must be a Lambda layer version ARN, got {layer!r}"
        )
    return TrailSettings(
        enabled=True,
        database=database,
        object_lock_days=lock_days,
        object_lock_mode=mode,
        cold_after_days=cold_days,
        cold_storage_class=cold_class,
        scan_limit_gb=scan,
        start_day=start,
        export_days=export_days,
        export_memory_mb=memory,
        pyarrow_layer_arn=layer,
    )
