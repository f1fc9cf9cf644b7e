"""Run Alembic from code: upgrade, downgrade, current revision, schema checks.

Alembic is imported only when a migration really has to run: everyday commands check the
revision with one query against ``alembic_version`` and start faster for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from cowrieprocessor.resources import alembic_dir

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in alembic/versions (a test keeps the two in step).
SCHEMA_HEAD = "0010"


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
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _run(engine: Engine, action: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` in one transaction."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` empties it)."""
    _run(engine, "downgrade", revision)


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse to work on an outdated one."""
    current = current_revision(engine)
    if current == SCHEMA_HEAD:
        return
    if current is None:
        upgrade(engine)
        return
    raise SchemaError(
        f"database is at revision {current}, this version needs {SCHEMA_HEAD}: "
        "run 'cowrie-report db upgrade'"
    )
