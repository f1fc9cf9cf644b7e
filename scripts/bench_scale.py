"""Scale-out benchmark: `ingest --jobs N` into PostgreSQL with 1, 2 and 4 loaders.

Usage: python scripts/bench_scale.py [--sensors 8] [--days 7] [--sessions-per-day 4000]
       [--jobs 1 --jobs 2 --jobs 4] [--rounds 1] [--pg-url URL]

Every run loads the same generated logs (`cowrie-report sample-logs`, several sensors,
gz and plain files) end to end into a fresh database: process start, loading and the
rollup refresh, enrichment off. Each round runs every --jobs value in turn and shows its
events/s beside that round's 1-loader run (ratio). CPU time is measured, not guessed:
the client's (the command and every process it waited for: loaders, parse processes)
from wait4(), and the PostgreSQL server's by reading /proc/<pid>/stat of every backend
connected to the benchmark database, polled every 0.1 s (so the server must run on this
machine; a backend's last 0.1 s may be missed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from cowrieprocessor.testing.postgres import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
TICKS = os.sysconf("SC_CLK_TCK")


def sample_logs(sensors: int, days: int, sessions_per_day: int) -> Path:
    """Generated logs (cached under bench-data/), one directory per sensor."""
    out = DATA / f"scale-{sensors}s-{days}d-{sessions_per_day}"
    if not out.exists():
        names = ",".join(f"sensor-{i:02d}" for i in range(1, sensors + 1))
        tmp = out.with_suffix(".tmp")
        subprocess.run(
            [
                *(sys.executable, "-m", "cowrieprocessor.cli.main", "sample-logs", str(tmp)),
                *("--sensors", names, "--days", str(days), "--seed", "16"),
                *("--sessions-per-day", str(sessions_per_day)),
            ],
            check=True,
        )
        tmp.rename(out)
    return out


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class ServerCPU:
    """CPU seconds of the server processes connected to one database, while it runs."""

    def __init__(self, server_url: str, database: str) -> None:
        self.server_url = server_url
        self.database = database
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ServerCPU:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _poll(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            while not self._stop.is_set():
                pids = [
                    pid
                    for (pid,) in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                    )
                ]
                for pid in pids:
                    cpu = _cpu_seconds(pid)
                    if cpu is not None:
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                self._stop.wait(0.1)


def run(server_url: str, logs: Path, jobs: int) -> dict[str, float]:
    """One end-to-end ingest into a fresh database; its figures."""
    name = f"bench_scale_{uuid.uuid4().hex[:8]}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    create_database(url)
    try:
        with tempfile.TemporaryDirectory() as status:
            cmd = [sys.executable, "-m", "cowrieprocessor.cli.main", "--db", url]
            cmd += ["--status-dir", status, "ingest", "--jobs", str(jobs), "--no-enrich"]
            cmd += ["--json", str(logs)]
            libpq = make_url(server_url).set(drivername="postgresql")
            with ServerCPU(libpq.render_as_string(hide_password=False), name) as server:
                started = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                out, err = proc.communicate()
                # communicate() reaped it already: its rusage comes from the children's total.
                wall = time.perf_counter() - started
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode()}")
        summary = json.loads(out)
        with psycopg.connect(libpq.render_as_string(hide_password=False)) as conn:
            size = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    finally:
        drop_database(url)
    events = summary["events_new"] + summary["events_duplicate"]
    return {
        "events": events,
        "wall": wall,
        "load": summary["seconds"],
        "refresh": summary["refresh"]["seconds"],
        "server_cpu": server.seconds,
        "retries": summary["retries"],
        "bytes": size[0] if size else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sensors", type=int, default=8)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--sessions-per-day", type=int, default=4000)
    parser.add_argument("--jobs", type=int, action="append", help="loaders (1, 2, 4)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "COWRIE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    jobs_list = sorted({1, *(args.jobs or [2, 4])})  # the 1-loader baseline first
    logs = sample_logs(args.sensors, args.days, args.sessions_per_day)
    size = sum(p.stat().st_size for p in logs.rglob("*") if p.is_file())
    print(f"logs: {logs} ({size / 1e6:.1f} MB on disk), {os.cpu_count()} cores")
    header = (
        f"{'round':>5} {'jobs':>4} {'events':>9} {'wall s':>7} {'events/s':>9} {'ratio':>6}"
        f" {'load s':>7} {'load ev/s':>9} {'ratio':>6} {'refresh s':>9}"
        f" {'server cpu s':>12} {'server us/ev':>12}"
        f" {'client cpu s':>12} {'client us/ev':>12} {'retries':>7} {'db B/ev':>7}"
    )
    print(header)
    for number in range(1, args.rounds + 1):
        baseline = load_baseline = None
        for jobs in jobs_list:
            before = os.times()
            figures = run(args.pg_url, logs, jobs)
            after = os.times()
            client = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            rate = figures["events"] / figures["wall"]
            if jobs == 1:
                baseline = rate
            load_rate = figures["events"] / figures["load"]
            if jobs == 1:
                load_baseline = load_rate
            ratio = rate / baseline if baseline else float("nan")
            per_event = 1e6 / figures["events"]
            print(
                f"{number:>5} {jobs:>4} {figures['events']:>9,.0f} {figures['wall']:>7.2f}"
                f" {rate:>9,.0f} {ratio:>6.2f} {figures['load']:>7.2f}"
                f" {load_rate:>9,.0f} {load_rate / load_baseline if load_baseline else 0:>6.2f}"
                f" {figures['refresh']:>9.2f} {figures['server_cpu']:>12.2f}"
                f" {figures['server_cpu'] * per_event:>12.1f} {client:>12.2f}"
                f" {client * per_event:>12.1f} {figures['retries']:>7.0f}"
                f" {figures['bytes'] / figures['events']:>7.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
