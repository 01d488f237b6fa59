"""`-c lambdaSystemLogLevel`: Lambda's own log lines, WARN unless told (docs/deploy.md, "Lambda's
own log lines"). The synthesized levels are checked on every function in tests/cdk/test_stack.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.template import facts
from cdk.app import build_app
from cdk.settings import SettingsError, StackSettings
from tests.cdk.support import ORG_ID, Synth, run_app


def level(**context: str) -> str:
    return StackSettings.from_context({"organizationId": ORG_ID, **context}.get).system_log_level


def test_warn_by_default_and_any_case_of_the_three_levels() -> None:
    assert level() == "WARN"
    assert [level(lambdaSystemLogLevel=v) for v in ("info", "Debug", " WARN ")] == ["INFO", "DEBUG", "WARN"]


@pytest.mark.parametrize("value", ["ERROR", "verbose", "", "TRACE"])
def test_another_value_is_refused_naming_the_three(value: str) -> None:
    with pytest.raises(SettingsError, match="lambdaSystemLogLevel must be DEBUG, INFO or WARN"):
        level(lambdaSystemLogLevel=value)


def test_a_misspelt_key_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="did you mean lambdaSystemLogLevel\\?"):
        build_app(
            {"organizationId": ORG_ID, "systemLogLevel": "INFO"}, outdir=str(tmp_path), asset_dir=tmp_path
        )


def test_the_cdk_cli_hands_a_bad_level_over_in_one_line() -> None:
    """As `cdk synth -c lambdaSystemLogLevel=verbose` runs the app: exit 2, one line on stderr."""
    result = run_app({"organizationId": ORG_ID, "lambdaSystemLogLevel": "verbose"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "workmail-collector: context value lambdaSystemLogLevel must be DEBUG, INFO or WARN (Lambda's own"
        " log lines; INFO adds platform.start and platform.report to every invocation), got 'verbose'"
    ]


def test_the_bill_counts_platform_lines_only_when_the_template_keeps_them(
    default_synth: Synth, custom_synth: Synth
) -> None:
    """bench/template.py reads LoggingConfig.SystemLogLevel: WARN (default) drops start/report."""
    assert (facts(default_synth.json).system_log_level, facts(default_synth.json).platform_lines) == (
        "WARN",
        False,
    )
    assert (facts(custom_synth.json).system_log_level, facts(custom_synth.json).platform_lines) == (
        "INFO",
        True,
    )
