"""``cowrie-report db``: schema migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click

from cowrieprocessor.cli.common import AppContext, pass_app, user_errors
from cowrieprocessor.db import migrate
from cowrieprocessor.reporting.safe_text import escape_controls


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
    engine = app.engine(create=True, migrate=False)
    before = migrate.current_revision(engine)
    with _show_steps():
        migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    click.echo(f"database at revision {after} (was {before or 'empty'})")


@command.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask before 'base' drops every table.")
@pass_app
@user_errors
def downgrade(app: AppContext, revision: str, yes: bool) -> None:
    """Migrate the database down to REVISION ('base' removes every table, data included,
    after asking unless --yes)."""
    engine = app.engine(migrate=False)
    if migrate.current_revision(engine) is None:  # Alembic would write its version table
        click.echo("database at revision base (empty): nothing to downgrade")
        return
    if revision == "base" and not yes:
        where = engine.url.render_as_string(hide_password=True)
        click.confirm(
            f"Drop every table of {escape_controls(where)}, all data included?",
            abort=True,
            err=True,
        )
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
