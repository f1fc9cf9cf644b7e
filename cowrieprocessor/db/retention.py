"""The retention watermark: the day before which raw events were pruned.

Days before the watermark are *frozen*: their rollups stay as they were when the day was
pruned (refreshes skip them, full rebuilds and checks start at the watermark), and events
for them cannot be folded in any more (the loader sets them aside as ``pruned_day`` dead
letters). Plain SQL on the one row of ``retention`` (migration ``0017``), so the refresh
and the loader read it without the ORM.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

#: Dead-letter reason of an event for a day whose raw events were pruned.
PRUNED_DAY = "pruned_day"


class Watermark(NamedTuple):
    """``raw_before``: days before it are pruned (None: nothing is); ``deleted_before``: the
    raw events of sessions before it are all deleted."""

    raw_before: date | None
    deleted_before: date | None


def _as_date(value: Any) -> date | None:
    """A stored date (SQLite returns text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _has_table(conn: Connection) -> bool:
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT to_regclass('retention') IS NOT NULL").scalar() is True
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retention'"
    ).first()
    return found is not None


def read(conn: Connection, *, lock: str | None = None) -> Watermark:
    """The watermark, in ``conn``'s transaction.

    ``lock`` ``"share"`` (a loader's batch: a prune cannot move it until the batch commits)
    or ``"update"`` (a prune) locks the row on PostgreSQL; SQLite's writers serialise
    anyway. A database older than the table (a migration test going back) has none.
    """
    if not _has_table(conn):
        return Watermark(None, None)
    suffix = ""
    if lock is not None and conn.dialect.name == "postgresql":
        suffix = " FOR SHARE" if lock == "share" else " FOR UPDATE"
    row = conn.exec_driver_sql(
        f"SELECT raw_before, raw_deleted_before FROM retention WHERE id = 1{suffix}"
    ).first()
    if row is None:
        return Watermark(None, None)
    return Watermark(_as_date(row[0]), _as_date(row[1]))


def pruned_before(conn: Connection) -> date | None:
    """The day before which raw events were pruned, or None."""
    return read(conn).raw_before


def write(conn: Connection, mark: Watermark) -> None:
    """Store ``mark`` in ``conn``'s transaction."""
    conn.execute(
        text(
            "UPDATE retention SET raw_before = :before, raw_deleted_before = :deleted WHERE id = 1"
        ),
        {
            "before": _param(conn, mark.raw_before),
            "deleted": _param(conn, mark.deleted_before),
        },
    )


def _param(conn: Connection, day: date | None) -> Any:
    """A date as the driver binds it: ISO text for sqlite3 (its date adapter is deprecated)."""
    if day is None or conn.dialect.name == "postgresql":
        return day
    return day.isoformat()


def day_literal(day: date) -> str:
    """``day`` as an SQL date literal (both dialects compare a date column with it)."""
    return f"'{day.isoformat()}'"


class PrunedError(RuntimeError):
    """A command needs raw events of days that were pruned."""


def require_raw_events(conn: Connection, first_day: date | None, what: str) -> None:
    """Raise :class:`PrunedError` when ``what`` needs raw events of a day from ``first_day``
    on (None: of every day) and some of those days were pruned; the message says which."""
    before = pruned_before(conn)
    if before is None or (first_day is not None and first_day >= before):
        return
    raise PrunedError(
        f"{what} needs raw events, and those of days before {before.isoformat()} were pruned"
        " (cowrie-report prune): choose days from then on (docs/retention.md)"
    )
