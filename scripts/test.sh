#!/usr/bin/env bash
# Set up .venv and run the whole test suite (SQLite and PostgreSQL).
# PYTHON and VENV choose another interpreter and venv (see setup-venv.sh).
# PostgreSQL comes from COWRIE_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
