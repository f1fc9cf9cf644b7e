"""Engines and session factories, with the per-dialect set-up both databases need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker


class DatabaseURLError(ValueError):
    """The database URL cannot be used."""


def _setup_sqlite(engine: Engine) -> None:
    # pysqlite opens transactions lazily and never around DDL; take over BEGIN ourselves
    # (SQLAlchemy's documented recipe) so migrations and batches are really atomic.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            # First: the pragmas after it wait for a lock too (another process creating
            # the database, or holding its write lock).
            "busy_timeout=60000",
            # Takes effect only on a database still empty. Half as many pages to write per
            # batch: each is a write() of its own into the WAL, and a bulk load ran 15-20 %
            # faster (docs/benchmarks.md). Must come before WAL mode fixes the page size.
            "page_size=8192",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            # A database still empty: pages freed by `prune` will go back to the file
            # system (docs/retention.md). Asked of a populated database, the setting would
            # wait for its write lock.
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "temp_store=MEMORY",
            "cache_size=-65536",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers ask for IMMEDIATE so two processes queue on the lock instead of deadlocking.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine_for_url(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL (``postgresql://`` uses psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("connect_args", {"options": "-c timezone=UTC"})
    elif backend != "sqlite":
        raise DatabaseURLError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    try:
        engine = create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        if backend == "postgresql" and (exc.name or "").startswith("psycopg"):
            raise DatabaseURLError(
                "PostgreSQL support is not installed: pip install 'cowrieprocessor[postgresql]'"
            ) from None
        raise DatabaseURLError(f"cannot use database URL {parsed!r}: {exc}") from None
    except Exception as exc:  # bad query arguments
        raise DatabaseURLError(f"cannot use database URL {parsed!r}: {exc}") from None
    if backend == "sqlite":
        _setup_sqlite(engine)
    return engine


def sqlite_file(engine: Engine) -> str | None:
    """Path of ``engine``'s SQLite database file, which other connections can open too; None
    for PostgreSQL and for an in-memory or URI-named SQLite database."""
    return sqlite_path(engine.url)


def sqlite_path(url: str | URL) -> str | None:
    """The SQLite database file a URL names (as :func:`sqlite_file`); None for any other
    URL, and for one that cannot be parsed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return None if path.startswith("file:") else path


def dbapi_connection(conn: Connection) -> Any:
    """The driver's own connection under ``conn`` (``sqlite3``'s or ``psycopg``'s, detached
    or not), for what SQLAlchemy does not offer: PRAGMAs outside a transaction, COPY, the
    driver's plain tuples."""
    raw = conn.connection.dbapi_connection
    if raw is None:  # only once the connection has been invalidated
        raise RuntimeError("the database connection is no longer usable")
    return raw


def create_session_maker(engine: Engine) -> sessionmaker[Session]:
    """ORM session factory used by the loaders and the reporting layer."""
    return sessionmaker(bind=engine, expire_on_commit=False)
