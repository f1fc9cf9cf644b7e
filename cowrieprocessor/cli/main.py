"""Entry point of ``cowrie-report``."""

from __future__ import annotations

from pathlib import Path

import click

from cowrieprocessor import __version__
from cowrieprocessor.cli import db, es_setup, ingest, monitor, publish, refresh, sample, show
from cowrieprocessor.cli.common import AppContext
from cowrieprocessor.config import DB_URL_ENV, STATUS_DIR_ENV, default_db_path


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db_url",
    envvar=DB_URL_ENV,
    metavar="URL",
    help=f"Database URL (sqlite:///PATH or postgresql://...). Env: {DB_URL_ENV}. "
    f"Default: SQLite file {default_db_path()}.",
)
@click.option(
    "--status-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=STATUS_DIR_ENV,
    help=f"Write progress status files here. Env: {STATUS_DIR_ENV}.",
)
@click.version_option(__version__, prog_name="cowrie-report")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, status_dir: Path | None) -> None:
    """Ingest Cowrie honeypot logs and report on them, from SQLite or PostgreSQL."""
    ctx.obj = AppContext(db_url=db_url, status_dir=status_dir)


for command in (
    db.command,
    ingest.command,
    refresh.command,
    show.show,
    show.export,
    monitor.command,
    sample.command,
    es_setup.command,
    publish.command,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cowrie-report")


if __name__ == "__main__":
    main()
