#!/usr/bin/env bash
# Install everything the tests need from the project's own files, then lint, type-check and test.
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "test,cdk"
npm ci --no-audit --no-fund --loglevel=error
ruff check .
ruff format --check collector tests
mypy
mypy tests
python -m pytest "$@"
