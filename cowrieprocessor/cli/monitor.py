"""``monitor``: show the progress of ingest, refresh and reporting jobs from status files."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live

from cowrieprocessor.cli.common import AppContext, pass_app
from cowrieprocessor.config import default_status_dir
from cowrieprocessor.monitor import DEFAULT_STALE_AFTER, read_snapshot, render_snapshot


@click.command("monitor")
@click.option(
    "--status-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory where jobs write status files (default: the global --status-dir, "
    "COWRIE_STATUS_DIR, or the user state dir).",
)
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes of the live view.",
)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=1),
    default=DEFAULT_STALE_AFTER,
    show_default=True,
    help="Seconds without update after which a running phase is marked stale.",
)
@pass_app
def command(
    app: AppContext, status_dir: Path | None, once: bool, interval: float, stale_after: float
) -> None:
    """Show ingest/refresh/reporting progress (live until Ctrl-C, or --once)."""
    status_dir = status_dir or app.status_dir or default_status_dir()
    if once:
        console = Console(highlight=False, emoji=False, markup=False)
        snapshot = read_snapshot(status_dir, stale_after=stale_after)
        # piped: one logical line per item, no wrapping at an arbitrary 80 columns
        console.print(render_snapshot(snapshot), soft_wrap=not console.is_terminal)
        return
    console = Console(stderr=False, highlight=False, emoji=False, markup=False)
    try:
        snapshot = read_snapshot(status_dir, stale_after=stale_after)
        with Live(
            render_snapshot(snapshot), console=console, auto_refresh=False, transient=False
        ) as live:
            while True:
                time.sleep(interval)
                snapshot = read_snapshot(status_dir, stale_after=stale_after)
                live.update(render_snapshot(snapshot), refresh=True)
    except KeyboardInterrupt:
        return
