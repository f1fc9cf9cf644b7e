#!/usr/bin/env bash
# Create .venv (if needed) and install the package with a dependency group (default: dev).
set -euo pipefail
cd "$(dirname "$0")/.."
group="${1:-dev}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --group "$group" -e .
