"""Entry point of ``cowrie-report``."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from cowrieprocessor import __version__
from cowrieprocessor.cli.common import AppContext
from cowrieprocessor.config import DB_URL_ENV, STATUS_DIR_ENV, default_db_path

#: Sub-command name -> "module:attribute". Modules are imported only when their command
#: runs, so `show` does not pay for importing the Elasticsearch client.
COMMANDS = {
    "db": "cowrieprocessor.cli.db:command",
    "ingest": "cowrieprocessor.cli.ingest:command",
    "enrich": "cowrieprocessor.cli.enrich:command",
    "refresh-views": "cowrieprocessor.cli.refresh:command",
    "prune": "cowrieprocessor.cli.prune:command",
    "show": "cowrieprocessor.cli.show:show",
    "export": "cowrieprocessor.cli.show:export",
    "monitor": "cowrieprocessor.cli.monitor:command",
    "sample-logs": "cowrieprocessor.cli.sample:command",
    "es-setup": "cowrieprocessor.cli.es_setup:command",
    "publish": "cowrieprocessor.cli.publish:command",
}


#: Top-level packages of the optional extras -> the extra that installs them.
EXTRAS = {"elasticsearch": "elasticsearch", "elastic_transport": "elasticsearch"}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        try:
            command: click.Command = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            extra = EXTRAS.get((exc.name or "").partition(".")[0])
            if extra is None:
                raise
            return _needs_extra(cmd_name, extra)
        return command


def _needs_extra(name: str, extra: str) -> click.Command:
    """A stand-in for a command whose optional dependencies are not installed."""
    message = f"'{name}' needs the {extra} extra: pip install 'cowrieprocessor[{extra}]'"

    def fail(args: tuple[str, ...]) -> None:
        raise click.ClickException(message)

    return click.Command(
        name,
        callback=fail,
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        help=f"(not installed) {message}.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


class DbOption(click.Option):
    """``--db``, whose help names the default file only when help is shown (finding the
    user data directory imports platformdirs, which a run with ``--db`` does not need)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = (
            f"Database URL (sqlite:///PATH or postgresql://...). Env: {DB_URL_ENV}. "
            f"Default: SQLite file {default_db_path()}."
        )
        return super().get_help_record(ctx)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    "db_url",
    envvar=DB_URL_ENV,
    metavar="URL",
    cls=DbOption,
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
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cowrie-report")


if __name__ == "__main__":
    main()
