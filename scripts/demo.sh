#!/usr/bin/env bash
# Install the collector and run it locally on the embedded SQLite store: replay the bundled
# WorkMail events through the same pipeline the Lambda runs, then show metrics and audit trail.
set -euo pipefail
. "$(dirname "$0")/setup-venv.sh" "trail"
mkdir -p .demo
rm -f .demo/audit.sqlite3* .demo/emf.jsonl
export COLLECTOR_SQLITE_PATH="$PWD/.demo/audit.sqlite3"

echo "== replaying samples/ (WorkMail events: both layouts, redeliveries, two broken payloads)"
workmail-collector replay samples/ --emf-out .demo/emf.jsonl
echo
echo "== one EMF document of $(wc -l < .demo/emf.jsonl) in .demo/emf.jsonl (CloudWatch reads these from the log)"
head -n 1 .demo/emf.jsonl | python -m json.tool
echo
echo "== the audit trail, newest first (workmail-collector audit list)"
workmail-collector audit list --limit 12
echo
echo "== a quarantined event keeps its reason and payload (workmail-collector audit get ... --json)"
workmail-collector audit get badbadbadbadbadbadbadbadbadbadba --json | python -m json.tool
echo
echo "Replaying again counts nothing twice; try:"
echo "  COLLECTOR_SQLITE_PATH=.demo/audit.sqlite3 .venv/bin/workmail-collector replay samples/ --emf-out /dev/null"
