"""CDK entry point (`cdk.json`: `python3 -m cdk.app`), also used by the tests to build the same app.

cdk-nag's AwsSolutions and Serverless packs run as CDK policy-validation plugins on every synth:
any finding not acknowledged in code next to its resource stops `cdk synth` and `cdk deploy`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cdk.interpreter import wrong_python

try:
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from cdk.asset import build_asset
    from cdk.settings import SettingsError, StackSettings, check_context_keys
    from cdk.stack import CollectorStack
except ImportError as missing:  # `npx cdk synth` with a python3 that is not the project's
    if __name__ != "__main__":
        raise
    print(wrong_python(missing), file=sys.stderr)
    raise SystemExit(2) from None

DESCRIPTION = "WorkMail collector: records Amazon WorkMail email-flow events (asynchronous Run Lambda rule)"


def build_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None, asset_dir: Path | None = None
) -> tuple[App, CollectorStack]:
    """The app with its one stack and the nag packs; `context` adds to what the CLI passes."""
    app = App(context=dict(context or {}), outdir=outdir)
    check_context_keys(app.node.get_all_context())
    settings = StackSettings.from_context(app.node.try_get_context)
    stack = CollectorStack(
        app,
        "WorkMailCollector",
        stack_name=settings.stack_name,
        description=DESCRIPTION,
        settings=settings,
        asset_dir=asset_dir or build_asset(),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except SettingsError as error:
        print(f"workmail-collector: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
