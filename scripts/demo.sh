#!/usr/bin/env bash
# Set up .venv, generate two weeks of realistic Cowrie logs for two sensors (ending
# yesterday), ingest them into an embedded SQLite database, show last week's report, and write
# it as one HTML page (all sensors, with charts) whose path it prints last.
# Safe to run again: the second ingest reads nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
export COWRIE_DB_URL="sqlite:///$PWD/demo-data/cowrie.sqlite"
export COWRIE_STATUS_DIR="$PWD/demo-data/status"
cli=.venv/bin/cowrie-report
mkdir -p demo-data
if [ ! -d demo-data/logs ]; then
  start=$(.venv/bin/python -c 'import datetime as d; print(d.datetime.now(d.UTC).date() - d.timedelta(days=14))')
  "$cli" sample-logs demo-data/logs --days 14 --start "$start" --sessions-per-day 300
fi
"$cli" ingest demo-data/logs
"$cli" show weekly
"$cli" show weekly --all-sensors --format html --output demo-data/last-week.html --force
echo "$PWD/demo-data/last-week.html"
