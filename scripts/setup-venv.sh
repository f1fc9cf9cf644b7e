#!/usr/bin/env bash
# Create .venv (if needed) and install the package with its html extra (the HTML report;
# the SQLite core otherwise), plus, if a dependency group is named (test, lint, dev), that
# group and the PostgreSQL and Elasticsearch extras. Re-running is cheap: pip skips what is
# already installed.
# PYTHON picks the interpreter (default python3), VENV the directory (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install --upgrade "pip>=25.1"
if [ $# -gt 0 ]; then
  "${pip[@]}" install --group "$1" -e ".[html,postgresql,elasticsearch]"
else
  "${pip[@]}" install -e ".[html]"
fi
