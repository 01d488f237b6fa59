"""Which Python runs the CDK app: `cdk.json` starts it as `python3 -m cdk.app`, so outside the
project's virtual environment the first import fails. Standard library only, and no syntax newer
than Python 3.7, so the explanation itself runs on the interpreter it explains."""

from __future__ import annotations

import sys
from pathlib import Path

NEEDED = (3, 11)  # pyproject.toml's requires-python
ROOT = Path(__file__).resolve().parent.parent


def wrong_python(error: ImportError) -> str:
    """One line: what this interpreter lacks, and how to get the one the app needs."""
    found = f"{sys.executable} (Python {sys.version.split()[0]})"
    if sys.version_info[:2] < NEEDED:
        lacks = f"is older than Python {NEEDED[0]}.{NEEDED[1]}"
    else:
        lacks = f"has no {error.name or 'module it needs'}"
    venv = ROOT / ".venv" / "bin" / "activate"
    if venv.exists():
        how = "activate the project's virtual environment first: . .venv/bin/activate"
    else:
        how = (
            f"create it with Python {NEEDED[0]}.{NEEDED[1]} or newer: python3 -m venv .venv &&"
            " . .venv/bin/activate && pip install -e '.[cdk]'"
        )
    return (
        f"workmail-collector: the CDK app needs Python {NEEDED[0]}.{NEEDED[1]}+ with the project's cdk"
        f" extra (aws-cdk-lib, cdk-nag), and {found} {lacks}: {how}; then run npx cdk again"
    )
