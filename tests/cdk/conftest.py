"""Fixtures for the CDK app: the Lambda asset built once, each stack variant synthesized once.

Synthesis goes through `cdk.app.build_app`, the same function the CLI entry point uses, with the
context from the repository's cdk.json, so the tests see exactly what `cdk deploy` would deploy,
cdk-nag plugins included (a finding without an acknowledgment makes `app.synth()` raise).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdk.asset import build_asset
from tests.cdk.support import BOTH, CUSTOM_CONTEXT, ORG_ID, SES_ONLY, Synth, synthesize


@pytest.fixture(scope="session")
def asset_dir() -> Path:
    """The real Lambda asset (pip for cp313 / manylinux aarch64), cached under build/lambda-asset."""
    return build_asset()


@pytest.fixture(scope="session")
def default_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Only the required setting: what `cdk deploy -c organizationId=m-...` gives."""
    return synthesize({"organizationId": ORG_ID}, tmp_path_factory.mktemp("cdk-default"), asset_dir)


@pytest.fixture(scope="session")
def custom_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Every setting changed, passed as strings the way the CLI passes them."""
    return synthesize(CUSTOM_CONTEXT, tmp_path_factory.mktemp("cdk-custom"), asset_dir)


@pytest.fixture(scope="session", params=["default", "custom"])
def any_synth(request: pytest.FixtureRequest) -> Iterator[Synth]:
    yield request.getfixturevalue(f"{request.param}_synth")


# The scheduled reconcile on, with corrections, and the coverage settings changed.
RECONCILE_CONTEXT = {
    "organizationId": ORG_ID,
    "reconcile": "true",
    "reconcileFix": "true",
    "coverageThreshold": "70",
    "coverageMinMessages": "8",
    "workmailMetricDimension": "Organization",
    # The message trace widget, with redaction so its role's read of the key is synthesized too.
    "traceWidget": "true",
    "redact": "true",
    # A second stack in the account and region: its trail's own Glue database (test_trail_database.py).
    "trailDatabase": "other_org",
}


@pytest.fixture(scope="session")
def reconcile_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The scheduled reconcile on, with corrections, and the coverage settings changed."""
    return synthesize(RECONCILE_CONTEXT, tmp_path_factory.mktemp("cdk-reconcile"), asset_dir)


# The SES variants, here so every module shares one synthesis of each.
@pytest.fixture(scope="session")
def both_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(BOTH, tmp_path_factory.mktemp("cdk-ses-both"), asset_dir)


@pytest.fixture(scope="session")
def ses_only_synth(asset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(SES_ONLY, tmp_path_factory.mktemp("cdk-ses-only"), asset_dir)


@pytest.fixture(scope="session", params=["both", "ses-only"])
def ses_synth(request: pytest.FixtureRequest) -> Synth:
    synth: Synth = request.getfixturevalue(f"{request.param.replace('-', '_')}_synth")
    return synth
