"""What every command shares: the user-mistake error, store options, and settings from arguments."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from collector.config import Settings


class UserError(Exception):
    """Reported as one line; exit code 2."""


def store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", choices=("local", "dynamodb"), help="local SQLite (default) or DynamoDB")
    p.add_argument("--db", help="SQLite file for the local store (COLLECTOR_SQLITE_PATH)")
    p.add_argument("--table", help="DynamoDB table name (COLLECTOR_TABLE_NAME)")
    p.add_argument(
        "--endpoint-url",
        help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 (AWS_ENDPOINT_URL_DYNAMODB)",
    )


def settings_from(args: argparse.Namespace, force_dynamodb: bool = False) -> Settings:
    if getattr(args, "endpoint_url", None):
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint_url
    settings = Settings.from_env()
    store = "dynamodb" if force_dynamodb else getattr(args, "store", None)
    changes: dict[str, Any] = {}
    if store:
        changes["store"] = "sqlite" if store == "local" else store
    if getattr(args, "db", None):
        changes["sqlite_path"] = Path(args.db)
    if getattr(args, "table", None):
        changes["table_name"] = args.table
    return replace(settings, **changes)
