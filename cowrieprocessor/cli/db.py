"""``cowrie-report db``: schema migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click

from cowrieprocessor.cli.common import AppContext, pass_app, user_errors
from cowrieprocessor.db import migrate


@click.group("db")
def command() -> None:
    """Manage the database schema (Alembic migrations)."""


@contextmanager
def _show_steps() -> Iterator[None]:
    """Print each migration step on stderr as it starts (Alembic's "Running upgrade ..." line):
    on a large database some steps take minutes."""
    logger = logging.getLogger("alembic.runtime.migration")
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(lambda record: record.getMessage().startswith("Running "))
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@command.command("upgrade")
@click.argument("revision", default="head")
@pass_app
@user_errors
def upgrade(app: AppContext, revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    engine = app.engine(migrate=False)
    before = migrate.current_revision(engine)
    with _show_steps():
        migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    click.echo(f"database at revision {after} (was {before or 'empty'})")


@command.command("downgrade")
@click.argument("revision")
@pass_app
@user_errors
def downgrade(app: AppContext, revision: str) -> None:
    """Migrate the database down to REVISION ('base' removes every table)."""
    engine = app.engine(migrate=False)
    with _show_steps():
        migrate.downgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine) or 'base (empty)'}")


@command.command("current")
@pass_app
@user_errors
def current(app: AppContext) -> None:
    """Show the database's revision and whether it is the newest."""
    engine = app.engine(migrate=False)
    rev = migrate.current_revision(engine)
    head = migrate.head_revision()
    state = "up to date" if rev == head else f"newest is {head}: run 'cowrie-report db upgrade'"
    click.echo(f"{rev or 'empty'} ({state})")
