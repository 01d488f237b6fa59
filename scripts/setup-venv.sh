# Sourced by the other scripts: one virtual environment, .venv, made from the project's own files.
# Usage: . scripts/setup-venv.sh EXTRAS   (EXTRAS like "test,cdk"; empty for the runtime alone)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
spec="."
if [ -n "${1:-}" ]; then spec=".[$1]"; fi
# Editable, so the CLI, the tests and mypy see the working tree. PYTHONWARNINGS drops setuptools'
# one informational box about editable installs (a warning only by category; nothing is wrong).
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
export PATH="$PWD/.venv/bin:$PATH"
