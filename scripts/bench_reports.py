"""Report benchmark: `show weekly/monthly --format json|html` end to end on a busy history, next to
the same documents computed straight from the base tables (through the live views).

Usage: python scripts/bench_reports.py [--days 60] [--per-day 100000] [--runs 5]

The history (one sensor, ``--per-day`` sessions a day with attack-like skew: see
``_day_rows(skewed=True)`` in scripts/bench_refresh.py; written straight into the base
tables) is built once and cached in bench-data/; its rollups
are rebuilt once. A cached history at an older schema is upgraded first (the migrations
fill the rollups they add), so a stale cache never gives wrong figures. Then, in the same
run: the CLI end to end (process start included, median of ``--runs``, with the package's
bytecode compiled as an installed wheel has it), as JSON and as an HTML page (with its size),
the builder in process from the rollups,
and the builder in process from the live views over the base tables (daily views only: no
period rollups).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench_refresh import START, _analyze, add_day

import cowrieprocessor
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.db.migrate import current_revision, head_revision, upgrade
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.dal import LIVE_VIEWS, ROLLUP_TABLES, RollupTables
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import rebuild_all

DATA = Path(__file__).resolve().parent.parent / "bench-data"


def history(days: int, per_day: int) -> str:
    """URL of a cached SQLite database holding ``days`` days of ``per_day`` sessions."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"reports-{days}x{per_day}-skewed.sqlite"
    url = f"sqlite:///{path}"
    if path.exists():
        engine = create_engine_for_url(url)
        if current_revision(engine) != head_revision():
            started = time.perf_counter()
            upgrade(engine)
            seconds = time.perf_counter() - started
            print(f"cached history upgraded to {head_revision()} ({seconds:.0f} s)")
        engine.dispose()
        return url
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = create_engine_for_url(f"sqlite:///{partial}")
    upgrade(engine)
    started = time.perf_counter()
    for i in range(days):
        add_day(engine, i, per_day, skewed=True)
        print(f"  day {i + 1}/{days} written ({time.perf_counter() - started:.0f} s)", flush=True)
    _analyze(engine)
    t = time.perf_counter()
    rebuild_all(engine)
    print(
        f"history built in {started and time.perf_counter() - started:.0f} s "
        f"(rollup rebuild {time.perf_counter() - t:.0f} s)"
    )
    engine.dispose()
    partial.rename(path)
    return url


def median_seconds(cmd: list[str], runs: int) -> float:
    """Median wall time of running ``cmd`` (stdout discarded)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cli_seconds(
    url: str, report_type: str, label: str, runs: int, *extra: str, fmt: str = "json"
) -> float:
    """Median wall time of `cowrie-report show ... --format FMT`, process start included."""
    cmd = [sys.executable, "-m", "cowrieprocessor.cli.main", "--db", url, "show"]
    return median_seconds([*cmd, report_type, label, "--format", fmt, *extra], runs)


def startup_seconds(runs: int) -> float:
    """Median wall time of a process importing what `show` imports, and nothing else."""
    imports = "import cowrieprocessor.cli.main, cowrieprocessor.cli.show"
    return median_seconds([sys.executable, "-c", imports], runs)


def build_seconds(
    url: str, period: Period, tables: RollupTables = ROLLUP_TABLES
) -> tuple[float, dict]:
    """Wall time of building one aggregate document in process, from ``tables``."""
    engine = create_engine_for_url(url)
    builder = builder_for(period.report_type)(create_session_maker(engine), tables=tables)
    t = time.perf_counter()
    doc = builder.build(period)
    seconds = time.perf_counter() - t
    engine.dispose()
    return seconds, doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=100_000, help="sessions per day")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = history(args.days, args.per_day)
    last = START + timedelta(days=args.days - 1)
    week = Period.containing("weekly", last - timedelta(days=7))
    month = Period.containing("monthly", last.replace(day=1) - timedelta(days=1))
    print(
        f"{args.days} days x {args.per_day:,} sessions/day; week {week.label}, month {month.label}"
    )
    # An installed package has its bytecode compiled; PYTHONDONTWRITEBYTECODE (set on the
    # development VMs) would otherwise make every run compile the package's modules.
    package = Path(cowrieprocessor.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    print(f"start-up (Python and the imports of show): {startup_seconds(args.runs):.3f} s")
    for period in (week, month):
        cli = cli_seconds(url, period.report_type, period.label, args.runs)
        rollups, doc = build_seconds(url, period)
        live, live_doc = build_seconds(url, period, tables=LIVE_VIEWS)
        same = {k: v for k, v in doc.items() if k != "generated_at"} == {
            k: v for k, v in live_doc.items() if k != "generated_at"
        }
        print(
            f"{period.report_type:<8} show --format json end to end: {cli:6.3f} s (median of "
            f"{args.runs}); build from rollups {rollups:6.3f} s; from base tables "
            f"{live:8.2f} s -> {live / rollups:,.0f}x faster in process, "
            f"{live / cli:,.0f}x end to end; documents equal: {same}"
        )
        page = DATA / f"bench-{period.report_type}.html"
        html = cli_seconds(
            url,
            period.report_type,
            period.label,
            args.runs,
            "--output",
            str(page),
            "--force",
            fmt="html",
        )
        print(
            f"{period.report_type:<8} show --format html end to end: {html:6.3f} s "
            f"({html - cli:+.3f} s against json); page {page.stat().st_size / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
