"""Ingest benchmark: events/s and peak RSS into SQLite and PostgreSQL, next to parse-only passes.

Usage: python scripts/bench_ingest.py [--events 1000000] [--events 4000000] [--pg-url URL]

Every figure comes from the same run: a json.loads-only and an orjson-only pass over the same
file are the baseline. Each ingest runs in a child process so its peak RSS is its own.
"End to end" is the whole `cowrie-report ingest` command: process start, schema creation,
loading and the rollup refresh at the end; "loading alone" is the loader's own rate from
its summary (reading, parsing and writing events and sessions).

On the loaded database, the rollups are then emptied and refreshed again, alternating the
reader threads (the default) with reading inside the transaction (the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson

from cowrieprocessor.samples import write_event_file
from cowrieprocessor.testing.postgres import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"


def log_file(events: int) -> Path:
    """A cached generated log of about ``events`` events."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"cowrie-{events}.json"
    if not path.exists():
        started = time.perf_counter()
        written = write_event_file(path.with_suffix(".tmp"), events, seed=1)
        path.with_suffix(".tmp").rename(path)
        print(f"generated {written:,} events in {time.perf_counter() - started:.1f} s -> {path}")
    return path


def parse_only(path: Path, loads: object) -> float:
    """Lines per second of a bare parse loop over the file."""
    started = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)  # type: ignore[operator]
            n += 1
    return n / (time.perf_counter() - started)


def run_child(args: list[str]) -> tuple[float, int, str]:
    """Run a command; return wall seconds, peak RSS in MiB and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err}")
    return seconds, usage.ru_maxrss // 1024, out


def ingest(url: str, path: Path) -> dict[str, object]:
    """Time one ingest (schema creation included) and an immediate unchanged re-run."""
    cmd = [
        sys.executable,
        "-m",
        "cowrieprocessor.cli.main",
        "--db",
        url,
        "ingest",
        str(path),
        "--json",
    ]
    seconds, rss, out = run_child(cmd)
    summary = json.loads(out)
    again_seconds, _, _ = run_child(cmd)
    events = summary["events_new"] + summary["events_duplicate"]
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "load_events_per_s": summary["events_per_second"],
        "peak_rss_mib": rss,
        "rerun_seconds": again_seconds,
    }


def compare_refresh(url: str) -> str:
    """:func:`refresh_comparison` in a child process.

    This process stays small: a child started by ``subprocess`` shares its memory until it
    runs the new program, so the parent's size would count in the next child's peak RSS.
    """
    cmd = [sys.executable, __file__, "--compare-refresh", url]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.rstrip()


def refresh_comparison(url: str, runs: int = 3) -> str:
    """Empty every rollup and refresh all buckets again, with and without reader threads."""
    from cowrieprocessor.db.engine import create_engine_for_url
    from cowrieprocessor.rollups.definitions import ALL_ROLLUPS
    from cowrieprocessor.rollups.refresh import READERS, refresh_dirty

    engine = create_engine_for_url(url)
    seconds: dict[int, list[float]] = {READERS: [], 0: []}
    try:
        for readers in (READERS, 0) * runs:
            with engine.begin() as conn:
                for rollup in ALL_ROLLUPS:
                    conn.exec_driver_sql(f"DELETE FROM {rollup.name}")
                conn.exec_driver_sql(
                    "INSERT INTO rollup_dirty (day, sensor, generation)"
                    " SELECT DISTINCT first_day, sensor, 1 FROM session_summaries"
                )
            stats = refresh_dirty(engine, readers=readers)
            seconds[readers].append(stats.seconds)
    finally:
        engine.dispose()
    return (
        f"{'':<10} refresh of {stats.buckets_total} buckets from empty rollups (median of"
        f" {runs}): {statistics.median(seconds[READERS]):.2f} s with {READERS} reader threads,"
        f" {statistics.median(seconds[0]):.2f} s reading in the transaction"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, action="append", help="events per file")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "COWRIE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--compare-refresh", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare_refresh:
        print(refresh_comparison(args.compare_refresh))
        return
    sizes = args.events or [1_000_000]
    for size in sizes:
        path = log_file(size)
        print(f"\n== {size:,} events, {path.stat().st_size / 2**20:,.0f} MiB ==")
        print(f"json.loads only  : {parse_only(path, json.loads):>12,.0f} lines/s")
        print(f"orjson.loads only: {parse_only(path, orjson.loads):>12,.0f} lines/s")
        sqlite_path = DATA / f"bench-{uuid.uuid4().hex[:8]}.sqlite"
        try:
            report("sqlite", ingest(f"sqlite:///{sqlite_path}", path))
            print(compare_refresh(f"sqlite:///{sqlite_path}"))
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        if not args.no_pg:
            from sqlalchemy.engine import make_url

            pg = make_url(args.pg_url).set(database=f"cowrie_bench_{uuid.uuid4().hex[:8]}")
            url = pg.render_as_string(hide_password=False)
            create_database(url)
            try:
                report("postgresql", ingest(url, path))
                print(compare_refresh(url))
            finally:
                drop_database(url)


def report(name: str, result: dict[str, object]) -> None:
    print(
        f"{name:<10} ingest: {result['events_per_s']:>10,.0f} events/s end to end "
        f"({result['events']:,} events in {result['seconds']:.1f} s), "
        f"loading alone {result['load_events_per_s']:,.0f} events/s, "
        f"peak RSS {result['peak_rss_mib']} MiB, unchanged re-run {result['rerun_seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
