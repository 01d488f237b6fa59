"""What every command shares: the user-mistake error, one-line parse errors, store options, settings
from arguments, and the one-line messages for what commonly goes wrong around AWS."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from collector.config import (
    ConfigError,
    Settings,
    check_endpoint_url,
    check_sqlite_path,
    check_table_name,
)
from collector.runtime import open_store
from collector.store import AuditStore, StoreNotFound
from collector.store.sqlite import NoAuditDatabase, SqliteStore, StorePathError

STORES = ("sqlite", "dynamodb")  # the names COLLECTOR_STORE takes, so the flag and the variable agree
# Where each endpoint the CLI calls is set, and the hosts of the services' own endpoints.
ENDPOINT_SETTINGS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "--endpoint-url or AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_CLOUDWATCH": "--cloudwatch-endpoint-url or AWS_ENDPOINT_URL_CLOUDWATCH",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL": "AWS_ENDPOINT_URL",
}
ENDPOINT_HOSTS = {
    "dynamodb.": "AWS_ENDPOINT_URL_DYNAMODB",
    "monitoring.": "AWS_ENDPOINT_URL_CLOUDWATCH",
    "secretsmanager.": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}


class UserError(Exception):
    """Reported as one line; exit code 2."""


class Parser(argparse.ArgumentParser):
    """Argument mistakes in one line (no usage block), exit code 2, like every other user mistake."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def at_least(minimum: int, most: int | None = None) -> Any:
    """An argparse type: a whole number of at least `minimum` and, given `most`, at most that, so a
    number too large for a date or a database is refused as the flag's mistake."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, got {value}")
        return value

    parse.__name__ = f"number >= {minimum}"
    return parse


def store_options(p: argparse.ArgumentParser, sqlite: bool = True) -> None:
    if sqlite:
        p.add_argument(
            "--store", choices=STORES, help="sqlite (the local file, default) or dynamodb (COLLECTOR_STORE)"
        )
        p.add_argument("--db", help="the SQLite file (COLLECTOR_SQLITE_PATH)")
    p.add_argument("--table", help="DynamoDB table name (COLLECTOR_TABLE_NAME)")
    p.add_argument(
        "--endpoint-url",
        help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 (AWS_ENDPOINT_URL_DYNAMODB)",
    )


def settings_from(args: argparse.Namespace, force_dynamodb: bool = False) -> Settings:
    """Settings from the environment, then the flags, each checked like its variable."""
    if getattr(args, "endpoint_url", None):
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = check_endpoint_url(args.endpoint_url, "--endpoint-url")
    settings = Settings.from_env()
    store = "dynamodb" if force_dynamodb else getattr(args, "store", None)
    changes: dict[str, Any] = {}
    if store:
        changes["store"] = store
    if getattr(args, "db", None):
        changes["sqlite_path"] = _explicit_db(args.db)
    if getattr(args, "table", None):
        changes["table_name"] = check_table_name(args.table, "--table")
    return replace(settings, **changes)


def _explicit_db(value: str) -> Path:
    """A --db in a folder that does not exist is a typo more often than a wish for a new folder:
    only the default location is created (a path under a file is left to the store's own message)."""
    path = check_sqlite_path(value, "--db")
    folder = path.parent
    if not folder.exists() and not any(a.exists() and not a.is_dir() for a in folder.parents):
        raise UserError(
            f"no audit database at {path}: the folder {folder} does not exist"
            " (--db needs an existing folder; create it first for a new database)"
        )
    return path


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")


def _endpoint_settings(url: str) -> str:
    """The flag or variable that points at `url`, so an unreachable endpoint's advice names the one
    to fix (DynamoDB's for the store, CloudWatch's for `reconcile`)."""
    where = urlsplit(url)[:2]
    named = [
        setting
        for variable, setting in ENDPOINT_SETTINGS.items()
        if os.environ.get(variable) and urlsplit(os.environ[variable].strip())[:2] == where
    ]
    if not named:  # the service's own endpoint: its host says which
        host = urlsplit(url).hostname or ""
        named = [ENDPOINT_SETTINGS[v] for prefix, v in ENDPOINT_HOSTS.items() if host.startswith(prefix)]
    return "; ".join(named) or ENDPOINT_SETTINGS["AWS_ENDPOINT_URL_DYNAMODB"]


def _where() -> str:
    endpoint = _endpoint()
    if endpoint:
        return f" at {endpoint}"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return f" in {region}" if region else ""


def explain(error: BaseException, settings: Settings | None) -> tuple[str, int] | None:
    """One line and an exit code for the failures a user can fix (2) or should know by name (1);
    None for anything else."""
    if isinstance(error, NoAuditDatabase):
        return f"{error}: nothing replayed there yet? Give --db or set COLLECTOR_SQLITE_PATH", 2
    if isinstance(error, StorePathError):
        return f"{error} (give another --db or COLLECTOR_SQLITE_PATH)", 2
    if isinstance(error, UserError | ConfigError | StoreNotFound):
        return str(error), 2
    try:
        from botocore import exceptions as aws
    except ImportError:  # pragma: no cover - botocore comes with aioboto3
        return None
    table = settings.table_name if settings is not None else "the audit table"
    if isinstance(error, aws.NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or a region in your AWS profile)", 2
    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", 2
    if isinstance(error, aws.ProfileNotFound):
        return f"{error}: check AWS_PROFILE", 2
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        url = getattr(error, "kwargs", {}).get("endpoint_url") or _endpoint() or "the endpoint"
        return f"cannot reach {url}: is it running? ({_endpoint_settings(url)})", 1
    if isinstance(error, aws.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return (
                f"table {table} does not exist{_where()}: create it with"
                f" `workmail-collector table create --table {table}`, or set --table / COLLECTOR_TABLE_NAME",
                2,
            )
        if code == "ResourceInUseException":
            return f"table {table} already exists{_where()}: nothing to create", 2
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"):
            return f"AWS refused the credentials ({code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID", 2
        if code == "AccessDeniedException":
            return f"access denied{_where()}: {error.response.get('Error', {}).get('Message', '')}", 1
    return None


def quiet_closed_stdout() -> None:
    """After a BrokenPipeError on stdout (`... | head`): point stdout at /dev/null so the
    interpreter's last flush cannot fail again with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
    finally:
        os.close(devnull)


async def open_for_reading(settings: Settings) -> AuditStore:
    """Reads never create, migrate or purge anything: a missing SQLite file is an error."""
    if settings.store == "sqlite":
        return SqliteStore(settings.sqlite_path, read_only=True)
    return await open_store(settings)


def print_table(columns: Sequence[str], rows: list[list[str]]) -> None:
    """A header and rows, each column padded to its widest cell, two spaces apart."""
    widths = [max(len(c), *(len(r[n]) for r in rows)) for n, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
