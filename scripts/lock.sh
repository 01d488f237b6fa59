#!/usr/bin/env bash
# Refresh the hashed locks the Lambda assets are built from, resolved by uv for the Lambda runtime
# (CPython 3.13, manylinux aarch64), from pyproject.toml:
#   cdk/lambda-requirements.txt     the collector's runtime dependencies (what deploys)
#   bench/baseline-requirements.txt the bench extra (the Powertools baseline, packaged the same way)
# Keeps the current pins where pyproject.toml still allows them; `bash scripts/lock.sh --upgrade`
# takes the newest releases it allows (uv's --upgrade / --upgrade-package NAME pass through).
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "cdk"
target=(--python-platform aarch64-manylinux_2_28 --python-version 3.13 --generate-hashes --quiet)
uv pip compile pyproject.toml "${target[@]}" --custom-compile-command "bash scripts/lock.sh" \
  --output-file cdk/lambda-requirements.txt "$@"
# The baseline shares botocore with the collector (constrained by its lock), so the cold-start
# comparison is between the two stacks, not between two botocore releases.
{
  echo "# Written by scripts/lock.sh from pyproject.toml's bench extra; edit pyproject.toml instead."
  python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"]))'
} >bench/baseline-requirements.in
uv pip compile bench/baseline-requirements.in "${target[@]}" --constraint cdk/lambda-requirements.txt \
  --custom-compile-command "bash scripts/lock.sh" --output-file bench/baseline-requirements.txt "$@"
# The trail exporter's layer: pyarrow alone (the collector's asset does not carry it).
{
  echo "# Written by scripts/lock.sh from pyproject.toml's trail-exporter extra; edit pyproject.toml instead."
  python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["trail-exporter"]))'
} >cdk/trail-layer-requirements.in
uv pip compile cdk/trail-layer-requirements.in "${target[@]}" --constraint cdk/lambda-requirements.txt \
  --custom-compile-command "bash scripts/lock.sh" --output-file cdk/trail-layer-requirements.txt "$@"
