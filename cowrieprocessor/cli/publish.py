"""``cowrie-report publish``: build report documents and index them into Elasticsearch.

Documents are built lazily, period by period and sensor by sensor, and sent in bulk
requests of ``--batch-size`` documents (or about 8 MB), so a long backfill streams instead
of holding every report in memory. Progress goes to the ``reporting`` status file and, when
stderr is a terminal, to a progress bar. ``--dry-run`` writes the exact bulk NDJSON instead
and never connects.

Exit code 0 only when every document was accepted; otherwise a per-document failure table
goes to stderr and the exit code is 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click
import orjson
from elasticsearch import Elasticsearch
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cowrieprocessor.cli.common import (
    AppContext,
    pass_app,
    progress_bar,
    stderr_console,
    user_errors,
)
from cowrieprocessor.cli.es_options import ESOptions, es_options
from cowrieprocessor.cli.show import fresh_engine, resolve_sensors, sensor_options, top_n_option
from cowrieprocessor.db.engine import create_session_maker
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.es_publisher import (
    DocumentOutcome,
    ESPublishError,
    PublishProgress,
    ReportDocumentError,
    RetryPolicy,
    check_write_aliases,
    publish_reports,
    write_dry_run,
)
from cowrieprocessor.reporting.es_settings import ESSettings, create_client
from cowrieprocessor.reporting.es_setup import write_alias
from cowrieprocessor.reporting.periods import (
    REPORT_TYPES,
    Period,
    PeriodError,
    parse_period,
    periods_between,
)
from cowrieprocessor.secrets import SecretResolutionError
from cowrieprocessor.status import StatusEmitter

__all__ = ["command"]

#: Flush a bulk request once the documents gathered for it reach this many bytes.
MAX_CHUNK_BYTES = 8 * 1024 * 1024
#: Error types (or HTTP statuses) of a whole request that will not get better by trying
#: the next batch: stop the run instead of hammering an unreachable or refusing cluster.
_FATAL_ERROR_TYPES = frozenset({"connection_error", "timeout", "tls_error"})
_FATAL_STATUSES = frozenset({401, 403})
_RATE_COUNTERS = ("reports_built", "reports_published")


class _Scrubber:
    """Replaces resolved secret values in any text we print or store (defence in depth)."""

    def __init__(self, secrets: list[str | None]) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str:
        text = text or ""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


@dataclass
class _Run:
    """Running totals over every bulk request of the run."""

    total: int
    built: int = 0
    published: int = 0
    failed: int = 0
    written: int = 0
    bulk_attempts: int = 0
    retries: int = 0
    stopped: str | None = None
    failures: list[DocumentOutcome] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        return {
            "reports_total": self.total,
            "reports_built": self.built,
            "reports_published": self.published,
            "reports_failed": self.failed,
            "reports_written": self.written,
            "bulk_attempts": self.bulk_attempts,
            "retries": self.retries,
        }

    def summary(self, dry_run: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "built": self.built,
            "accepted": self.published,
            "failed": self.failed,
            "not_built": self.total - self.built,
            "bulk_attempts": self.bulk_attempts,
            "retries": self.retries,
        }
        if dry_run:
            data = {"built": self.built, "written": self.written}
        if self.stopped:
            data["stopped"] = self.stopped
        return data


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


def _sensor_label(sensor: str | None) -> str:
    return "aggregate" if sensor is None else sensor


def _reason(outcome: DocumentOutcome) -> str:
    status = f"HTTP {outcome.http_status} " if outcome.http_status else ""
    kind = f"{outcome.error_type}: " if outcome.error_type else ""
    return f"{status}{kind}{outcome.error or 'not accepted'}".strip()


def _print_failures(console: Console, failures: list[DocumentOutcome], scrub: _Scrubber) -> None:
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
                Text(scrub(_reason(outcome))),
            )
        console.print(table)
        return
    lines = [f"{len(failures):,} documents not accepted:", "document_id\tstatus\treason"]
    lines += [
        f"{o.doc_id}\t{o.http_status or '-'}\t{scrub(_reason(o)).replace(chr(9), ' ')}"
        for o in failures
    ]
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def _summary_line(run: _Run, dry_run: bool, seconds: float) -> str:
    if dry_run:
        return f"dry-run: {run.built:,} documents built, {run.written:,} written, no connection"
    line = (
        f"publish: {run.built:,} documents built, {run.published:,} accepted, "
        f"{run.failed:,} failed, {run.retries:,} retries, {run.bulk_attempts:,} bulk requests "
        f"in {seconds:.2f} s"
    )
    if run.stopped:
        line += f"; stopped early, {run.total - run.built:,} reports not built"
    return line


def _client(settings: ESSettings) -> tuple[Elasticsearch, _Scrubber]:
    """Resolve secrets once, keep them for scrubbing, and build the client."""
    try:
        resolved = settings.resolved()
    except SecretResolutionError as exc:
        raise click.ClickException(str(exc)) from None
    scrub = _Scrubber([resolved.password, resolved.api_key])
    try:
        return create_client(resolved, resolve_secrets=False), scrub
    except ValueError as exc:
        raise click.ClickException(f"invalid Elasticsearch settings: {scrub(str(exc))}") from None


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
    """Build daily, weekly or monthly reports and index them into Elasticsearch.

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
    run = _Run(total=len(periods) * len(sensors))
    scrub = _Scrubber([])

    status = app.status("reporting")
    status.rate_counters = _RATE_COUNTERS
    with (
        status,
        ExitStack() as stack,
        progress_bar(
            console, MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn()
        ) as progress,
    ):
        task = progress.add_task(f"publish {report_type}", total=run.total, info="")
        status.update(
            run.counters(),
            report_type=report_type,
            date_range={"start": periods[0].start.isoformat(), "end": periods[-1].end.isoformat()},
            periods=len(periods),
            sensors=[_sensor_label(s) for s in sensors],
            dry_run=dry_run,
            index_prefix=settings.index_prefix,
            index_mode=settings.index_mode,
            target=(str(output) if output else "stdout")
            if dry_run
            else (list(settings.hosts) or "cloud"),
        )

        def documents() -> Iterator[dict[str, Any]]:
            for p in periods:
                for s in sensors:
                    status.update(current_period=p.label, current_sensor=_sensor_label(s))
                    progress.update(task, description=f"{report_type} {p.label} {_sensor_label(s)}")
                    doc = builder.build(p, s)
                    run.built += 1
                    status.update(run.counters())
                    progress.update(
                        task,
                        completed=run.built,
                        info=f"{run.published:,} ok {run.failed:,} failed",
                    )
                    yield doc

        if dry_run:
            out: IO[str] = sys.stdout
            if output is not None:
                output.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(
                    (output / f"{report_type}.ndjson").open("w", encoding="utf-8", newline="")
                )
            for doc in documents():
                run.written += write_dry_run(
                    [doc], out, prefix=settings.index_prefix, index_mode=settings.index_mode
                )
            out.flush()
        else:
            client, scrub = _client(settings)
            stack.callback(client.close)
            if settings.index_mode == "alias":  # before building anything
                try:
                    check_write_aliases(client, [write_alias(report_type, settings.index_prefix)])
                except ESPublishError as exc:
                    message = scrub(str(exc))
                    status.error("setup", message)
                    raise click.ClickException(message) from None
            _publish(run, documents(), client, settings, policy, batch_size, status, scrub)
        status.update(run.counters())
        ok = run.failed == 0 and run.stopped is None
        status.finish(
            "finished" if ok else "failed",
            current_period=None,
            current_sensor=None,
            summary=run.summary(dry_run),
        )

    seconds = status.payload()["elapsed_seconds"]
    line = _summary_line(run, dry_run, seconds)
    click.echo(line, err=dry_run and output is None)
    _print_failures(console, run.failures, scrub)
    if run.stopped:
        raise click.ClickException(run.stopped)
    if run.failures:
        sys.exit(1)


def _publish(
    run: _Run,
    documents: Iterator[dict[str, Any]],
    client: Elasticsearch,
    settings: ESSettings,
    policy: RetryPolicy,
    batch_size: int,
    status: StatusEmitter,
    scrub: _Scrubber,
) -> None:
    """Send ``documents`` in batches; update ``run`` and ``status`` as requests complete."""
    for batch in _batches(documents, batch_size):
        base = (run.published, run.failed, run.bulk_attempts, run.retries)

        def on_progress(p: PublishProgress, base: tuple[int, ...] = base) -> None:
            run.published, run.failed = base[0] + p.published, base[1] + p.failed
            run.bulk_attempts, run.retries = base[2] + p.bulk_attempts, base[3] + p.retries
            status.update(run.counters(), last_error=scrub(p.last_error) or None)

        try:
            result = publish_reports(
                client,
                batch,
                prefix=settings.index_prefix,
                index_mode=settings.index_mode,
                retry=policy,
                chunk_size=batch_size,
                check_aliases=False,
                progress=on_progress,
            )
        except ReportDocumentError as exc:  # a builder bug: no sensor, type or period
            message = f"cannot name a report document: {exc}"
            status.error("invalid_document", message)
            raise click.ClickException(message) from None
        run.published, run.failed = base[0] + result.accepted, base[1] + result.failed
        run.bulk_attempts, run.retries = (
            base[2] + result.bulk_attempts,
            base[3] + result.retries,
        )
        for outcome in result.failures:
            run.failures.append(outcome)
            status.error(
                outcome.error_type or "failed", scrub(f"{outcome.doc_id}: {_reason(outcome)}")
            )
        status.update(run.counters())
        failures = result.failures
        if (
            result.accepted == 0
            and failures
            and all(
                o.error_type in _FATAL_ERROR_TYPES or o.http_status in _FATAL_STATUSES
                for o in failures
            )
        ):
            run.stopped = "cannot publish to Elasticsearch: " + scrub(
                result.last_error or _reason(failures[0])
            )
            status.error("stopped", run.stopped)
            return


def _batches(documents: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Group documents into batches of ``size`` or about :data:`MAX_CHUNK_BYTES`."""
    batch: list[dict[str, Any]] = []
    batch_bytes = 0
    for doc in documents:
        batch.append(doc)
        batch_bytes += len(orjson.dumps(doc))
        if len(batch) >= size or batch_bytes >= MAX_CHUNK_BYTES:
            yield batch
            batch, batch_bytes = [], 0
    if batch:
        yield batch
