"""Refresh rollups: recompute dirty buckets, rebuild everything, or check against the views.

A refresh is one transaction: it snapshots the dirty marks (day, sensor, generation),
replaces every rollup's rows of those buckets by the live view's rows for them, and deletes
only the marks whose generation is still the one it saw. A load that marks a bucket while
the refresh runs bumps the generation (or waits for the refresh on SQLite), so its mark
survives and the next refresh picks it up. Refreshes serialise: on PostgreSQL with a
transaction-scoped advisory lock, on SQLite with ``BEGIN IMMEDIATE``.

The costliest live views (``read_ahead`` rollups: joins over ``raw_events`` and
``command_stats``) are read a bucket ahead by two threads on connections of their own while
the refresh transaction writes, so a refresh of several buckets uses both cores. Those
connections see the committed base tables, which is what the refresh transaction sees too:
it writes rollups only, and on SQLite no load can commit while it holds the write lock
(PostgreSQL reads the latest committed rows in each statement anyway, and the dirty marks'
generations catch a load committing meanwhile).

``period_values`` follows by difference: before a bucket's daily rows are replaced, its
``period_sources`` rows are kept in a temporary table; after, the non-zero differences new -
old are added to the ISO week and the month of its day (UPSERT), and rows that reach 0 are
deleted. So a refresh costs the bucket's size, not the month's, and re-refreshing a bucket
that barely changed writes only what changed.

Days before the retention watermark (``db/retention.py``) are frozen: their raw events were
pruned, so their live views no longer hold what the rollups hold. A refresh clears their
marks without recomputing them, a full rebuild and a check start at the watermark.
``period_values`` is rebuilt and checked whole: it reads the daily rollup tables, which keep
the frozen days.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from cowrieprocessor.db import retention
from cowrieprocessor.db.bulk import clear_table, insert_rows
from cowrieprocessor.db.engine import dbapi_connection, sqlite_file
from cowrieprocessor.rollups.definitions import (
    ALL_ROLLUPS,
    FIGURES,
    PERIOD_SOURCES,
    PERIOD_VALUES,
    ROLLUPS,
    Rollup,
)

#: pg_advisory_xact_lock key serialising refreshes ("cowr" in ASCII).
ADVISORY_LOCK_KEY = 0x636F7772
#: Threads reading live views ahead of the refresh transaction (one per core here).
READERS = 2
#: Page cache of a reader's SQLite connection (KiB).
READER_CACHE_KIB = 2048


@dataclass
class RefreshStats:
    """What a refresh did; passed to ``on_progress`` as it goes."""

    full: bool = False
    buckets_total: int = 0
    buckets_done: int = 0
    rows_deleted: Counter[str] = field(default_factory=Counter)
    rows_inserted: Counter[str] = field(default_factory=Counter)
    marks_cleared: int = 0
    marks_kept: int = 0
    #: Dirty buckets of pruned days: cleared, not recomputed (see the module docstring).
    buckets_frozen: int = 0
    frozen_before: date | None = None
    seconds: float = 0.0
    current: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output and status files."""
        return {
            "full": self.full,
            "buckets": self.buckets_total,
            "rows_deleted": sum(self.rows_deleted.values()),
            "rows_inserted": sum(self.rows_inserted.values()),
            "rows_inserted_by_rollup": dict(sorted(self.rows_inserted.items())),
            "marks_cleared": self.marks_cleared,
            "marks_kept": self.marks_kept,
            "buckets_frozen": self.buckets_frozen,
            "frozen_before": None if self.frozen_before is None else str(self.frozen_before),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Difference:
    """A row present in a rollup but not in its live view (``extra``), or the reverse."""

    rollup: str
    kind: str  # "missing" (in the view, not in the rollup) or "extra"
    row: tuple[Any, ...]


ProgressCallback = Callable[[RefreshStats], None]


def begin_exclusive(conn: Connection) -> None:
    """Start the refresh transaction, serialised against other refreshes and writers (on
    SQLite set ``sqlite_begin="IMMEDIATE"`` on ``conn`` first)."""
    conn.begin()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")


def _snapshot(conn: Connection) -> list[tuple[Any, str, int]]:
    """The dirty marks, sorted as the loader marks them (sensors by code point, whatever the
    database's collation), so that clearing them locks them in the loader's order."""
    rows = conn.exec_driver_sql("SELECT day, sensor, generation FROM rollup_dirty")
    return sorted(tuple(r) for r in rows)


_CLEAR_MARK = text(
    "DELETE FROM rollup_dirty WHERE day = :day AND sensor = :sensor AND generation = :generation"
)


def _clear_marks(
    conn: Connection, marks: Sequence[tuple[Any, str, int]], stats: RefreshStats
) -> None:
    for day, sensor, generation in marks:
        result = conn.execute(_CLEAR_MARK, {"day": day, "sensor": sensor, "generation": generation})
        if result.rowcount > 0:
            stats.marks_cleared += 1
        else:
            stats.marks_kept += 1


def _fill_sql(rollup: Rollup, where: str = "") -> str:
    """INSERT of the rollup's rows (``where`` picks buckets): from its live view, or combined
    from the already refreshed rows of the rollup it derives from (much cheaper)."""
    cols = ", ".join(rollup.columns)
    if rollup.derived_from is None:
        return f"INSERT INTO {rollup.name} ({cols}) {_live_select(rollup, where)}"
    key = ", ".join(rollup.key)
    sums = ", ".join(f"{rollup.combine(v)}({v})" for v in rollup.values)
    return (
        f"INSERT INTO {rollup.name} ({cols}) SELECT {key}, {sums}"
        f" FROM {rollup.derived_from} {where} GROUP BY {key}"
    )


def _live_select(rollup: Rollup, where: str = "") -> str:
    return f"SELECT {', '.join(rollup.columns)} FROM {rollup.live} {where}"


#: Picks one bucket: bound parameters ``day`` and ``sensor``.
_IN_BUCKET = "WHERE day = :day AND sensor = :sensor"


def _bucket_statements(rollup: Rollup) -> tuple[TextClause, TextClause]:
    delete = f"DELETE FROM {rollup.name} {_IN_BUCKET}"
    return text(delete), text(_fill_sql(rollup, _IN_BUCKET))


def _driver_sql(dialect: Dialect, statement: TextClause) -> tuple[str, tuple[str, ...] | None]:
    """``statement`` as the driver takes it: its SQL in the driver's parameter style, and
    the order of the parameter names if that style is positional (sqlite3's ``?``)."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None


def period_starts(day: date) -> list[tuple[str, date]]:
    """(kind, first day) of the ISO week and the calendar month holding ``day``."""
    return [("weekly", day - timedelta(days=day.weekday())), ("monthly", day.replace(day=1))]


#: Temporary table holding a bucket's period sources as they were before its refresh.
_OLD = "period_sources_old"
#: What a period source holds per bucket besides its (day, sensor): its figure and value.
_SOURCE_KEY = "figure, value, value_id"


def _period_statements(conn: Connection) -> tuple[TextClause, TextClause, TextClause]:
    """Create the snapshot table and return the statements keeping ``period_values`` by
    difference: snapshot a bucket's sources before its daily rows are replaced; UPSERT the
    non-zero differences new - old into a period; DELETE that period's rows that reached 0."""
    p = PERIOD_VALUES
    pg = conn.dialect.name == "postgresql"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_OLD}"
        " (figure TEXT, value TEXT, value_id INTEGER, total BIGINT)"
        + (" ON COMMIT DROP" if pg else "")
    )
    sources = f"{PERIOD_SOURCES[0]} {_IN_BUCKET}"
    snapshot = (
        f"INSERT INTO {_OLD} ({_SOURCE_KEY}, total)"
        f" SELECT {_SOURCE_KEY}, SUM(total) FROM {sources} GROUP BY {_SOURCE_KEY}"
    )
    target = ", ".join(f"md5({c})" if pg and c in p.hashed else c for c in p.key)
    # Re-refreshing a bucket whose data barely changed writes only the keys that changed.
    upsert = (
        f"INSERT INTO {p.name} ({', '.join(p.columns)})"
        " SELECT :kind, :start, figure, :sensor, value, value_id, SUM(total) FROM ("
        f" SELECT {_SOURCE_KEY}, total FROM {sources}"
        f" UNION ALL SELECT {_SOURCE_KEY}, -total FROM {_OLD}"
        f") AS d GROUP BY {_SOURCE_KEY} HAVING SUM(total) <> 0"
        f" ON CONFLICT ({target}) DO UPDATE SET total = {p.name}.total + excluded.total"
    )
    # figure IN (...) lets the top-list index find the zero rows of each figure.
    figures = ", ".join(f"'{f}'" for f in FIGURES)
    delete = (
        f"DELETE FROM {p.name} WHERE kind = :kind AND period_start = :start"
        f" AND sensor = :sensor AND figure IN ({figures}) AND total = 0"
    )
    return text(snapshot), text(upsert), text(delete)


def refresh_buckets(
    conn: Connection,
    buckets: Iterable[tuple[Any, str]],
    stats: RefreshStats,
    rollups: Sequence[Rollup] = ROLLUPS,
    on_progress: ProgressCallback | None = None,
    *,
    readers: int = 0,
) -> None:
    """Recompute ``buckets`` of every rollup inside the caller's transaction.

    Each bucket is a DELETE and an INSERT of the live view's rows filtered on (day, sensor):
    both databases push that filter below the view's GROUP BY onto the
    ``session_summaries (first_day, sensor)`` index, so the cost is the bucket's size,
    not the history's. A derived rollup sums its source's fresh rows of the bucket instead.
    ``period_values`` moves by the bucket's difference.

    With ``readers`` > 0, that many threads read the live views of ``read_ahead``
    rollups on connections of their own, a bucket ahead; only for a transaction that has not
    changed the base tables (other connections do not see its changes) on a database other
    connections can open.
    """
    buckets = list(buckets)
    statements = {r.name: _bucket_statements(r) for r in rollups}
    period_sql = _period_statements(conn)
    selects = {
        r.name: _driver_sql(conn.dialect, text(_live_select(r, _IN_BUCKET)))
        for r in rollups
        if r.read_ahead
    }
    with _live_readers(conn.engine, readers) as read:
        ahead = _read_bucket(read, selects, buckets[0]) if buckets else {}
        for number, bucket in enumerate(buckets):
            live_rows = ahead
            if number + 1 < len(buckets):  # the next bucket's views are read meanwhile
                ahead = _read_bucket(read, selects, buckets[number + 1])
            _refresh_bucket(conn, bucket, live_rows, rollups, statements, period_sql, stats)
            stats.buckets_done += 1
            if on_progress is not None:
                on_progress(stats)
    stats.current = None


def _refresh_bucket(
    conn: Connection,
    bucket: tuple[Any, str],
    live_rows: dict[str, Future[list[tuple[Any, ...]]]],
    rollups: Sequence[Rollup],
    statements: dict[str, tuple[TextClause, TextClause]],
    period_sql: tuple[TextClause, TextClause, TextClause],
    stats: RefreshStats,
) -> None:
    bucket_day, sensor = bucket
    snapshot, apply_difference, drop_empty = period_sql
    day = bucket_day if isinstance(bucket_day, date) else date.fromisoformat(bucket_day)
    in_bucket = {"day": bucket_day, "sensor": sensor}
    clear_table(conn, _OLD)
    conn.execute(snapshot, in_bucket)
    for rollup in rollups:
        stats.current = rollup.name
        delete, insert = statements[rollup.name]
        stats.rows_deleted[rollup.name] += max(conn.execute(delete, in_bucket).rowcount, 0)
        rows = live_rows.get(rollup.name)
        if rows is not None:  # read ahead on another connection
            inserted = insert_rows(conn, rollup.name, rollup.columns, rows.result())
        else:
            inserted = conn.execute(insert, in_bucket).rowcount
        stats.rows_inserted[rollup.name] += max(inserted, 0)
    for kind, start in period_starts(day):
        period = {"kind": kind, "start": _param(conn, start), "sensor": sensor}
        stats.rows_inserted[PERIOD_VALUES.name] += max(
            conn.execute(apply_difference, {**period, "day": bucket_day}).rowcount, 0
        )
        stats.rows_deleted[PERIOD_VALUES.name] += max(conn.execute(drop_empty, period).rowcount, 0)


#: A statement as the driver takes it (see :func:`_driver_sql`).
DriverSQL = tuple[str, tuple[str, ...] | None]
ReadLive = Callable[[DriverSQL, dict[str, Any]], "Future[list[tuple[Any, ...]]]"]


@contextmanager
def _live_readers(engine: Engine, readers: int) -> Iterator[ReadLive | None]:
    """A function starting a read of a statement on one of ``readers`` threads, each with
    its connection; the threads and connections end with the block.

    None without readers, or when the connections cannot be opened (a server at its
    connection limit): the refresh then reads inside its transaction, only slower.
    """
    if readers <= 0:
        yield None
        return
    connections: queue.SimpleQueue[Any] = queue.SimpleQueue()
    opened: list[Connection] = []
    try:
        for _ in range(readers):
            reader = engine.connect()
            reader.detach()  # closed for good at the end, not pooled with the setting below
            opened.append(reader)
            raw = dbapi_connection(reader)
            if engine.dialect.name == "sqlite":
                # Each connection would grow its own 64 MiB page cache: 128 MiB more peak
                # memory, and no faster (the pages are in the OS cache anyway).
                raw.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
            connections.put(raw)
    except DBAPIError:
        for reader in opened:
            reader.close()
        opened = []
    if len(opened) < readers:  # outside the handler, so the block's errors do not chain to it
        yield None
        return

    def run(statement: DriverSQL, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        sql, order = statement
        raw = connections.get()  # one per thread: never waits
        try:
            # The driver's own tuples: SQLAlchemy's rows would hold the GIL the writer needs.
            bound = params if order is None else tuple(params[name] for name in order)
            return raw.execute(sql, bound).fetchall()
        finally:
            connections.put(raw)

    pool = ThreadPoolExecutor(readers, thread_name_prefix="rollup-reader")
    try:
        yield lambda statement, params: pool.submit(run, statement, params)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for reader in opened:
            reader.close()


def _read_bucket(
    read: ReadLive | None, selects: dict[str, DriverSQL], bucket: tuple[Any, str]
) -> dict[str, Future[list[tuple[Any, ...]]]]:
    """Start reading the live rows of ``bucket`` with each rollup's select (none without
    readers)."""
    if read is None:
        return {}
    day, sensor = bucket
    return {name: read(sql, {"day": day, "sensor": sensor}) for name, sql in selects.items()}


def _readable_beside(conn: Connection) -> bool:
    """Whether other connections can read while ``conn`` writes: PostgreSQL, or a SQLite
    database file in WAL mode (an in-memory database is private to its connection, and in
    rollback-journal mode readers would block the writer)."""
    if conn.dialect.name == "postgresql":
        return True
    if sqlite_file(conn.engine) is None:
        return False
    return conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _param(conn: Connection, day: date) -> Any:
    """A date as the driver binds it: ISO text for sqlite3 (its date adapter is deprecated)."""
    return day if conn.dialect.name == "postgresql" else day.isoformat()


def refresh_dirty(
    engine: Engine,
    on_progress: ProgressCallback | None = None,
    *,
    readers: int = READERS,
    rollups: Sequence[Rollup] = ROLLUPS,
) -> RefreshStats:
    """Recompute the dirty buckets of every rollup and clear their marks, atomically.

    With more than one bucket, ``readers`` threads read the live views beside the
    transaction where the database allows it (see :func:`refresh_buckets`); 0 reads them
    inside it. ``rollups`` narrows the daily rollups (a database at an older revision).
    """
    started = time.perf_counter()
    stats = RefreshStats()
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        begin_exclusive(conn)
        marks, frozen = _split_frozen(conn, _snapshot(conn), stats)
        stats.buckets_total = len(marks)
        if on_progress is not None:
            on_progress(stats)
        refresh_buckets(
            conn,
            [(d, s) for d, s, _ in marks],
            stats,
            rollups,
            on_progress=on_progress,
            # One bucket's reads spread over threads do not pay for handing the rows over.
            readers=readers if len(marks) > 1 and _readable_beside(conn) else 0,
        )
        _clear_marks(conn, [*marks, *frozen], stats)
        conn.commit()
    stats.seconds = time.perf_counter() - started
    if on_progress is not None:
        on_progress(stats)
    return stats


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _split_frozen(
    conn: Connection, marks: list[tuple[Any, str, int]], stats: RefreshStats
) -> tuple[list[tuple[Any, str, int]], list[tuple[Any, str, int]]]:
    """The marks to refresh, and those of frozen (pruned) days, counted in ``stats``."""
    before = stats.frozen_before = retention.pruned_before(conn)
    if before is None:
        return marks, []
    frozen = [m for m in marks if _day(m[0]) < before]
    stats.buckets_frozen = len(frozen)
    return [m for m in marks if _day(m[0]) >= before], frozen


def _from_day(rollup: Rollup, before: date | None) -> str:
    """The WHERE clause keeping a daily rollup's unfrozen days ('' when nothing is frozen,
    and for ``period_values``, which holds no day)."""
    if before is None or rollup is PERIOD_VALUES:
        return ""
    return f"WHERE day >= {retention.day_literal(before)}"


def rebuild_all(engine: Engine, on_progress: ProgressCallback | None = None) -> RefreshStats:
    """Recompute every rollup from its live view in one transaction; clear the marks seen.

    Days before the retention watermark are kept as they are (their raw events are gone);
    ``period_values`` is rebuilt whole from the daily tables.
    """
    started = time.perf_counter()
    stats = RefreshStats(full=True)
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        begin_exclusive(conn)
        marks = _snapshot(conn)
        before = stats.frozen_before = retention.pruned_before(conn)
        stats.buckets_total = len(ALL_ROLLUPS)  # a full rebuild goes rollup by rollup
        if on_progress is not None:
            on_progress(stats)
        for rollup in ALL_ROLLUPS:
            stats.current = rollup.name
            where = _from_day(rollup, before)
            stats.rows_deleted[rollup.name] += max(
                conn.exec_driver_sql(f"DELETE FROM {rollup.name} {where}").rowcount, 0
            )
            stats.rows_inserted[rollup.name] += max(
                conn.exec_driver_sql(_fill_sql(rollup, where)).rowcount, 0
            )
            stats.buckets_done += 1
            if on_progress is not None:
                on_progress(stats)
        stats.current = None
        _clear_marks(conn, marks, stats)
        conn.commit()
    stats.seconds = time.perf_counter() - started
    if on_progress is not None:
        on_progress(stats)
    return stats


def freeze_days_before(conn: Connection, day: date, stats: RefreshStats) -> None:
    """Refresh the dirty buckets of days before ``day`` and clear their marks, in the caller's
    transaction (begun with :func:`begin_exclusive`): they are about to be frozen (pruned),
    so they must hold the live views' rows while the raw events are still there."""
    marks = [m for m in _snapshot(conn) if _day(m[0]) < day]
    stats.buckets_total = len(marks)
    refresh_buckets(conn, [(d, s) for d, s, _ in marks], stats)
    _clear_marks(conn, marks, stats)


def dirty_buckets(engine: Engine) -> int:
    """How many (day, sensor) buckets are waiting for a refresh."""
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT COUNT(*) FROM rollup_dirty").scalar_one())


def check(
    engine: Engine, limit: int = 20, rollups: Sequence[Rollup] = ALL_ROLLUPS
) -> list[Difference]:
    """Compare every rollup with its live view; up to ``limit`` differing rows per rollup.

    Dirty buckets not refreshed yet show up as differences: refresh first. Days before the
    retention watermark are frozen and not compared (their raw events are gone).
    """
    differences: list[Difference] = []
    with engine.connect() as conn:
        before = retention.pruned_before(conn)
        for rollup in rollups:
            cols = ", ".join(rollup.columns)
            order = ", ".join(str(i + 1) for i in range(len(rollup.key)))
            where = _from_day(rollup, before)
            for kind, left, right in (
                ("missing", rollup.live, rollup.name),
                ("extra", rollup.name, rollup.live),
            ):
                rows = conn.exec_driver_sql(
                    f"SELECT {cols} FROM {left} {where} EXCEPT SELECT {cols} FROM {right} {where}"
                    f" ORDER BY {order} LIMIT {int(limit)}"
                )
                differences.extend(Difference(rollup.name, kind, tuple(r)) for r in rows)
            counts = [
                conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t} {where}").scalar_one()
                for t in (rollup.name, rollup.live)
            ]
            if counts[0] != counts[1] and not any(d.rollup == rollup.name for d in differences):
                differences.append(Difference(rollup.name, "row_count", tuple(counts)))
        conn.rollback()
    return differences


__all__ = [
    "Difference",
    "RefreshStats",
    "begin_exclusive",
    "check",
    "dirty_buckets",
    "freeze_days_before",
    "period_starts",
    "rebuild_all",
    "refresh_buckets",
    "refresh_dirty",
]
