"""Benchmark rollup refresh: one more day on 1 day vs N days of history, and a full rebuild.

It also refreshes the last three days again, with the reader threads and without them
(reading the live views inside the transaction), alternating, as the baseline of the same
run.

History is written straight into the base tables (session_summaries, command_stats, files,
and the login events of raw_events, which is all the rollups read), not through log
parsing, so that many days of a busy sensor can be built in minutes. Each new day is marked
dirty the way the loader marks it. Usage:

    PYTHONPATH=. python scripts/bench_refresh.py --dialect sqlite --days 60 --per-day 20000
    PYTHONPATH=. python scripts/bench_refresh.py --dialect postgresql --days 60 --per-day 20000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from cowrieprocessor.db.engine import create_engine_for_url, dbapi_connection
from cowrieprocessor.db.migrate import upgrade
from cowrieprocessor.db.partitions import ensure_month_partitions
from cowrieprocessor.db.strings import intern
from cowrieprocessor.rollups.refresh import READERS, rebuild_all, refresh_dirty
from cowrieprocessor.testing.postgres import create_database, drop_database

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = date(2024, 1, 1)
SUMMARY_COLS = (
    "sensor, session_id, src_ip, protocol, first_event_at, first_day, last_event_at,"
    " duration_seconds, client_version, hassh, login_attempts, login_successes, username,"
    " password, command_count, file_downloads, file_uploads, vt_flagged, dshield_flagged,"
    " enrichment, updated_at"
)
COMMAND_COLS = "sensor, session_id, command_id, occurrences, first_seen, last_seen"
FILE_COLS = (
    "sensor, session_id, direction, url, shasum, outfile, occurrences, first_seen,"
    " vt_positives, vt_total, vt_label"
)
RAW_COLS = (
    "event_hash, session_id, sensor, event_type, event_timestamp, src_ip, payload, source_id,"
    " source_offset, ingested_at"
)


def _day_rows(
    day_index: int, per_day: int, sensor: str, skewed: bool = False
) -> Iterator[tuple[str, tuple]]:
    """One day's rows. Uniform draws (the default) are the worst case for the rollups;
    ``skewed`` draws source IPs and credentials the way attacks look: a hot set of scanners
    and wordlist pairs plus a long tail that changes from day to day (about 25k IPs and 20k
    username/password pairs a day at 100k sessions, like the sample-log generator)."""
    rng = random.Random(day_index)
    day = START + timedelta(days=day_index)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for n in range(per_day):
        sid = f"{day_index:04x}{n:08x}"
        t0 = midnight + timedelta(seconds=rng.uniform(0, 86_399))
        dur = rng.uniform(0, 600)
        t1 = t0 + timedelta(seconds=dur)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        ts0, ts1 = t0.strftime(fmt), t1.strftime(fmt)
        if skewed:
            n_ip = int(60_000 * rng.random() ** 8)
            n_ip += day_index * 3_000 if n_ip > 5_000 else 0  # the tail moves on daily
            ip = f"10.{n_ip >> 16 & 255}.{n_ip >> 8 & 255}.{n_ip & 255}"
            pair = int(50_000 * rng.random() ** 10)
            user, pw = f"user{pair % 300}", f"pw{pair}"
        else:
            ip = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}"
            user, pw = f"user{rng.randrange(200)}", f"pw{rng.randrange(2000)}"
        commands = rng.choice((0, 0, 1, 2, 3))
        download = rng.random() < 0.1
        yield (
            "summary",
            (
                sensor,
                sid,
                ip,
                rng.choice(("ssh", "telnet")),
                ts0,
                day.isoformat(),
                ts1,
                dur,
                f"SSH-2.0-client{rng.randrange(30)}",
                f"{rng.randrange(40):032x}",
                2,
                1,
                user,
                pw,
                commands,
                int(download),
                0,
                False,
                False,
                "{}",
                ts1,
            ),
        )
        for c in rng.sample(range(500), commands):
            yield "command", (sensor, sid, f"command number {c}", 1, ts0, ts0)
        if download:
            sha = f"{rng.randrange(1000):064x}"
            yield (
                "file",
                (
                    sensor,
                    sid,
                    "download",
                    f"http://198.51.100.{rng.randrange(256)}/{sha[:8]}",
                    sha,
                    f"dl/{sha}",
                    1,
                    ts0,
                    None,
                    None,
                    None,
                ),
            )
        for kind, u, p in (("cowrie.login.failed", "root", pw), ("cowrie.login.success", user, pw)):
            # Stored without the fields the columns hold (ingest/stored.py).
            payload = json.dumps({"username": u, "password": p})
            whole = json.dumps({"username": u, "password": p, "session": sid, "eventid": kind})
            digest = hashlib.blake2b(whole.encode(), digest_size=16).digest()
            yield "raw", (digest, sid, sensor, kind, ts0, ip, payload, None, 0, ts1)


MARK = (
    "INSERT INTO rollup_dirty (day, sensor, generation) VALUES (:day, :sensor, 1)"
    " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
)
TABLES = {
    "summary": ("session_summaries", SUMMARY_COLS),
    "command": ("command_stats", COMMAND_COLS),
    "file": ("files", FILE_COLS),
    "raw": ("raw_events", RAW_COLS),
}


def _pg_value(value: object) -> object:
    """Timestamps are naive UTC text: say so to PostgreSQL."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " ":
        return value + "+00"
    return value


def add_day(
    engine: Engine, day_index: int, per_day: int, sensor: str = "busy", skewed: bool = False
) -> None:
    """Write one day of sessions and mark its bucket dirty, in one transaction."""
    buckets: dict[str, list[tuple]] = {k: [] for k in TABLES}
    for kind, row in _day_rows(day_index, per_day, sensor, skewed):
        buckets[kind].append(row)
    day = (START + timedelta(days=day_index)).isoformat()
    with engine.begin() as conn:
        ensure_month_partitions(conn, [START + timedelta(days=day_index)])
    with engine.begin() as conn:
        ids = intern(conn, (row[2] for row in buckets["command"]))
        buckets["command"] = [(s, sid, ids[c], *rest) for s, sid, c, *rest in buckets["command"]]
        if conn.dialect.name == "postgresql":
            raw = dbapi_connection(conn)
            with raw.cursor() as cur:
                for kind, (table, cols) in TABLES.items():
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in buckets[kind]:
                            copy.write_row(tuple(_pg_value(v) for v in row))
        else:
            for kind, (table, cols) in TABLES.items():
                marks = ",".join("?" * (cols.count(",") + 1))
                conn.exec_driver_sql(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks})", buckets[kind]
                )
        _mark(conn, day, sensor)


def _mark(conn: Connection, day: str, sensor: str) -> None:
    """Mark the bucket dirty in ``conn``'s transaction."""
    conn.execute(text(MARK), {"day": day, "sensor": sensor})


def _analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # VACUUM cannot run in a transaction; SQLAlchemy restores the pooled connection's
            # isolation level afterwards (setting the driver's autocommit would leak into the
            # refresh, whose transaction would silently be one per statement).
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def fresh_engine(dialect: str, name: str, workdir: Path) -> Engine:
    if dialect == "sqlite":
        path = workdir / f"{name}.sqlite"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        drop_database(url)
        create_database(url)
    engine = create_engine_for_url(url)
    upgrade(engine)
    return engine


def scenario(dialect: str, history: int, per_day: int, workdir: Path) -> dict[str, float]:
    """Build ``history`` days, bring the rollups up to date, add one day, time its refresh."""
    engine = fresh_engine(dialect, f"bench_refresh_{history}", workdir)
    figures: dict[str, float] = {}
    try:
        t = time.perf_counter()
        for i in range(history):
            add_day(engine, i, per_day)
        figures["build_s"] = time.perf_counter() - t
        _analyze(engine)
        t = time.perf_counter()
        rebuild_all(engine)
        figures["rebuild_s"] = time.perf_counter() - t
        add_day(engine, history, per_day)
        stats = refresh_dirty(engine)
        assert stats.buckets_total == 1
        figures["refresh_s"] = stats.seconds
        figures["rows"] = sum(stats.rows_inserted.values())
        # The last three days again (their data unchanged: mostly reading the live views),
        # with the reader threads and without (the baseline), alternating.
        days = [(START + timedelta(days=history - i)).isoformat() for i in range(3)]
        again: dict[int, list[float]] = {0: [], READERS: []}
        for readers in (0, READERS) * 3:
            with engine.begin() as conn:
                for day in days:
                    _mark(conn, day, "busy")
            again[readers].append(refresh_dirty(engine, readers=readers).seconds)
        figures["again_serial_s"] = statistics.median(again[0])
        figures["again_readers_s"] = statistics.median(again[READERS])
    finally:
        engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=100_000, help="sessions per day")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    small = scenario(args.dialect, 1, args.per_day, args.workdir)
    big = scenario(args.dialect, args.days, args.per_day, args.workdir)
    print(f"dialect {args.dialect}, {args.per_day:,} sessions/day, one sensor")
    print(
        f"refresh of one more day, 1 day of history:   {small['refresh_s']:.3f} s "
        f"({small['rows']:,.0f} rollup rows)"
    )
    print(
        f"refresh of one more day, {args.days} days of history: {big['refresh_s']:.3f} s "
        f"({big['rows']:,.0f} rollup rows)"
    )
    print(f"ratio {args.days} days / 1 day: {big['refresh_s'] / small['refresh_s']:.2f}")
    print(
        f"the last 3 days refreshed again ({args.days} days of history, median of 3): "
        f"{big['again_readers_s']:.3f} s with {READERS} reader threads, "
        f"{big['again_serial_s']:.3f} s reading in the transaction"
    )
    print(
        f"full rebuild of {args.days} days: {big['rebuild_s']:.2f} s "
        f"(building the history took {big['build_s']:.0f} s)"
    )


if __name__ == "__main__":
    main()
