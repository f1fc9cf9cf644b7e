"""``cowrie-report ingest``: load Cowrie logs, incrementally by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    DownloadColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy import Engine

from cowrieprocessor.cli.common import (
    RATE_COUNTERS,
    AppContext,
    Interrupted,
    pass_app,
    progress_bar,
    prune_line,
    refresh_line,
    retention_default,
    run_enrichment,
    run_prune,
    run_refresh,
    select_providers,
    sensor_name,
    stderr_console,
    stop_lines,
    stop_on_ctrl_c,
    summary_table,
    user_errors,
)
from cowrieprocessor.config import default_status_dir
from cowrieprocessor.ingest.child import ChildFailed
from cowrieprocessor.ingest.loader import DEFAULT_BATCH_SIZE, IngestStats, Loader
from cowrieprocessor.ingest.pool import LoaderFailed, LoaderPool
from cowrieprocessor.ingest.reader import PathError, discover, path_text

if TYPE_CHECKING:
    from cowrieprocessor.enrichment.runner import ProviderRun
    from cowrieprocessor.prune import PruneStats
    from cowrieprocessor.rollups.refresh import RefreshStats


def _summary_table(stats: IngestStats) -> Table:
    table = Table(title="ingest summary", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value")
    table.add_row(
        "files",
        f"{stats.files:,} ({stats.files_unchanged:,} unchanged, "
        f"{stats.files_reread:,} re-read from the start)",
    )
    table.add_row("records read", f"{stats.records:,}")
    table.add_row("events new", f"{stats.events_new:,}")
    table.add_row("events duplicate", f"{stats.events_duplicate:,}")
    dead = sum(stats.dead_letters.values())
    detail = ", ".join(f"{reason} {n:,}" for reason, n in sorted(stats.dead_letters.items()))
    table.add_row("dead letters", f"{dead:,}" + (f" ({detail})" if detail else ""))
    table.add_row("sessions touched", f"{stats.sessions_touched:,}")
    if stats.retries:  # PostgreSQL broke a deadlock with another writer; nothing was lost
        table.add_row("written again", f"{stats.retries:,} (after a deadlock with another writer)")
    table.add_row("time", f"{stats.seconds:.2f} s, {stats.events_per_second:,.0f} events/s")
    return table


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--sensor", callback=sensor_name, help="Sensor name for events that lack one.")
@click.option(
    "--full",
    is_flag=True,
    help="Re-read every file from the start (events of pruned days become pruned_day dead "
    "letters).",
)
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(100, 1_000_000),
    help="Records per transaction.",
)
@click.option(
    "--no-refresh", is_flag=True, help="Leave the rollups' dirty buckets for refresh-views."
)
@click.option(
    "--enrich/--no-enrich",
    "enrich",
    default=None,
    help="After loading, country and AS are looked up offline by default; --enrich also runs "
    "every configured online provider (within its budget), --no-enrich skips enrichment.",
)
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Loader processes at once, each with a share of the sensors' files (PostgreSQL; "
    "SQLite takes one writer, so runs one loader).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
@user_errors
def command(
    app: AppContext,
    paths: tuple[str, ...],
    sensor: str | None,
    full: bool,
    batch_size: int,
    no_refresh: bool,
    enrich: bool | None,
    jobs: int,
    as_json: bool,
) -> None:
    """Load Cowrie JSON logs from PATHS: files, directories or globs (plain, .gz, .bz2).

    Only bytes appended since the last run are read; rotated, replaced or truncated files
    are read again from the start. Bad records are kept in dead_letters with a reason.
    Ctrl-C or SIGTERM stops after the batch being written (exit code 130 or 143); the next
    run resumes there, also after a crash. On PostgreSQL, --jobs N loads the files of
    different sensors in N processes at once (docs/scaling.md). With
    COWRIE_RETENTION_RAW_DAYS set, raw events older than that many days are pruned at the
    end (docs/retention.md).
    """
    console = stderr_console()
    retain = retention_default()  # a bad setting fails before any work
    with stop_on_ctrl_c(console) as check_stop:  # the whole run, refresh and summary included
        files = _discover(paths)
        engine = app.engine(create=True)
        if full:
            _warn_pruned(engine, console)
        loader: Loader | LoaderPool
        if jobs > 1 and engine.dialect.name == "postgresql":
            loader = LoaderPool(
                engine,
                jobs=jobs,
                default_sensor=sensor,
                batch_size=batch_size,
                full=full,
                status_dir=app.status_dir or default_status_dir(),
                rate_counters=RATE_COUNTERS["ingest"],
            )
        else:
            if jobs > 1:
                console.print(f"SQLite takes one writer at a time: --jobs {jobs} runs one loader")
            loader = Loader(engine, default_sensor=sensor, batch_size=batch_size, full=full)
        runs: list[ProviderRun] = []
        try:
            stats = _load(app, loader, files, paths, console, check_stop)
            if enrich is not False:  # after the batches: enrichment never slows loading
                providers = select_providers(
                    (), offline_only=False, online=bool(enrich), config=None
                )
                runs = run_enrichment(app, engine, providers, console, check_stop=check_stop)
            refreshed = None if no_refresh else run_refresh(engine, console, app.status("refresh"))
            check_stop()
            pruned = None if retain is None else run_prune(app, retain, engine=engine)
        except Interrupted:  # stopped at a safe point: what was done is still worth telling
            _print_summary(loader.stats, runs, None, None, as_json, interrupted=True)
            raise
        except (ChildFailed, LoaderFailed) as exc:
            raise click.ClickException(f"{exc}; work already committed is kept") from None
        _print_summary(stats, runs, refreshed, pruned, as_json, interrupted=False)
        for line in stop_lines(runs):
            console.print(escape(line))


def _print_summary(
    stats: IngestStats,
    runs: list[ProviderRun],
    refreshed: RefreshStats | None,
    pruned: PruneStats | None,
    as_json: bool,
    *,
    interrupted: bool,
) -> None:
    if as_json:
        doc = stats.as_dict() | {"interrupted": interrupted}
        if refreshed is not None:
            doc["refresh"] = refreshed.as_dict()
        if pruned is not None:
            doc["prune"] = pruned.as_dict()
        if runs:
            doc["enrichment"] = [r.as_dict() for r in runs]
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    Console(highlight=False).print(_summary_table(stats))
    if runs:
        Console(highlight=False).print(summary_table(runs))
    if refreshed is not None:
        Console(highlight=False).print(escape(refresh_line(refreshed)))
    if pruned is not None:
        Console(highlight=False).print(escape(prune_line(pruned)))


def _warn_pruned(engine: Engine, console: Console) -> None:
    """``--full`` cannot bring back raw events of pruned days: say so before reading."""
    from cowrieprocessor.db.retention import pruned_before

    with engine.connect() as conn:
        before = pruned_before(conn)
    if before is not None:
        console.print(
            f"note: raw events before {before} were pruned; --full re-reads the files, but"
            " their events of those days become pruned_day dead letters (docs/retention.md)",
            markup=False,
        )


def _discover(paths: tuple[str, ...]) -> list[Path]:
    """The files to read; a path that cannot be read is one line naming it, escaped (a file
    name can hold terminal escapes, and the command is often run over an attacker's tree)."""
    from cowrieprocessor.reporting.safe_text import escape_controls

    try:
        return discover(paths)
    except PathError as exc:
        shown = escape_controls(path_text(exc.path))
        raise click.ClickException(f"{exc.problem}: {shown}") from None


def _load(
    app: AppContext,
    loader: Loader | LoaderPool,
    files: list[Path],
    paths: tuple[str, ...],
    console: Console,
    check_stop: Callable[[], None],
) -> IngestStats:
    """Run the loader with a progress bar and the ``ingest`` status file."""
    with (
        app.status("ingest") as status,
        progress_bar(
            console, DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()
        ) as progress,
    ):
        task = progress.add_task("ingest", total=None)
        status.update(
            {"files": len(files)},
            paths=[path_text(p) for p in paths],
            database=loader.engine.url.render_as_string(),
        )

        def on_progress(stats: IngestStats) -> None:
            progress.update(
                task,
                total=stats.bytes_total or None,
                completed=stats.bytes_read,
                description=f"ingest {stats.events_new:,} new",
            )
            status.update(
                stats.counters(),
                current_file=stats.current_file,
                checkpoint={"file": stats.current_file, "offset": stats.current_offset},
            )
            check_stop()  # called after each committed batch

        loader.on_progress = on_progress
        try:
            stats = loader.ingest(files)
        except Interrupted:
            status.update(loader.stats.counters(), summary=loader.stats.as_dict())
            raise
        status.update(stats.counters())
        status.finish(current_file=None, checkpoint=None, summary=stats.as_dict())
    return stats
