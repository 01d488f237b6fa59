#!/usr/bin/env bash
# Screenshots of the demo's dashboard pages for the README (docs/images/*.png): runs the demo,
# then takes them with headless Chromium (Debian's `chromium`, installed here where missing).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
bash scripts/demo.sh >/dev/null
. scripts/setup-venv.sh "test"
python scripts/screenshot.py
