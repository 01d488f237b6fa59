"""The dashboards and alarms shipped for the offline pages (collector/view/data) are exactly what the
stack synthesizes, for each sources setting; `python -m cdk.dashboard_export` rewrites them."""

from __future__ import annotations

import json

import pytest

from cdk.dashboard_export import DATA_DIR, VARIANTS, export, text
from tests.cdk.support import BOTH, ORG_ID, SES_ONLY, Synth

FIXTURES = {"workmail": "default_synth", "ses": "ses_only_synth", "workmail+ses": "both_synth"}


def test_variants_are_the_synthesized_contexts() -> None:
    assert VARIANTS == {"workmail": {"organizationId": ORG_ID}, "ses": SES_ONLY, "workmail+ses": BOTH}


@pytest.mark.parametrize("variant", sorted(FIXTURES))
def test_shipped_definitions_equal_the_synth(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(FIXTURES[variant])
    shipped = (DATA_DIR / f"{variant}.json").read_text()
    assert shipped == text(export(synth.json, variant, synth.stack.stack_name)), (
        f"collector/view/data/{variant}.json is stale: run python -m cdk.dashboard_export"
    )


def test_every_alarm_a_widget_lists_is_shipped() -> None:
    for variant in VARIANTS:
        exported = json.loads((DATA_DIR / f"{variant}.json").read_text())
        listed = {
            arn
            for dashboard in exported["dashboards"]
            for widget in dashboard["body"]["widgets"]
            for arn in widget["properties"].get("alarms", [])
        }
        assert listed and listed <= set(exported["alarms"])
