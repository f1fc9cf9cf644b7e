"""``cowrie-report refresh-views``: bring the rollups up to date, rebuild or check them."""

from __future__ import annotations

import sys

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cowrieprocessor.cli.common import (
    AppContext,
    pass_app,
    refresh_line,
    run_refresh,
    stderr_console,
    user_errors,
)
from cowrieprocessor.rollups.refresh import Difference, RefreshStats, check


def _stats_table(stats: RefreshStats) -> Table:
    table = Table(title="rollup refresh", title_justify="left")
    table.add_column("rollup")
    table.add_column("rows deleted", justify="right")
    table.add_column("rows written", justify="right")
    for name in sorted(set(stats.rows_deleted) | set(stats.rows_inserted)):
        table.add_row(name, f"{stats.rows_deleted[name]:,}", f"{stats.rows_inserted[name]:,}")
    return table


def _difference_line(diff: Difference) -> str:
    return f"{diff.rollup}: {diff.kind} {diff.row!r}"


@click.command("refresh-views")
@click.option(
    "--full",
    is_flag=True,
    help="Rebuild every rollup from scratch (from the prune watermark on: days before it "
    "have no raw events left and are kept as they are).",
)
@click.option(
    "--check",
    "do_check",
    is_flag=True,
    help="Then compare every rollup with its live view (days before the prune watermark "
    "are not compared); exit 1 on any difference.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
@user_errors
def command(app: AppContext, full: bool, do_check: bool, as_json: bool) -> None:
    """Recompute the rollups of the (day, sensor) buckets loads have touched.

    Only dirty buckets are recomputed, so the cost follows what changed, not the history.
    """
    engine = app.engine()
    console = stderr_console()
    stats = run_refresh(engine, console, app.status("refresh"), full=full)
    differences = check(engine) if do_check else []
    if as_json:
        doc: dict[str, object] = {"refresh": stats.as_dict()}
        if do_check:
            doc["check"] = {
                "differences": [
                    {"rollup": d.rollup, "kind": d.kind, "row": [str(v) for v in d.row]}
                    for d in differences
                ]
            }
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    else:
        out = Console(highlight=False)
        if stats.rows_deleted or stats.rows_inserted:
            out.print(_stats_table(stats))
        out.print(escape(refresh_line(stats)))
        if do_check:
            for diff in differences:
                console.print(_difference_line(diff), markup=False, emoji=False)
            out.print(
                f"check: {len(differences):,} differences"
                if differences
                else "check: every rollup equals its live view"
                + (
                    f" (days before {stats.frozen_before} are pruned: not compared)"
                    if stats.frozen_before is not None
                    else ""
                )
            )
    if differences:
        sys.exit(1)
