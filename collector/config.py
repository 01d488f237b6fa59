"""Settings from the environment, validated once per container.

| variable | default | meaning |
|---|---|---|
| COLLECTOR_STORE | `dynamodb` on Lambda, else `sqlite` | where audit records go |
| COLLECTOR_TABLE_NAME | `workmail-collector-audit` | DynamoDB table |
| COLLECTOR_TIME_INDEX | `record` | `stream`: no per-record time-index entry; the index consumer pages them |
| COLLECTOR_SQLITE_PATH | `$XDG_DATA_HOME/workmail-collector/audit.sqlite3` | local embedded store |
| COLLECTOR_NAMESPACE | `WorkMailCollector` | CloudWatch metric namespace |
| COLLECTOR_SERVICE | Lambda function name, else `workmail-collector` | value of the `Service` dimension |
| COLLECTOR_RETENTION_DAYS | `365` | audit records expire (TTL) after this many days; `0` keeps forever |
| COLLECTOR_REDACT | `false` | store keyed hashes (HMAC-SHA256) of addresses and subject |
| COLLECTOR_REDACTION_KEY | (none) | the HMAC key; COLLECTOR_REDACT needs it or the secret below |
| COLLECTOR_REDACTION_KEY_SECRET_ARN | (none) | Secrets Manager secret with the key, read once per container |
| COLLECTOR_LOG_PII | `false` | allow subject and addresses in logs and EMF properties |
| COLLECTOR_LOG_LEVEL | `INFO` | Python log level |
| COLLECTOR_ENRICH | `false` | read each message via the message-flow API: size, attachments, SPF/DKIM/DMARC |
| COLLECTOR_ENRICH_BUDGET_SECONDS | `8` | most time one enrichment may take, retries included |
| COLLECTOR_RULE_MODE | `async` | `sync` when a synchronous Run Lambda rule invokes the function |
| COLLECTOR_SYNC_BUDGET_SECONDS | `12` | in sync mode, answer DEFAULT within this time (WorkMail waits 15 s) |
| COLLECTOR_FAILURE_QUEUE_URL | (none) | SQS queue for events a sync invocation could not record in time |
| COLLECTOR_SOURCES | `workmail` | `workmail`, `ses` or `workmail,ses`: whose optional metrics to emit |
| AWS_ENDPOINT_URL | (none) | standard SDK variable: a local endpoint for every client (or _DYNAMODB...) |

Each value is checked against what the service behind it accepts (DynamoDB's table name rules, the
shape of an SQS queue URL and of a Secrets Manager ARN, an endpoint URL, a file path), so a bad one
fails the cold start with a message naming the variable, instead of every invocation after it.
The CLI checks its flags (--table, --db, --endpoint-url) with the same functions. Settings are
checked together too: in sync mode with enrichment on, the budget must leave an enrichment attempt
time after the handler's reserves (at least 5.5 s), or every enrichment would time out unseen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from collector.model import Source
from collector.store.schema import TIME_INDEX_MODES

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
STORES = ("sqlite", "dynamodb")
RULE_MODES = ("async", "sync")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_TABLE = "workmail-collector-audit"
DEFAULT_NAMESPACE = "WorkMailCollector"
SOURCE_NAMES = {source.value.lower(): source for source in Source}  # workmail, ses
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# https://sqs.<region>.amazonaws.com/<account>/<queue> (or any endpoint: LocalStack, moto); queue
# names are 1-80 letters, digits, '-' and '_', FIFO ones ending in .fifo.
QUEUE_PATH = re.compile(r"/\d{12}/(?=[A-Za-z0-9_.-]{1,80}$)[A-Za-z0-9_-]+(\.fifo)?")
# CloudWatch dimension names: 1-255 printable ASCII characters, not starting with ':'.
DIMENSION_NAME = re.compile(r"[!-9;-~][!-~]{0,254}")
SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}")
# The SDK's endpoint variables for the services the collector calls.
ENDPOINT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW",
    "AWS_ENDPOINT_URL_CLOUDWATCH",  # the reconcile's
    "AWS_ENDPOINT_URL_S3",  # the trail exporter's
)
# In sync mode the handler keeps these back from the budget (collector/handler.py reads them
# here): the failure queue's hand-over, then the audit write and EMF line after enrichment. An
# enrichment attempt needs at least the last one to reach the message-flow API and read a message.
QUEUE_RESERVE_SECONDS = 1.5
WRITE_RESERVE_SECONDS = 3.0
MIN_ENRICH_ATTEMPT_SECONDS = 1.0


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    store: str = "sqlite"
    table_name: str = DEFAULT_TABLE
    time_index: str = "record"
    sqlite_path: Path = Path("audit.sqlite3")
    namespace: str = DEFAULT_NAMESPACE
    service: str = "workmail-collector"
    retention_days: int = 365
    redact: bool = False
    redaction_key: bytes | None = None
    redaction_secret_arn: str | None = None
    log_pii: bool = False
    log_level: str = "INFO"
    enrich: bool = False
    enrich_budget_seconds: float = 8.0
    rule_mode: str = "async"
    sync_budget_seconds: float = 12.0
    failure_queue_url: str | None = None
    sources: tuple[Source, ...] = (Source.WORKMAIL,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        on_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))

        store = env.get("COLLECTOR_STORE", "dynamodb" if on_lambda else "sqlite").strip().lower()
        if store not in STORES:
            raise ConfigError(f"COLLECTOR_STORE must be one of {', '.join(STORES)}, got {store!r}")
        if on_lambda and store == "sqlite":
            # Every invocation would fail (the package folder is read-only) or, in /tmp, keep its
            # records only as long as one container lives: not an audit trail.
            raise ConfigError(
                "COLLECTOR_STORE=sqlite keeps no audit trail on Lambda (read-only package folder,"
                " /tmp lost with each container): use dynamodb, the stack's store"
            )

        table = check_table_name(
            env.get("COLLECTOR_TABLE_NAME", DEFAULT_TABLE).strip(), "COLLECTOR_TABLE_NAME"
        )
        time_index = env.get("COLLECTOR_TIME_INDEX", "record").strip().lower() or "record"
        if time_index not in TIME_INDEX_MODES:
            raise ConfigError(
                "COLLECTOR_TIME_INDEX must be record (each record indexed as it is written) or stream"
                f" (the index consumer pages records from the table's stream), got {time_index!r}"
            )
        for name in ENDPOINT_VARIABLES:
            if env.get(name):
                check_endpoint_url(env[name], name)

        namespace = env.get("COLLECTOR_NAMESPACE", DEFAULT_NAMESPACE).strip()
        if not namespace or len(namespace) > 255 or namespace.startswith("AWS/"):
            raise ConfigError("COLLECTOR_NAMESPACE must be 1-255 characters and not start with 'AWS/'")

        service = env.get("COLLECTOR_SERVICE") or env.get("AWS_LAMBDA_FUNCTION_NAME") or "workmail-collector"
        _check_emf_names(namespace, service)

        raw_days = env.get("COLLECTOR_RETENTION_DAYS", "365").strip()
        try:
            retention_days = int(raw_days)
        except ValueError:
            raise ConfigError(f"COLLECTOR_RETENTION_DAYS must be a whole number, got {raw_days!r}") from None
        if not 0 <= retention_days <= 36500:
            raise ConfigError("COLLECTOR_RETENTION_DAYS must be between 0 and 36500")

        redact = parse_bool(env.get("COLLECTOR_REDACT"), "COLLECTOR_REDACT")
        key_text = env.get("COLLECTOR_REDACTION_KEY", "")
        secret_arn = env.get("COLLECTOR_REDACTION_KEY_SECRET_ARN", "").strip() or None
        if secret_arn is not None and not SECRET_ARN.fullmatch(secret_arn):
            raise ConfigError(
                "COLLECTOR_REDACTION_KEY_SECRET_ARN must be a Secrets Manager secret ARN like"
                f" arn:aws:secretsmanager:us-east-1:123456789012:secret:my-key-AbCdEf, got {secret_arn!r}"
            )
        if redact and secret_arn is None:
            check_redaction_key(key_text)

        level = env.get("COLLECTOR_LOG_LEVEL", "INFO").strip().upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"COLLECTOR_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")

        rule_mode = env.get("COLLECTOR_RULE_MODE", "async").strip().lower()
        if rule_mode not in RULE_MODES:
            raise ConfigError(f"COLLECTOR_RULE_MODE must be async or sync, got {rule_mode!r}")
        failure_queue_url = env.get("COLLECTOR_FAILURE_QUEUE_URL", "").strip() or None
        if failure_queue_url is not None:
            check_queue_url(failure_queue_url, "COLLECTOR_FAILURE_QUEUE_URL")
        if rule_mode == "sync" and failure_queue_url is None:
            raise ConfigError(
                "COLLECTOR_RULE_MODE=sync needs COLLECTOR_FAILURE_QUEUE_URL: an event that cannot be"
                " recorded within the budget is kept there while WorkMail gets its answer"
            )

        enrich = parse_bool(env.get("COLLECTOR_ENRICH"), "COLLECTOR_ENRICH")
        sync_budget = _seconds(env, "COLLECTOR_SYNC_BUDGET_SECONDS", 12.0, 14.0)
        if rule_mode == "sync" and enrich:
            check_sync_budget(sync_budget)

        sqlite_path = check_sqlite_path(
            env.get("COLLECTOR_SQLITE_PATH") or str(_data_home(env) / "workmail-collector" / "audit.sqlite3"),
            "COLLECTOR_SQLITE_PATH",
        )
        return cls(
            store=store,
            table_name=table,
            time_index=time_index,
            sqlite_path=sqlite_path,
            namespace=namespace,
            service=service,
            retention_days=retention_days,
            redact=redact,
            redaction_key=key_text.encode() if redact and secret_arn is None else None,
            redaction_secret_arn=secret_arn if redact else None,
            log_pii=parse_bool(env.get("COLLECTOR_LOG_PII"), "COLLECTOR_LOG_PII"),
            log_level=level,
            enrich=enrich,
            enrich_budget_seconds=_seconds(env, "COLLECTOR_ENRICH_BUDGET_SECONDS", 8.0, 60.0),
            rule_mode=rule_mode,
            sync_budget_seconds=sync_budget,
            failure_queue_url=failure_queue_url,
            sources=parse_sources(env.get("COLLECTOR_SOURCES", "workmail"), "COLLECTOR_SOURCES"),
        )


def _data_home(env: Mapping[str, str]) -> Path:
    """Where the default SQLite file lives: asked only when COLLECTOR_SQLITE_PATH is not set."""
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"])
    try:
        home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    except RuntimeError:  # no HOME and no home directory for this user
        raise ConfigError(
            "no home directory to keep the audit database in: set COLLECTOR_SQLITE_PATH"
        ) from None
    return home / ".local" / "share"


def check_sync_budget(budget: float) -> None:
    """With enrichment on in sync mode, the budget must leave an enrichment attempt some time after
    the reserves: below that, every enrichment would start past its deadline and time out."""
    least = QUEUE_RESERVE_SECONDS + WRITE_RESERVE_SECONDS + MIN_ENRICH_ATTEMPT_SECONDS
    if budget < least:
        raise ConfigError(
            f"COLLECTOR_SYNC_BUDGET_SECONDS must be at least {least:g} with COLLECTOR_ENRICH on in sync mode"
            f" ({QUEUE_RESERVE_SECONDS:g} s for the failure queue, {WRITE_RESERVE_SECONDS:g} s for the"
            f" audit write, {MIN_ENRICH_ATTEMPT_SECONDS:g} s for enrichment), got {budget:g}"
        )


def check_min_coverage(value: float, name: str) -> float:
    """The reconcile's minimum inbound coverage: a percentage, so NaN, infinity or 500 is a typo."""
    if not 0 < value <= 100:  # False for NaN too
        raise ConfigError(f"{name} must be a percentage above 0 and at most 100, got {value:g}")
    return value


def check_dimension_name(value: str, name: str) -> str:
    """The dimension WorkMail's metrics carry: CloudWatch refuses a malformed one only at the
    request, as a multi-line parameter error, so it is checked where it is set."""
    if not DIMENSION_NAME.fullmatch(value):
        raise ConfigError(
            f"{name} must be a CloudWatch dimension name (1-255 printable ASCII characters, not starting"
            f" with ':'), got {value!r}; `aws cloudwatch list-metrics --namespace AWS/WorkMail` shows"
            " the one WorkMail uses"
        )
    return value


def normalize_organization_id(value: str | None) -> str | None:
    """A WorkMail organization ID as its metrics' dimension carries it (m- and lowercase hex), so the
    CLI and the scheduled reconcile read the same series whatever case they were given."""
    return (value or "").strip().lower() or None


def parse_sources(text: str, name: str) -> tuple[Source, ...]:
    """`workmail`, `ses` or both (comma- or space-separated), in a stable order.

    It decides which optional metrics are emitted (SES's sending metrics, SES verdicts as
    SPF/DKIM/DMARC failures); every known source is recorded whatever it says."""
    words = [w for w in text.replace(",", " ").lower().split() if w]
    unknown = [w for w in words if w not in SOURCE_NAMES]
    if unknown or not words:
        raise ConfigError(
            f"{name} must name one or both of {', '.join(SOURCE_NAMES)} (e.g. workmail,ses), got {text!r}"
        )
    return tuple(source for source in Source if source.value.lower() in words)


def _check_emf_names(namespace: str, service: str) -> None:
    """EMF refuses these only when a document is written, after the audit write: check them here,
    at the cold start, so a bad value fails loudly once instead of every invocation after its write."""
    from aws_embedded_metrics.exceptions import InvalidDimensionError, InvalidNamespaceError
    from aws_embedded_metrics.validator import validate_dimension_set, validate_namespace

    try:
        validate_namespace(namespace)
    except InvalidNamespaceError as error:
        raise ConfigError(f"COLLECTOR_NAMESPACE is not a valid CloudWatch namespace: {error}") from None
    try:
        validate_dimension_set({"Service": service, "FlowDirection": "UNKNOWN"})
    except InvalidDimensionError as error:
        raise ConfigError(
            f"COLLECTOR_SERVICE (or the function name) is not a valid dimension value: {error}"
        ) from None


def check_table_name(value: str, name: str) -> str:
    if not TABLE_NAME.fullmatch(value):
        raise ConfigError(
            f"{name} must be a DynamoDB table name: 3-255 characters, only letters, digits, '_', '-'"
            f" and '.', got {value!r}"
        )
    return value


def check_queue_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or not QUEUE_PATH.fullmatch(parts.path):
        raise ConfigError(
            f"{name} must be an SQS queue URL like"
            f" https://sqs.us-east-1.amazonaws.com/123456789012/my-queue, got {value!r}"
        )
    return value


def check_endpoint_url(value: str, name: str) -> str:
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an endpoint URL like http://127.0.0.1:8000, got {value!r}")
    return value.strip()


def check_sqlite_path(value: str, name: str) -> Path:
    if not value.strip() or "\0" in value:
        raise ConfigError(f"{name} must be a file path, got {value!r}")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~user of no known user, or ~ with no home directory
        raise ConfigError(f"{name} starts with ~ but that home directory is unknown: {value!r}") from None
    if path.is_dir():
        raise ConfigError(f"{name} must be a file path, not the folder {value}")
    return path


def check_redaction_key(key: str) -> None:
    if len(key) < 16:
        raise ConfigError(
            "COLLECTOR_REDACT is on but COLLECTOR_REDACTION_KEY is missing or shorter than 16 characters"
            " (or set COLLECTOR_REDACTION_KEY_SECRET_ARN)"
        )


def _seconds(env: Mapping[str, str], name: str, default: float, most: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0.5 <= value <= most:
        raise ConfigError(f"{name} must be between 0.5 and {most:g} seconds")
    return value


def parse_bool(value: object, name: str, default: bool = False) -> bool:
    """The one reading of every on/off setting (environment variables and CDK context alike), so a
    typo such as `ture` is refused everywhere instead of quietly meaning `false` in some places.

    Any casing and surrounding whitespace of true/false, yes/no, on/off or 1/0; JSON booleans as
    they are; unset or blank is `default`. `name` is how the message names the setting."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return default
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (or yes/no, on/off, 1/0), got {value!r}")
