#!/usr/bin/env bash
# Set up .venv, generate a week of realistic Cowrie logs for two sensors, ingest them into an
# embedded SQLite database, and show what the honeypots saw. Safe to run again: the second
# ingest reads nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
export COWRIE_DB_URL="sqlite:///$PWD/demo-data/cowrie.sqlite"
export COWRIE_STATUS_DIR="$PWD/demo-data/status"
cli=.venv/bin/cowrie-report
mkdir -p demo-data
if [ ! -d demo-data/logs ]; then
  "$cli" sample-logs demo-data/logs --days 7 --sessions-per-day 300
fi
"$cli" ingest demo-data/logs
"$cli" monitor --once
