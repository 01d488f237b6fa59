"""Fixtures for the reliability suite (the session's DynamoDB Local comes from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import make_table


@pytest.fixture
def audit_table(dynamodb_local: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new audit table with the production schema on the session's DynamoDB Local."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynamodb_local)
    return make_table(dynamodb_local)
