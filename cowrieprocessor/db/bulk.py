"""Fast multi-row inserts: executemany on SQLite, COPY on PostgreSQL.

Rows are tuples in ``columns`` order; timestamps may be UTC text
(``YYYY-MM-DD HH:MM:SS.ffffff``), which both databases read as UTC (PostgreSQL sessions
run with ``timezone=UTC``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

if TYPE_CHECKING:
    import psycopg


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    on_conflict: str = "",
    *,
    expect_conflicts: bool = False,
) -> int:
    """Insert ``rows`` into ``table`` inside the connection's transaction; return how many
    were inserted (fewer than given when ``on_conflict`` skipped some).

    ``on_conflict`` is an ``ON CONFLICT ...`` clause. On PostgreSQL the rows are first
    copied straight in under a savepoint, which is fastest when conflicts are rare (the
    callers look up what is already stored); only if that hits a unique violation do they
    go through a temporary staging table and ``INSERT ... SELECT ... ON CONFLICT``.
    ``expect_conflicts`` (rows known to exist, to be updated) goes there straight away.
    """
    if not rows:
        return 0
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        marks = ", ".join("?" * len(columns))
        result = conn.exec_driver_sql(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}", list(rows)
        )
        return result.rowcount
    # Imported here: reports import this module (clear_table) and must not load psycopg.
    from psycopg.errors import UniqueViolation

    raw = conn.connection.driver_connection
    assert raw is not None
    if not on_conflict:
        _copy(raw, table, names, rows)
        return len(rows)
    if not expect_conflicts:
        try:
            with raw.transaction():  # a savepoint inside the batch's transaction
                _copy(raw, table, names, rows)
            return len(rows)
        except UniqueViolation:
            pass
    stage = f"stage_{table}"
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS"
            f" AS SELECT {names} FROM {table} WITH NO DATA"
        )
    _copy(raw, stage, names, rows)
    with raw.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {on_conflict}")
        inserted = cur.rowcount
        cur.execute(f"TRUNCATE {stage}")  # see clear_table
    return inserted


def clear_table(conn: Connection, table: str) -> None:
    """Empty a temporary work table inside the connection's transaction.

    PostgreSQL gets ``TRUNCATE``: a ``DELETE`` would leave dead rows that nothing vacuums in
    a temporary table, and every later statement of a long load or refresh would scan them.
    """
    verb = "TRUNCATE" if conn.dialect.name == "postgresql" else "DELETE FROM"
    conn.exec_driver_sql(f"{verb} {table}")


def _copy(
    raw: psycopg.Connection[Any], table: str, names: str, rows: Sequence[Sequence[Any]]
) -> None:
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
