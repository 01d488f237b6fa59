#!/usr/bin/env bash
# Install everything the tests need from the project's own files, then lint, type-check and test.
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "test,cdk,bench,trail"
npm ci --no-audit --no-fund --loglevel=error
. scripts/node-env.sh  # (setup-venv.sh cd-ed to the root) Node.js 24 from node_modules/.bin first on PATH, or a clear stop
# The Lambda asset (collector + the hash-checked lock's cp313 manylinux aarch64 wheels, 3.13
# bytecode) is built here, at install time, so the tests and `cdk synth` that follow reuse it from
# build/ and download nothing; its x86_64 twin (same lock and recipe) is what the tests run here.
python -m cdk.asset
python -m cdk.asset --platform x86_64
ruff check .
ruff format --check collector tests
mypy
mypy tests
python -m pytest "$@"
