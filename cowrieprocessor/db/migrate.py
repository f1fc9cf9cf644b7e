"""Run Alembic from code: upgrade, downgrade, current revision, schema checks.

Alembic is imported only when a migration really has to run: everyday commands check the
revision with one query against ``alembic_version`` and start faster for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select, text

from cowrieprocessor.resources import alembic_dir

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in alembic/versions (a test keeps the two in step).
SCHEMA_HEAD = "0018"
#: Advisory lock key serialising schema changes on PostgreSQL ("schema" in ASCII).
_SCHEMA_LOCK = 0x736368656D61


class SchemaError(RuntimeError):
    """The database schema is not at the revision this version of the code expects."""


def alembic_config() -> Config:
    """An Alembic config pointing at the project's migration scripts."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(alembic_dir()))
    return cfg


def head_revision() -> str:
    """The newest migration among the shipped scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the schema to itself until it ends.

    Two processes starting on an empty database (two sensors' first cron runs) would
    otherwise both create the schema: PostgreSQL fails one of them on its catalog's
    unique keys, SQLite on its lock. PostgreSQL takes a transaction-level advisory lock,
    SQLite starts the transaction with ``BEGIN IMMEDIATE`` (the write lock, waited for up
    to the busy timeout). Whoever comes second waits, then finds the work done.
    """
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            yield conn


def _run(engine: Engine, action: str, revision: str) -> None:
    with _schema_lock(engine) as conn:
        _alembic(conn, action, revision)


def _alembic(conn: Connection, action: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` in one transaction (one process at a time)."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` empties it)."""
    _run(engine, "downgrade", revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse to work on an outdated one.

    Safe when several processes start on the same empty database at once: one creates the
    schema, the others wait for it and use it.
    """
    current = current_revision(engine)
    if current is None:
        with _schema_lock(engine) as conn:
            current = _revision(conn)  # again, now that nobody else can be creating it
            if current is None:
                _alembic(conn, "upgrade", "head")
                return
    if current != SCHEMA_HEAD:
        raise SchemaError(
            f"database is at revision {current}, this version needs {SCHEMA_HEAD}: "
            "run 'cowrie-report db upgrade'"
        )
