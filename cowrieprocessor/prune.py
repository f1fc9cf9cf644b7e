"""Retention: prune the raw events of days before DAY, keeping every report as it was.

Reports read the rollups and the per-session tables (``session_summaries``,
``command_stats``, ``files``), never ``raw_events``; the raw events are what a database
grows with. :func:`prune` deletes the raw events of every session of a day before DAY (the
UTC day of the session's first event, as everywhere): whole sessions, so a session that
straddles DAY loses its later events too, and no session is ever left half there. It runs
in steps, each committed:

1. **Freeze** (one transaction, serialised against refreshes, holding the watermark row):
   refresh the dirty buckets of days before DAY while their raw events are still there,
   then move the watermark (``db/retention.py``) to DAY. From then on those days are frozen
   and loaders set events for them aside as ``pruned_day`` dead letters.
2. **Delete** the raw events before DAY: on PostgreSQL whole month partitions before DAY's
   month are dropped (``db/partitions.py``: instant, and the space is free at once); the
   rest (DAY's month up to DAY, the default partition, SQLite) goes in batches of about
   ``batch_rows`` events by timestamp, through the primary key that leads with it. Then
   the later events of sessions straddling DAY, and the deletion is recorded as complete.
3. **Free the space** on SQLite: ``PRAGMA incremental_vacuum`` (a database whose
   ``auto_vacuum`` is not INCREMENTAL gets one full ``VACUUM`` that switches it, the first
   time). PostgreSQL's autovacuum reclaims the rows by itself; no VACUUM here.

Stopped anywhere, the next prune finishes the job: the watermark never moves back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text, tuple_

from cowrieprocessor.db import retention
from cowrieprocessor.db.engine import sqlite_file
from cowrieprocessor.db.models import RawEvent, SessionSummary
from cowrieprocessor.db.partitions import drop_months_before, month_partitions
from cowrieprocessor.rollups.refresh import RefreshStats, begin_exclusive, freeze_days_before

#: Raw events deleted per transaction.
DEFAULT_BATCH_ROWS = 50_000
#: Free pages returned to the file system per ``incremental_vacuum`` step (SQLite).
VACUUM_STEP_PAGES = 20_000

_raw = RawEvent.__table__


class PruneError(ValueError):
    """The prune asked for cannot be done (the message says why)."""


@dataclass
class PruneStats:
    """What a prune did (or, with ``dry_run``, would do); passed to ``on_progress``."""

    raw_before: date
    previous: date | None = None
    dry_run: bool = False
    phase: str = "freeze"
    buckets_refreshed: int = 0
    buckets_frozen: int = 0
    events_to_delete: int = 0
    events_deleted: int = 0
    straddling_sessions: int = 0
    partitions_dropped: list[str] = field(default_factory=list)
    vacuum: str = "none"
    bytes_before: int | None = None
    bytes_after: int | None = None
    seconds: float = 0.0
    #: Seconds spent in each phase (freeze, delete, vacuum).
    phase_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and status files."""
        return {
            "raw_before": self.raw_before.isoformat(),
            "previous": None if self.previous is None else self.previous.isoformat(),
            "dry_run": self.dry_run,
            "buckets_refreshed": self.buckets_refreshed,
            "events_to_delete": self.events_to_delete,
            "events_deleted": self.events_deleted,
            "straddling_sessions": self.straddling_sessions,
            "partitions_dropped": self.partitions_dropped,
            "vacuum": self.vacuum,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "seconds": round(self.seconds, 3),
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
        }


ProgressCallback = Callable[[PruneStats], None]


def retention_day(days: int, today: date | None = None) -> date:
    """The DAY of a retention of ``days`` days: raw events of the last ``days`` days stay."""
    return (today or datetime.now(UTC).date()) - timedelta(days=days)


def prune(
    engine: Engine,
    raw_before: date,
    *,
    dry_run: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
    today: date | None = None,
) -> PruneStats:
    """Delete the raw events of the sessions of days before ``raw_before`` (see the module
    docstring); ``dry_run`` only counts. Safe while an ingest runs.

    Raises :class:`PruneError` for a day after today (UTC): its events are still arriving.
    """
    today = today or datetime.now(UTC).date()
    if raw_before > today:
        raise PruneError(
            f"--raw-before {raw_before.isoformat()} is after today ({today.isoformat()} UTC):"
            " its events are still arriving"
        )
    started = time.perf_counter()
    stats = PruneStats(raw_before, dry_run=dry_run)

    def progress(phase: str) -> None:
        seconds = time.perf_counter() - started
        if phase != stats.phase:
            stats.phase_seconds[stats.phase] = seconds - sum(stats.phase_seconds.values())
        stats.phase = phase
        stats.seconds = seconds
        if on_progress is not None:
            on_progress(stats)

    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        stats.bytes_before = _database_bytes(conn)
        mark = _freeze(conn, stats, dry_run=dry_run)
        progress("delete")
        if not dry_run:
            _delete(conn, mark, stats, batch_rows, lambda: progress("delete"))
            progress("vacuum")
            _free_space(conn, stats)
        stats.bytes_after = _database_bytes(conn)
    progress("done")
    return stats


def _freeze(conn: Connection, stats: PruneStats, *, dry_run: bool) -> retention.Watermark:
    """Step 1: refresh what is dirty before the day, move the watermark (unless ``dry_run``);
    count what is to delete. Returns the watermark now in force."""
    begin_exclusive(conn)
    try:
        old = retention.read(conn, lock="update")
        stats.previous = old.raw_before
        if old.raw_before is not None and old.raw_before > stats.raw_before:
            stats.raw_before = old.raw_before  # the watermark never moves back
        mark = retention.Watermark(stats.raw_before, old.deleted_before)
        stats.events_to_delete = _count(conn, mark)
        if dry_run:
            stats.buckets_refreshed = _dirty_before(conn, stats.raw_before)
            conn.rollback()
            return mark
        refreshed = RefreshStats()
        freeze_days_before(conn, stats.raw_before, refreshed)
        stats.buckets_refreshed = refreshed.buckets_done
        retention.write(conn, mark)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return mark


def _dirty_before(conn: Connection, day: date) -> int:
    query = text("SELECT COUNT(*) FROM rollup_dirty WHERE day < :day")
    return int(conn.execute(query, {"day": _day_param(conn, day)}).scalar_one())


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _lower(mark: retention.Watermark) -> datetime | None:
    """Where the events left to delete start: the deletion is complete before it."""
    return None if mark.deleted_before is None else _start(mark.deleted_before)


def _straddling(mark: retention.Watermark) -> Any:
    """The sessions of pruned days not yet cleared that have events from the watermark on."""
    assert mark.raw_before is not None
    s = SessionSummary.__table__
    query = select(s.c.sensor, s.c.session_id).where(
        s.c.first_day < mark.raw_before, s.c.last_event_at >= _start(mark.raw_before)
    )
    if mark.deleted_before is not None:
        query = query.where(s.c.first_day >= mark.deleted_before)
    return query.subquery()


def _of_sessions(sessions: Any) -> Any:
    return tuple_(_raw.c.sensor, _raw.c.session_id).in_(
        select(sessions.c.sensor, sessions.c.session_id)
    )


def _count(conn: Connection, mark: retention.Watermark) -> int:
    """Raw events the prune to ``mark`` deletes: those before it, and those of straddling
    sessions."""
    assert mark.raw_before is not None
    if mark.deleted_before is not None and mark.deleted_before >= mark.raw_before:
        return 0
    end = _start(mark.raw_before)
    where = [_raw.c.event_timestamp < end]
    if (low := _lower(mark)) is not None:
        where.append(_raw.c.event_timestamp >= low)
    later = [_raw.c.event_timestamp >= end, _of_sessions(_straddling(mark))]
    return sum(
        int(conn.execute(select(func.count()).select_from(_raw).where(*w)).scalar_one())
        for w in (where, later)
    )


def _delete(
    conn: Connection,
    mark: retention.Watermark,
    stats: PruneStats,
    batch_rows: int,
    progress: Callable[[], None],
) -> None:
    """Step 2: delete in batches, each its own transaction; then record completion."""
    assert mark.raw_before is not None
    if mark.deleted_before is not None and mark.deleted_before >= mark.raw_before:
        return
    end = _start(mark.raw_before)
    low = _lower(mark)
    with conn.begin():
        # Whole months first (PostgreSQL).
        held = _month_rows(conn, mark.raw_before)
        stats.partitions_dropped = drop_months_before(conn, mark.raw_before)
        stats.events_deleted += sum(held.get(name, 0) for name in stats.partitions_dropped)
    progress()
    while True:
        with conn.begin():
            where = [_raw.c.event_timestamp < end]
            if low is not None:
                where.append(_raw.c.event_timestamp >= low)
            # The timestamp ``batch_rows`` events on: a range the unique index reads directly.
            upto = conn.execute(
                select(_raw.c.event_timestamp)
                .where(*where)
                .order_by(_raw.c.event_timestamp)
                .offset(batch_rows)
                .limit(1)
            ).scalar()
            if upto is not None and low is not None and upto <= low:
                # More than a batch of events at one instant: take them all.
                upto = conn.execute(
                    select(func.min(_raw.c.event_timestamp)).where(
                        _raw.c.event_timestamp > low, _raw.c.event_timestamp < end
                    )
                ).scalar()
            bound = end if upto is None else upto
            rows = conn.execute(
                delete(_raw).where(*where[1:], _raw.c.event_timestamp < bound)
            ).rowcount
        stats.events_deleted += max(rows, 0)
        progress()
        if upto is None:
            break
        low = upto
    with conn.begin():
        # Sessions of pruned days that go on past the watermark: their later events too.
        sessions = _straddling(mark)
        stats.straddling_sessions = int(
            conn.execute(select(func.count()).select_from(sessions)).scalar_one()
        )
        rows = conn.execute(
            delete(_raw).where(_raw.c.event_timestamp >= end, _of_sessions(sessions))
        ).rowcount
        stats.events_deleted += max(rows, 0)
        retention.write(conn, retention.Watermark(mark.raw_before, mark.raw_before))
    progress()


def _month_rows(conn: Connection, day: date) -> dict[str, int]:
    """Events held by each month partition of ``raw_events`` that ends by ``day`` (those
    :func:`drop_months_before` drops: of a month before ``day``'s)."""
    return {
        name: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar_one())
        for first, name in month_partitions(conn)
        if (first.year, first.month) < (day.year, day.month)
    }


def _free_space(conn: Connection, stats: PruneStats) -> None:
    """Step 3 (SQLite only): give the freed pages back to the file system."""
    if conn.dialect.name != "sqlite":
        return
    path = sqlite_file(conn.engine)
    if path is None:
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    conn.commit()
    if _auto_vacuum(path) != 2:  # 2: INCREMENTAL
        # auto_vacuum changes only through a VACUUM: once, the first time.
        raw.execute("PRAGMA auto_vacuum = INCREMENTAL")
        raw.execute("VACUUM")
        stats.vacuum = "full (first prune: auto_vacuum switched to INCREMENTAL)"
    else:
        # In steps, so a waiting ingest gets the write lock in between.
        while raw.execute("PRAGMA freelist_count").fetchone()[0] > 0:
            raw.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
        stats.vacuum = "incremental"
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _auto_vacuum(path: str) -> int:
    """The database file's auto_vacuum mode, as stored (a connection open during the
    VACUUM that changed it may still report the old one)."""
    with closing(sqlite3.connect(path)) as fresh:
        return int(fresh.execute("PRAGMA auto_vacuum").fetchone()[0])


def _database_bytes(conn: Connection) -> int | None:
    """The database's size: the SQLite file's pages, or PostgreSQL's database size."""
    if conn.dialect.name == "postgresql":
        size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        conn.rollback()
        return int(size) if size is not None else None
    pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    conn.rollback()
    return int(pages) * int(page_size)


def _day_param(conn: Connection, day: date) -> Any:
    return day if conn.dialect.name == "postgresql" else day.isoformat()
