"""Dirty marks: the (day, sensor) buckets whose rollups a load has made stale."""

from __future__ import annotations

from sqlalchemy import Connection

_MARK = (
    "INSERT INTO rollup_dirty (day, sensor, generation)"
    " SELECT s.first_day, s.sensor, 1"
    " FROM session_summaries AS s"
    " JOIN touched_sessions AS t ON t.sensor = s.sensor AND t.session_id = s.session_id"
    " WHERE true"  # SQLite: resolves the ON (join) / ON CONFLICT parsing ambiguity
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
