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
# Its key is the hash of its content, never the invocationId it carried (kept as claimedKey).
workmail-collector audit get invalid:sha256:f0aeb9efe96453db35ef609a1d7767708d7e5518cce41c54ff992d3e7e028db3 --json \
  | python -m json.tool
echo
echo "Replaying again counts nothing twice; try:"
echo "  COLLECTOR_SQLITE_PATH=.demo/audit.sqlite3 .venv/bin/workmail-collector replay samples/ --emf-out /dev/null"
echo
echo "== the stack's dashboards over this EMF, offline (workmail-collector dashboard); open them in a browser:"
workmail-collector dashboard --emf .demo/emf.jsonl --out .demo/dashboards
