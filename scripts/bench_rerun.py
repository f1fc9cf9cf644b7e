"""Benchmark an ``ingest`` of unchanged input: its work beyond Python's start-up and imports.

Imports the CLI and every module an ingest imports (timed: that is start-up), then runs
``cowrie-report --db URL ingest PATHS --json`` in this process ``--runs`` times over input
the database holds already, timing each run. Usage (after one ingest of the same paths):

    .venv/bin/python scripts/bench_rerun.py --db sqlite:///cowrie.sqlite LOGS_DIR
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import statistics
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL already holding PATHS")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()

    started = time.perf_counter()
    cli = importlib.import_module("cowrieprocessor.cli.main")
    # The command imports these lazily: they belong to start-up all the same.
    for name in ("cli.ingest", "ingest.loader", "enrichment.runner", "rollups.refresh"):
        importlib.import_module(f"cowrieprocessor.{name}")

    imports = time.perf_counter() - started
    seconds = []
    with tempfile.TemporaryDirectory() as status:
        argv = ["--db", args.db, "--status-dir", status, "ingest", *args.paths, "--json"]
        for _ in range(args.runs):
            out = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                cli.cli.main(argv, prog_name="cowrie-report", standalone_mode=False)
            seconds.append(time.perf_counter() - started)
            if '"events_new": 0' not in out.getvalue():
                sys.exit(f"the input was not unchanged: {out.getvalue()[:300]}")
    print(f"imports {imports:.3f} s (once); unchanged re-run, work after them:")
    median = statistics.median(seconds)
    print(f"  median {median:.3f} s, min {min(seconds):.3f} s, max {max(seconds):.3f} s")


if __name__ == "__main__":
    main()
