"""``cowrie-report prune``: delete old raw events, keeping every report as it is."""

from __future__ import annotations

from datetime import date, datetime

import click
import orjson

from cowrieprocessor.cli.common import AppContext, pass_app, prune_line, run_prune, user_errors
from cowrieprocessor.config import RETENTION_ENV


@click.command("prune")
@click.option(
    "--raw-before",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DAY",
    help=f"Delete the raw events of sessions of days before DAY (YYYY-MM-DD, UTC). "
    f"Default: today minus {RETENTION_ENV} days.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
@user_errors
def command(app: AppContext, raw_before: datetime | None, dry_run: bool, as_json: bool) -> None:
    """Delete raw events of days before DAY; every report stays as it is.

    Those days are frozen: their rollups are kept and no longer recomputed, events for them
    that arrive later become 'pruned_day' dead letters, and commands that need raw events
    (refresh-views --full, ingest --full) leave them alone. Safe while an ingest runs.
    See docs/retention.md.
    """
    day: date | None = None if raw_before is None else raw_before.date()
    stats = run_prune(app, day, dry_run=dry_run)
    if as_json:
        click.echo(orjson.dumps(stats.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(prune_line(stats))
