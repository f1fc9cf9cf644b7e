"""Dirty marks: the (day, sensor) buckets whose rollups a load has made stale."""

from __future__ import annotations

from sqlalchemy import Connection

_MARK = (
    "INSERT INTO rollup_dirty (day, sensor, generation)"
    " SELECT s.first_day, s.sensor, 1"
    # CROSS JOIN keeps the batch's few sessions in SQLite's outer loop (its planner keeps the
    # written order), so marking costs the batch's size, not the table's.
    " FROM touched_sessions AS t CROSS JOIN session_summaries AS s"
    " WHERE s.sensor = t.sensor AND s.session_id = t.session_id"
    " GROUP BY s.first_day, s.sensor"
    " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
)


def mark_touched_buckets(conn: Connection) -> None:
    """Mark the buckets of the sessions in ``touched_sessions`` dirty, in ``conn``'s transaction.

    Inserts each (first_day, sensor) bucket or bumps its generation. Call it before and
    after recomputing the summaries: before catches the day a session leaves when a late
    event moves its first event to an earlier day, after catches the day it lands on (and
    sessions that are new).
    """
    conn.exec_driver_sql(_MARK)
