"""``cowrie-report publish``: build report documents and index them into Elasticsearch.

Option parsing and what the terminal shows; the run itself (building, batching, retries,
status file, stopping on an unreachable cluster, dry-run files) is
:class:`cowrieprocessor.es.run.PublishRun`. Exit code 0 only when every document was
accepted; otherwise a per-document failure table goes to stderr and the exit code is 1.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cowrieprocessor.cli.common import (
    AppContext,
    fresh_engine,
    pass_app,
    progress_bar,
    resolve_sensors,
    sensor_options,
    stderr_console,
    top_n_option,
    user_errors,
)
from cowrieprocessor.cli.es_options import ESOptions, es_options
from cowrieprocessor.db.engine import create_session_maker
from cowrieprocessor.es.names import ReportDocumentError
from cowrieprocessor.es.publisher import DocumentOutcome, ESPublishError, RetryPolicy
from cowrieprocessor.es.run import PublishRun, RunTotals
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import (
    REPORT_TYPES,
    Period,
    PeriodError,
    parse_period,
    periods_between,
)
from cowrieprocessor.secrets import Redactor, redact

__all__ = ["command"]


def _choose_periods(
    report_type: str, period: str | None, start: datetime | None, end: datetime | None
) -> list[Period]:
    if period is not None and (start is not None or end is not None):
        raise click.UsageError("give either PERIOD or --start/--end, not both")
    if end is not None and start is None:
        raise click.UsageError("--end needs --start")
    try:
        if start is None:
            return [parse_period(report_type, period)]
        last = end.date() if end is not None else parse_period(report_type, None).end
        return periods_between(report_type, start.date(), last)
    except PeriodError as exc:
        raise click.ClickException(str(exc)) from None


def _print_failures(console: Console, failures: list[DocumentOutcome], redact: Redactor) -> None:
    if not failures:
        return
    if console.is_terminal:
        table = Table(title=f"{len(failures):,} documents not accepted", title_justify="left")
        table.add_column("document id", no_wrap=True)
        table.add_column("status", justify="right")
        table.add_column("reason")
        for outcome in failures:
            table.add_row(
                Text(outcome.doc_id),
                Text(str(outcome.http_status or "-")),
                Text(redact.text(outcome.reason)),
            )
        console.print(table)
        return
    lines = [f"{len(failures):,} documents not accepted:", "document_id\tstatus\treason"]
    lines += [
        f"{o.doc_id}\t{o.http_status or '-'}\t{redact.text(o.reason).replace(chr(9), ' ')}"
        for o in failures
    ]
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def _summary_line(totals: RunTotals, dry_run: bool, seconds: float) -> str:
    if dry_run:
        return (
            f"dry-run: {totals.built:,} documents built, {totals.written:,} written, no connection"
        )
    line = (
        f"publish: {totals.built:,} documents built, {totals.published:,} accepted, "
        f"{totals.failed:,} failed, {totals.retries:,} retries, "
        f"{totals.bulk_attempts:,} bulk requests in {seconds:.2f} s"
    )
    if totals.stopped:
        line += f"; stopped early, {totals.total - totals.built:,} reports not built"
    return line


@click.command("publish")
@click.argument("report_type", type=click.Choice(REPORT_TYPES))
@click.argument("period", required=False, metavar="[PERIOD]")
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Backfill: first day (UTC) of a range; every period overlapping it is published.",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Backfill: last day (UTC), inclusive [default: end of the last complete period].",
)
@sensor_options
@top_n_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the bulk NDJSON (action and source lines) instead of sending it; never connects.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --dry-run: write <DIR>/<report_type>.ndjson instead of stdout.",
)
@es_options
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Documents per bulk request (requests are also capped at about 8 MB).",
)
@click.option(
    "--retry-attempts",
    default=RetryPolicy.max_attempts,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Bulk attempts per batch before its documents count as failed.",
)
@click.option(
    "--retry-backoff",
    default=RetryPolicy.initial_backoff,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="Initial backoff; doubles per retry (full jitter, capped at 30 s).",
)
@click.option(
    "--retry-budget",
    default=RetryPolicy.max_total_seconds,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="Give up retrying a batch once this much time has passed since it was first sent.",
)
@pass_app
@user_errors
def command(
    app: AppContext,
    report_type: str,
    period: str | None,
    start: datetime | None,
    end: datetime | None,
    sensor: str | None,
    all_sensors: bool,
    top_n: int,
    dry_run: bool,
    output: Path | None,
    es: ESOptions,
    batch_size: int,
    retry_attempts: int,
    retry_backoff: float,
    retry_budget: float,
) -> None:
    """Build REPORT_TYPE (daily, weekly or monthly) reports and index them into Elasticsearch.

    PERIOD is YYYY-MM-DD (daily), YYYY-Www (weekly) or YYYY-MM (monthly); the default is
    the last complete period. --start/--end backfill every period in a date range. Each
    document has the fixed id <sensor>:<report_type>:<period>, so re-running overwrites.
    Run es-setup once before publishing in alias mode.

    Exit code 0 only if every document was accepted; otherwise the failed documents are
    listed on stderr and the exit code is 1.
    """
    if sensor and all_sensors:
        raise click.UsageError("--sensor and --all-sensors exclude each other")
    if output is not None and not dry_run:
        raise click.UsageError("--output only goes with --dry-run")
    periods = _choose_periods(report_type, period, start, end)
    settings = es.settings()
    policy = RetryPolicy(
        max_attempts=retry_attempts,
        initial_backoff=retry_backoff,
        max_total_seconds=retry_budget,
    )
    engine = fresh_engine(app)
    sensors = resolve_sensors(engine, sensor, all_sensors)
    builder = builder_for(report_type)(create_session_maker(engine), top_n=top_n)
    console = stderr_console()
    status = app.status("reporting")
    run = PublishRun(periods, sensors, builder.build, settings=settings, status=status)
    secrets = redact
    with (
        status,
        ExitStack() as stack,
        progress_bar(
            console, MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn()
        ) as progress,
    ):
        task = progress.add_task(f"publish {report_type}", total=run.totals.total, info="")

        def show(totals: RunTotals, current: str) -> None:
            info = f"{totals.published:,} ok {totals.failed:,} failed"
            progress.update(task, description=current, completed=totals.built, info=info)

        run.on_progress = show
        run.start(dry_run=dry_run, output=output)
        if dry_run:
            run.write_dry_run(output if output is not None else sys.stdout)
        else:
            client, secrets = es.connect(settings)
            stack.callback(client.close)
            try:
                run.publish(client, redact=secrets, retry=policy, batch_size=batch_size)
            except (ESPublishError, ReportDocumentError) as exc:
                raise click.ClickException(str(exc)) from None
        run.finish()

    seconds = status.payload()["elapsed_seconds"]
    click.echo(_summary_line(run.totals, dry_run, seconds), err=dry_run and output is None)
    _print_failures(console, run.totals.failures, secrets)
    if run.totals.stopped:
        raise click.ClickException(run.totals.stopped)
    if run.totals.failures:
        sys.exit(1)
