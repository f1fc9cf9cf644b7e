"""Alembic environment: runs on a connection handed over by cowrieprocessor, or on a URL."""

import re

from alembic import context
from sqlalchemy import Connection

from cowrieprocessor.config import resolve_db_url
from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.models import Base

config = context.config
_PARTITION = re.compile(r"raw_events_(default|p\d{6})")
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    # Rollup key indexes (rk_*) and covering indexes (rc_*) differ by dialect and are
    # created by the migrations only.
    if type_ == "index" and name is not None and name.startswith(("rk_", "rc_")):
        return False
    # The month partitions of raw_events (PostgreSQL) and their indexes come and go with
    # the data (cowrieprocessor/db/partitions.py).
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not (table and _PARTITION.fullmatch(table))


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        include_object=_include_object,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url") or resolve_db_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine_for_url(config.get_main_option("sqlalchemy.url") or resolve_db_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
