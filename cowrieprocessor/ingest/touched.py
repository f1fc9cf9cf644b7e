"""The sessions a batch touches: a temporary table of the loader's connection.

The loader's per-session work is SQL joined on this list, one index lookup per listed
session and never a scan: which of the sessions the database knows and their stored events
(``summaries``), the pruned ones (``pruned``), the (day, sensor) buckets they belong to
(:func:`buckets`). This module owns the table; those queries name it by :data:`NAME`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Connection, MetaData, String, Table, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from cowrieprocessor.db import limits
from cowrieprocessor.db.bulk import clear_table, insert_rows
from cowrieprocessor.ingest.batches import SessionKey
from cowrieprocessor.rollups.dirty import Bucket

NAME = "touched_sessions"
_table = Table(
    NAME,
    MetaData(),
    Column("sensor", String(limits.SENSOR), primary_key=True),
    Column("session_id", String(limits.SESSION_ID), primary_key=True),
    prefixes=["TEMPORARY"],
)
_BUCKETS = (
    "SELECT DISTINCT s.first_day, s.sensor"
    # CROSS JOIN keeps the batch's few sessions in SQLite's outer loop (its planner keeps the
    # written order), so this costs the batch's size, not the table's.
    f" FROM {NAME} AS t CROSS JOIN session_summaries AS s"
    " WHERE s.sensor = t.sensor AND s.session_id = t.session_id"
)


def create(conn: Connection) -> None:
    """Create the connection's list if it does not exist yet."""
    _table.create(conn, checkfirst=True)


def replace(conn: Connection, keys: Iterable[SessionKey]) -> None:
    """Make the list hold exactly ``keys`` ((sensor, session id) pairs)."""
    clear_table(conn, NAME)
    rows = list(keys)
    if rows:
        insert_rows(conn, NAME, ("sensor", "session_id"), rows)


def contains(table: Table) -> ColumnElement[bool]:
    """A condition on ``table`` (with ``sensor`` and ``session_id`` columns): its row is of a
    listed session."""
    return tuple_(table.c.sensor, table.c.session_id).in_(
        select(_table.c.sensor, _table.c.session_id)
    )


def buckets(conn: Connection) -> set[Bucket]:
    """The (first_day, sensor) buckets the listed sessions' stored summaries belong to now."""
    return {(day, sensor) for day, sensor in conn.exec_driver_sql(_BUCKETS)}
