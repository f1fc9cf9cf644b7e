"""Dirty marks: the (day, sensor) buckets whose rollups a load has made stale."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

Bucket = tuple[Any, str]

_TOUCHED = (
    "SELECT DISTINCT s.first_day, s.sensor"
    # CROSS JOIN keeps the batch's few sessions in SQLite's outer loop (its planner keeps the
    # written order), so this costs the batch's size, not the table's.
    " FROM touched_sessions AS t CROSS JOIN session_summaries AS s"
    " WHERE s.sensor = t.sensor AND s.session_id = t.session_id"
)
_MARK = text(
    "INSERT INTO rollup_dirty (day, sensor, generation) VALUES (:day, :sensor, 1)"
    " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
)


def touched_buckets(conn: Connection) -> set[Bucket]:
    """The (first_day, sensor) buckets of the sessions in ``touched_sessions`` now."""
    return {(day, sensor) for day, sensor in conn.exec_driver_sql(_TOUCHED)}


def mark_buckets(conn: Connection, buckets: Iterable[Bucket]) -> None:
    """Mark ``buckets`` dirty in ``conn``'s transaction: insert each or bump its generation.

    In sorted order, so that concurrent writers lock the marks they share in one order.
    """
    rows = [{"day": day, "sensor": sensor} for day, sensor in sorted(set(buckets))]
    if rows:
        conn.execute(_MARK, rows)


def mark_touched_buckets(conn: Connection) -> None:
    """Mark the buckets of the sessions in ``touched_sessions`` dirty, in ``conn``'s transaction.

    Call it before and after recomputing the summaries: before catches the day a session
    leaves when a late event moves its first event to an earlier day, after catches the day
    it lands on (and sessions that are new).
    """
    mark_buckets(conn, touched_buckets(conn))
