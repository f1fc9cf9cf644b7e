"""Database size against the uncompressed input, per table, on two kinds of logs.

(a) awkward: 3 sensors, gz / bz2 / plain files, late events (a tenth of each day's
sessions end up in the next day's file), and a fifth of the sessions send a unique command
of 10-120 KB; (b) real-log shapes: ``cowrie-report sample-logs`` with its default dirt.
Each is ingested by ``cowrie-report ingest`` (a child process) into a fresh SQLite file
and a fresh PostgreSQL database; the script prints size / uncompressed input and the
largest tables. ``--baseline-repo DIR`` does the same with another checkout's ``.venv``
(for example a checkout of main), in the same run.

    .venv/bin/python scripts/bench_storage.py --baseline-repo ../main
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from cowrieprocessor.testing.postgres import create_database, drop_database

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SENSORS = ("edge-1", "edge-2", "edge-3")
COMMON = ("uname -a", "cat /proc/cpuinfo", "id", "w", "free -m", "cd /tmp; ls -la")


def awkward_logs(out: Path, days: int, sessions_per_day: int, seed: int = 1) -> list[Path]:
    """Write the awkward logs: one file per sensor and day, compressed in turn."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    lines: dict[tuple[str, int], list[str]] = {}
    for day in range(days):
        for n in range(sessions_per_day):
            sensor = SENSORS[n % 3]
            sid = f"{day:03d}{n:05d}{rng.randrange(16**4):04x}"
            t = start + timedelta(days=day, seconds=rng.randrange(86_000))
            late = day + 1 < days and rng.random() < 0.1  # written in the next day's file
            events = [
                ("cowrie.session.connect", {"src_ip": f"198.51.{n % 256}.{day % 256}"}),
                ("cowrie.login.success", {"username": "root", "password": f"pw{n % 50}"}),
                *[("cowrie.command.input", {"input": c}) for c in rng.sample(COMMON, 3)],
            ]
            if rng.random() < 0.2:  # a unique command of 10-120 KB
                size = rng.randrange(10_000, 120_000)
                blob = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=size))
                events.append(("cowrie.command.input", {"input": f"echo {blob} | base64 -d"}))
            events.append(("cowrie.session.closed", {}))
            for i, (eventid, fields) in enumerate(events):
                ts = (t + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                event = {"eventid": eventid, "timestamp": ts, "session": sid, "sensor": sensor}
                if eventid == "cowrie.command.input":
                    fields = {**fields, "message": f"CMD: {fields['input']}"}
                event.update(fields)
                lines.setdefault((sensor, day + late), []).append(json.dumps(event))
    files = []
    for (sensor, day), rows in sorted(lines.items()):
        data = ("\n".join(rows) + "\n").encode()
        base = out / sensor / f"cowrie.json.{(start + timedelta(days=day)).date()}"
        base.parent.mkdir(parents=True, exist_ok=True)
        kind = day % 3
        path = base.with_name(base.name + ("", ".gz", ".bz2")[kind])
        path.write_bytes((lambda b: b, gzip.compress, bz2.compress)[kind](data))
        files.append(path)
    return files


def input_bytes(files: list[Path]) -> int:
    """Uncompressed size of the logs."""
    total = 0
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else bz2.open if f.suffix == ".bz2" else open
        with opener(f, "rb") as fh:
            total += len(fh.read())
    return total


def ingest(python: Path, url: str, files: list[Path], work: Path) -> None:
    """``cowrie-report ingest`` of ``files`` into ``url`` with that interpreter's install
    (run from ``work``: from a checkout, ``python -m`` would import the checkout's code)."""
    cmd = [str(python.parent / "cowrie-report"), "--db", url, "ingest", *map(str, files)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=work)


def sqlite_sizes(path: Path) -> dict[str, int]:
    """Bytes per table (its indexes included) of a SQLite file, from dbstat."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d"
        " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
    ).fetchall()
    conn.close()
    return dict(rows)


#: Texts still stored as text, not interned: (table, SQL of the bytes they hold).
TEXTS = {
    "usernames+passwords": (
        ("daily_credentials", "username || password"),
        ("daily_usernames", "username"),
        ("daily_passwords", "password"),
        ("session_summaries", "COALESCE(username, '') || COALESCE(password, '')"),
        (
            "period_values",
            "CASE WHEN figure IN ('username', 'password', 'combination') THEN value ELSE '' END",
        ),
    ),
    "urls": (
        ("files", "COALESCE(url, '')"),
        ("daily_files", "url"),
        ("period_values", "CASE WHEN figure = 'url' THEN value ELSE '' END"),
    ),
    "client versions+hassh": (
        ("session_summaries", "COALESCE(client_version, '') || COALESCE(hassh, '')"),
        ("daily_client_versions", "client_version"),
        ("daily_hassh", "hassh"),
    ),
}


def text_costs(path: Path) -> dict[str, int]:
    """Bytes of the texts that are not interned, per kind (SQLite; the rollups' key
    indexes hold them a second time)."""
    conn = sqlite3.connect(path)
    costs = {}
    for kind, places in TEXTS.items():
        costs[kind] = sum(
            conn.execute(
                f"SELECT COALESCE(SUM(length(CAST({expr} AS BLOB))), 0) FROM {table}"
            ).fetchone()[0]
            for table, expr in places
        )
    conn.close()
    return costs


def pg_sizes(url: str) -> dict[str, int]:
    """Bytes per table (indexes and TOAST included) of a PostgreSQL database; a partition
    counts under its parent (``raw_events``)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT COALESCE(p.relname, c.relname), SUM(pg_total_relation_size(c.oid))::bigint"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
            " LEFT JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') GROUP BY 1"
        ).all()
    engine.dispose()
    return dict(rows)


def measure(python: Path, files: list[Path], work: Path, name: str) -> dict[str, dict[str, int]]:
    """Sizes per table on both dialects after ingesting ``files``."""
    db = work / f"{name}.sqlite"
    db.unlink(missing_ok=True)
    ingest(python, f"sqlite:///{db}", files, work)
    url = f"{PG}bench_storage_{name}"
    drop_database(url)
    create_database(url)
    try:
        ingest(python, url, files, work)
        return {"sqlite": sqlite_sizes(db), "postgresql": pg_sizes(url), "texts": text_costs(db)}
    finally:
        drop_database(url)


def report(label: str, sizes: dict[str, int], raw_input: int) -> None:
    """One line of totals, then the biggest tables."""
    total = sum(sizes.values())
    raw = sizes.get("raw_events", 0)
    print(
        f"  {label:<22} {total / 2**20:8.1f} MiB  {total / raw_input:5.2f}x input;"
        f" raw_events {raw / 2**20:.1f} MiB ({raw / total:.0%});"
        f" without it {(total - raw) / raw_input:.2f}x"
    )
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    print("    " + ", ".join(f"{t} {b / 2**20:.1f}" for t, b in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-storage"))
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--sessions-per-day", type=int, default=700)
    parser.add_argument("--baseline-repo", type=Path, help="another checkout with a .venv")
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    logs = {
        "awkward": awkward_logs(work / "awkward", args.days, args.sessions_per_day),
    }
    real = work / "real"
    subprocess.run(
        [sys.executable, "-m", "cowrieprocessor.cli.main", "sample-logs", str(real)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    logs["real-shapes"] = sorted(p for p in real.rglob("cowrie.json*") if p.is_file())
    here = Path(sys.executable)
    codes = {"this checkout": here}
    if args.baseline_repo:
        codes["baseline"] = args.baseline_repo / ".venv" / "bin" / "python"
    for kind, files in logs.items():
        raw_input = input_bytes(files)
        print(f"{kind}: {len(files)} files, {raw_input / 2**20:.1f} MiB uncompressed")
        for label, python in codes.items():
            sizes = measure(python, files, work, kind.replace("-", "_"))
            texts = sizes.pop("texts")
            for dialect, per_table in sizes.items():
                report(f"{label} {dialect}", per_table, raw_input)
            print(
                "    not interned (SQLite, value bytes, indexes not counted): "
                + ", ".join(f"{k} {b / 2**20:.2f} MiB" for k, b in texts.items())
            )


if __name__ == "__main__":
    main()
