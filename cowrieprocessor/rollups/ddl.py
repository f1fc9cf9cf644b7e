"""Install rollups: live views from versioned SQL files, key indexes, filling the tables.

Used by the Alembic migrations, which always name the SQL version they install so that a
later version never changes an old migration. SQLite has neither ``CREATE OR REPLACE VIEW``
nor ``DROP ... CASCADE``: replacing a view is drop-then-create, and whatever reads the view
must be dropped first and rebuilt after (nothing does today: the rollup tables are filled
from the views but do not reference them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection

from cowrieprocessor.resources import views_dir


def view_sql_path(name: str, version: int, dialect: str) -> Path:
    """The SQL file of ``name`` at ``version`` for ``dialect`` (dialect file first)."""
    base = views_dir()
    for candidate in (f"{name}_v{version}.{dialect}.sql", f"{name}_v{version}.sql"):
        path = base / candidate
        if path.is_file():
            return path
    raise FileNotFoundError(f"no SQL for view {name} version {version} ({dialect}) in {base}")


def view_sql(name: str, version: int, dialect: str) -> str:
    """The SELECT defining ``name`` at ``version``, without a trailing semicolon."""
    text = view_sql_path(name, version, dialect).read_text(encoding="utf-8").strip()
    return text.removesuffix(";").rstrip()


def live_view(name: str) -> str:
    """Name of the live view of rollup ``name``."""
    return f"{name}_live"


def create_view(conn: Connection, view: str, name: str, version: int) -> None:
    """Create the view ``view`` from the SQL file of ``name`` at ``version``."""
    sql = view_sql(name, version, conn.dialect.name)
    conn.exec_driver_sql(f"CREATE VIEW {view} AS\n{sql}")


def drop_view(conn: Connection, view: str) -> None:
    """Drop the view ``view`` if it exists."""
    conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view}")


def create_live_view(conn: Connection, name: str, version: int) -> None:
    """Create the view ``<name>_live`` from the SQL file of ``version``."""
    create_view(conn, live_view(name), name, version)


def drop_live_view(conn: Connection, name: str) -> None:
    """Drop the view ``<name>_live`` if it exists."""
    drop_view(conn, live_view(name))


def key_index_name(table: str) -> str:
    """Name of a rollup table's unique key index (``rk_`` indexes are not in the models)."""
    return f"rk_{table}"


def create_key_index(
    conn: Connection, table: str, key: Sequence[str], hashed: Sequence[str] = ()
) -> None:
    """Unique index on the rollup key; on PostgreSQL ``hashed`` columns go in as md5().

    A btree entry must fit in a third of a page on PostgreSQL, which a 100 KB command or
    password does not; md5 of it does. SQLite indexes long text as is.
    """
    pg = conn.dialect.name == "postgresql"
    parts = [f"md5({c})" if pg and c in hashed else c for c in key]
    conn.exec_driver_sql(
        f"CREATE UNIQUE INDEX {key_index_name(table)} ON {table} ({', '.join(parts)})"
    )


def fill(conn: Connection, table: str, columns: Sequence[str]) -> int:
    """Replace the whole content of rollup ``table`` by its live view; rows written."""
    cols = ", ".join(columns)
    conn.exec_driver_sql(f"DELETE FROM {table}")
    result = conn.exec_driver_sql(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {live_view(table)}"
    )
    return max(result.rowcount, 0)
