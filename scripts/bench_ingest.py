"""Ingest benchmark: events/s and peak RSS into SQLite and PostgreSQL, next to parse-only passes.

Usage: python scripts/bench_ingest.py [--events 1000000] [--events 4000000] [--pg-url URL]
       python scripts/bench_ingest.py --logs DIR [--logs DIR] [--baseline-repo ../main]

``--logs`` benchmarks a directory of logs as it is (many plain, gz and bz2 files: the sample
logs) instead of a generated single file. ``--baseline-repo`` ingests the same input with
another checkout's code too (its own ``.venv``), for before/after figures from one run.
Sizes: the database against the uncompressed input, and ``raw_events`` (table, indexes
and, on PostgreSQL, every partition) per stored event.

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
import bz2
import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO

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


def log_files(path: Path) -> list[Path]:
    """The log files of ``path`` (itself, or the files under it)."""
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def _open(path: Path) -> io.BufferedIOBase | IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return path.open("rb")


def input_bytes(path: Path) -> int:
    """Uncompressed bytes of the logs."""
    total = 0
    for file in log_files(path):
        with _open(file) as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total


def parse_only(path: Path, loads: object) -> float:
    """Lines per second of a bare parse loop over the logs (decompressing them too; lines
    that are not JSON by themselves count, as the loader reads them too)."""
    started = time.perf_counter()
    n = 0
    for file in log_files(path):
        with _open(file) as fh:
            for line in fh:
                try:  # noqa: SIM105 - cheaper per line than contextlib.suppress
                    loads(line)  # type: ignore[operator]
                except ValueError:
                    pass
                n += 1
    return n / (time.perf_counter() - started)


def run_child(args: list[str], cwd: Path = ROOT) -> tuple[float, int, str]:
    """Run a command in ``cwd`` (``python -m`` imports the package found there first);
    return wall seconds, peak RSS in MiB and its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err}")
    return seconds, usage.ru_maxrss // 1024, out


def ingest(url: str, path: Path, repo: Path = ROOT) -> dict[str, object]:
    """Time one ingest (schema creation included) and an immediate unchanged re-run, with
    the code of the checkout ``repo`` (run by its own ``.venv``)."""
    python = sys.executable if repo == ROOT else str(repo / ".venv/bin/python")
    cmd = [
        python,
        "-m",
        "cowrieprocessor.cli.main",
        "--db",
        url,
        "ingest",
        str(path),
        "--json",
    ]
    seconds, rss, out = run_child(cmd, repo)
    summary = json.loads(out)
    again_seconds, _, _ = run_child(cmd, repo)
    events = summary["events_new"] + summary["events_duplicate"]
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "load_events_per_s": summary["events_per_second"],
        "peak_rss_mib": rss,
        "rerun_seconds": again_seconds,
        **sizes(url, summary["events_new"]),
    }


def sizes(url: str, stored: int) -> dict[str, float]:
    """Bytes of the database and of raw_events (with its indexes) per stored event."""
    from cowrieprocessor.db.engine import create_engine_for_url

    engine = create_engine_for_url(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("CHECKPOINT")
                database = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
                raw = conn.exec_driver_sql(  # partitioned, or one plain table
                    "SELECT COALESCE(SUM(pg_total_relation_size(relid)),"
                    " pg_total_relation_size('raw_events'))"
                    " FROM pg_partition_tree('raw_events')"
                )
            else:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                database = conn.exec_driver_sql(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
                )
                raw = conn.exec_driver_sql(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = 'raw_events' OR name IN"
                    " (SELECT name FROM sqlite_master WHERE tbl_name = 'raw_events')"
                )
            database_bytes, raw_bytes = database.scalar_one(), raw.scalar_one()
    finally:
        engine.dispose()
    return {"database_bytes": int(database_bytes), "raw_bytes_per_event": raw_bytes / stored}


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
    parser.add_argument("--logs", type=Path, action="append", help="a directory of logs")
    parser.add_argument(
        "--baseline-repo", type=Path, help="also ingest with this checkout's code (its .venv)"
    )
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-refresh-comparison", action="store_true")
    parser.add_argument("--compare-refresh", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare_refresh:
        print(refresh_comparison(args.compare_refresh))
        return
    inputs = [p.resolve() for p in args.logs or []] or [
        log_file(size) for size in args.events or [1_000_000]
    ]
    codes = [("this", ROOT)]
    if args.baseline_repo:
        codes.append(("baseline", args.baseline_repo.resolve()))
    for path in inputs:
        raw_input = input_bytes(path)
        files = log_files(path)
        print(f"\n== {path}: {len(files)} files, {raw_input / 2**20:,.1f} MiB uncompressed ==")
        loads_rate = parse_only(path, json.loads)
        print(f"json.loads only  : {loads_rate:>12,.0f} lines/s")
        print(f"orjson.loads only: {parse_only(path, orjson.loads):>12,.0f} lines/s")
        for code, repo in codes:
            sqlite_path = DATA / f"bench-{uuid.uuid4().hex[:8]}.sqlite"
            DATA.mkdir(exist_ok=True)
            try:
                result = ingest(f"sqlite:///{sqlite_path}", path, repo)
                report(f"sqlite/{code}", result, raw_input, loads_rate)
                if code == "this" and not args.no_refresh_comparison:
                    print(compare_refresh(f"sqlite:///{sqlite_path}"))
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
            if args.no_pg:
                continue
            from sqlalchemy.engine import make_url

            pg = make_url(args.pg_url).set(database=f"cowrie_bench_{uuid.uuid4().hex[:8]}")
            url = pg.render_as_string(hide_password=False)
            create_database(url)
            try:
                report(f"postgresql/{code}", ingest(url, path, repo), raw_input, loads_rate)
                if code == "this" and not args.no_refresh_comparison:
                    print(compare_refresh(url))
            finally:
                drop_database(url)


def report(name: str, result: dict[str, object], raw_input: int, loads_rate: float) -> None:
    rate = float(result["events_per_s"])  # type: ignore[arg-type]
    print(
        f"{name:<20} ingest: {rate:>10,.0f} events/s end to end "
        f"({result['events']:,} events in {result['seconds']:.1f} s;"
        f" json.loads-only is {loads_rate / rate:.1f}x faster), "
        f"loading alone {result['load_events_per_s']:,.0f} events/s, "
        f"peak RSS {result['peak_rss_mib']} MiB, unchanged re-run {result['rerun_seconds']:.2f} s"
    )
    database = int(result["database_bytes"])  # type: ignore[call-overload]
    print(
        f"{'':<20} size: database {database / 2**20:,.1f} MiB = {database / raw_input:.2f}x the"
        f" uncompressed input; raw_events {result['raw_bytes_per_event']:,.0f} bytes/event"
    )


if __name__ == "__main__":
    main()
