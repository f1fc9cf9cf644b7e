"""Benchmark ``prune`` of one month of a 60-day history, beside a plain DELETE of the same rows.

Writes sample logs (``cowrie-report sample-logs``: 60 days from 2024-01-01), ingests them
into a fresh database per dialect, refreshes, copies the database (SQLite: the file;
PostgreSQL: ``CREATE DATABASE ... TEMPLATE``), then times on one copy ``prune`` of January
(``--raw-before 2024-02-01``) and on the other the baseline of the same run: one
``DELETE FROM raw_events WHERE event_timestamp < '2024-02-01'`` (without the work prune
adds: freezing, straddling sessions, giving the space back). Every daily, weekly and monthly
report (all sensors together) is compared before and after the prune. Usage:

    PYTHONPATH=. python scripts/bench_prune.py --sessions-per-day 1500
    PYTHONPATH=. python scripts/bench_prune.py --dialect postgresql --sessions-per-day 1500
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.db.migrate import upgrade
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.prune import prune
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import check, refresh_dirty
from cowrieprocessor.samples import SampleConfig, write_sample_logs
from cowrieprocessor.testing.postgres import create_database, drop_database

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = date(2024, 1, 1)
DAYS = 60
DAY = date(2024, 2, 1)  # prune January
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def reports(engine: Engine) -> list[dict[str, Any]]:
    """Every daily, weekly and monthly report of the history (all sensors together)."""
    days = [START + timedelta(days=i) for i in range(DAYS)]
    periods = dict.fromkeys(
        Period.containing(t, d) for t in ("daily", "weekly", "monthly") for d in days
    )
    factory = create_session_maker(engine)
    return [builder_for(p.report_type)(factory, now=lambda: NOW).build(p, None) for p in periods]


def _urls(dialect: str, workdir: Path) -> tuple[str, str]:
    if dialect == "sqlite":
        return f"sqlite:///{workdir / 'prune.sqlite'}", f"sqlite:///{workdir / 'base.sqlite'}"
    return (
        make_url(PG_URL).set(database="bench_prune_a").render_as_string(hide_password=False),
        make_url(PG_URL).set(database="bench_prune_b").render_as_string(hide_password=False),
    )


def run(dialect: str, logs: list[Path], workdir: Path) -> None:
    url, baseline_url = _urls(dialect, workdir)
    if dialect == "postgresql":
        for u in (url, baseline_url):
            drop_database(u)
        create_database(url)
    engine = create_engine_for_url(url)
    upgrade(engine)
    started = time.perf_counter()
    loaded = Loader(engine).ingest(logs)
    refresh_dirty(engine)
    print(
        f"{dialect}: ingested {loaded.events_new:,} events in"
        f" {time.perf_counter() - started:.1f} s (set-up, not timed below)"
    )
    before = reports(engine)
    engine.dispose()
    if dialect == "sqlite":
        shutil.copy(make_url(url).database or "", make_url(baseline_url).database or "")
    else:
        create_database(baseline_url, template=make_url(url).database)

    engine = create_engine_for_url(url)
    started = time.perf_counter()
    stats = prune(engine, DAY)
    pruned = time.perf_counter() - started
    same = reports(engine) == before
    clean = check(engine) == []
    engine.dispose()

    baseline = create_engine_for_url(baseline_url)
    started = time.perf_counter()
    with baseline.begin() as conn:
        deleted = conn.exec_driver_sql(
            f"DELETE FROM raw_events WHERE event_timestamp < '{DAY.isoformat()}'"
        ).rowcount
    plain = time.perf_counter() - started
    baseline.dispose()

    mib = 2**20
    print(
        f"{dialect}: prune --raw-before {DAY}: {pruned:.2f} s for {stats.events_deleted:,}"
        f" events ({len(stats.partitions_dropped)} partitions dropped, vacuum {stats.vacuum},"
        f" database {(stats.bytes_before or 0) / mib:,.1f} -> {(stats.bytes_after or 0) / mib:,.1f}"
        f" MiB); baseline plain DELETE of {deleted:,} rows: {plain:.2f} s;"
        f" ratio prune/baseline {pruned / plain:.2f}; prune phases (s): {stats.phase_seconds}"
    )
    print(f"{dialect}: reports identical before/after: {same}; check clean: {clean}")
    if dialect == "postgresql":
        for u in (url, baseline_url):
            drop_database(u)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sessions-per-day", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = SampleConfig(
            start=START, days=DAYS, sessions_per_day=args.sessions_per_day, compress=None
        )
        summary = write_sample_logs(workdir / "logs", config)
        print(f"history: {DAYS} days, {summary.events:,} events in {len(summary.files)} files")
        dialects = ("sqlite", "postgresql") if args.dialect == "both" else (args.dialect,)
        for dialect in dialects:
            run(dialect, list(summary.files), workdir)


if __name__ == "__main__":
    main()
