"""``cowrie-report show`` and ``export``: reports in the terminal, as JSON, and raw rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection

from cowrieprocessor.cli.common import (
    AppContext,
    check_output,
    fresh_engine,
    open_output,
    output_options,
    pass_app,
    resolve_sensors,
    sensor_options,
    top_n_option,
    unknown_sensor,
    user_errors,
)
from cowrieprocessor.db.engine import create_session_maker
from cowrieprocessor.reporting.builders import ReportBuilder, builder_for
from cowrieprocessor.reporting.dal import DEFAULT_BATCH, ReportingDAL, Window
from cowrieprocessor.reporting.events import write_events
from cowrieprocessor.reporting.export import FORMATS, KINDS, write_export
from cowrieprocessor.reporting.periods import REPORT_TYPES, Period, PeriodError, parse_period
from cowrieprocessor.reporting.serialize import to_json, to_ndjson


@click.command("show")
@click.argument("report_type", type=click.Choice(REPORT_TYPES))
@click.argument("period", required=False, metavar="[PERIOD]")
@sensor_options
@top_n_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "ndjson", "html", "markdown"]),
    default="table",
    show_default=True,
    help="table: Rich tables; json: the document (a list with --all-sensors), exactly; "
    "ndjson: one document per line; html: one self-contained page with charts (needs the "
    "html extra); markdown: the same figures as GitHub-flavoured tables.",
)
@output_options
@pass_app
@user_errors
def show(
    app: AppContext,
    report_type: str,
    period: str | None,
    sensor: str | None,
    all_sensors: bool,
    top_n: int,
    fmt: str,
    output: Path | None,
    force: bool,
) -> None:
    """Show the REPORT_TYPE (daily, weekly or monthly) report.

    PERIOD is YYYY-MM-DD (daily), YYYY-Www (weekly, ISO week) or YYYY-MM (monthly); the
    default is the last complete period (yesterday, last week, last month, UTC).
    """
    if sensor and all_sensors:
        raise click.UsageError("--sensor and --all-sensors exclude each other")
    try:
        chosen = parse_period(report_type, period)
    except PeriodError as exc:
        raise click.ClickException(str(exc)) from None
    check_output(app, output, force)
    engine = fresh_engine(app)
    sensors = resolve_sensors(engine, sensor, all_sensors)
    builder = builder_for(report_type)(create_session_maker(engine), top_n=top_n)
    documents = [builder.build(chosen, s) for s in sensors]
    if fmt in ("html", "markdown"):
        _write_page(builder, chosen, sensors, documents, fmt, output)
        return
    notice = _empty_notice(builder, sensors, documents[0])
    if notice and fmt in ("json", "ndjson"):
        click.echo(f"note: {notice}", err=True)
    with open_output(output) as out:
        if fmt == "json":
            out.write(to_json(documents[0] if len(documents) == 1 else documents) + "\n")
        elif fmt == "ndjson":
            out.write(to_ndjson(documents))
        else:
            from rich.console import Console

            from cowrieprocessor.reporting.render import render_report

            console = Console(
                file=out,
                highlight=False,
                emoji=False,
                markup=False,
                width=120 if output else None,
            )
            if notice:
                console.print(f"Note: {notice}", style="bold yellow")
            with create_session_maker(engine)() as session:
                dal = ReportingDAL(session)
                codes = {
                    str(row.get("value"))
                    for d in documents
                    for row in d["enrichments"]["country_top"]
                }
                names, sources = dal.country_names(codes), dal.offline_sources()
            for document, of in zip(documents, sensors, strict=True):
                total = builder.uncommon_session_total(chosen, of)
                console.print(
                    render_report(
                        document, uncommon_total=total, country_names=names, sources=sources
                    )
                )


def _empty_notice(
    builder: ReportBuilder, sensors: list[str | None], document: dict[str, Any]
) -> str | None:
    """Where the data is, when the reported period holds no session (else None)."""
    if document["sessions"]["total"]:
        return None
    from cowrieprocessor.reporting.page import data_span, empty_notice

    only = sensors[0] if len(sensors) == 1 else None
    return empty_notice(document, data_span(builder.session_factory, only))


def _write_page(
    builder: ReportBuilder,
    period: Period,
    sensors: list[str | None],
    documents: list[dict[str, Any]],
    fmt: str,
    output: Path | None,
) -> None:
    """The documents as one HTML page or Markdown text (reporting/html.py)."""
    try:
        from cowrieprocessor.reporting.html import render_html, render_markdown
    except ImportError:
        raise click.ClickException(
            f"--format {fmt} needs the html extra: pip install 'cowrieprocessor[html]'"
        ) from None
    from cowrieprocessor.reporting.charts import ChartsUnavailable
    from cowrieprocessor.reporting.page import build_page

    page = build_page(builder, period, sensors, documents)
    try:
        text = render_html(page) if fmt == "html" else render_markdown(page)
    except ChartsUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if page.notice:
        click.echo(f"note: {page.notice}", err=True)
    with open_output(output) as out:
        out.write(text)
    if output is not None:
        click.echo(f"wrote {output}", err=True)


@click.command("export")
@click.argument("kind", type=click.Choice((*KINDS, "events")))
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (UTC), inclusive (required but for events).",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day (UTC), inclusive (required but for events).",
)
@click.option("--sensor", metavar="NAME", help="Only sessions (events) of this sensor.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="ndjson",
    show_default=True,
    help="ndjson keeps values exact; in csv a cell a spreadsheet would run as a formula "
    "(=, +, -, @ first or after whitespace; tab, CR first) gets a leading '.",
)
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows fetched per query.",
)
@output_options
@pass_app
@user_errors
def export(
    app: AppContext,
    kind: str,
    start: Any,
    end: Any,
    sensor: str | None,
    fmt: str,
    batch_size: int,
    output: Path | None,
    force: bool,
) -> None:
    """Stream the per-session rows of KIND (sessions, commands or files) of the sessions
    started from --start to --end, oldest first; or the stored events (KIND events: all,
    or those of the days from --start to --end) as logged, as NDJSON."""
    first = None if start is None else start.date()
    last = None if end is None else end.date()
    if kind != "events" and (first is None or last is None):
        raise click.UsageError(f"exporting {kind} needs --start and --end")
    if kind == "events" and fmt != "ndjson":
        raise click.UsageError("events are exported as ndjson only")
    if first is not None and last is not None and last < first:
        raise click.UsageError("--end is before --start")
    check_output(app, output, force)
    engine = app.engine()
    if kind == "events":
        with engine.connect() as conn:
            _check_not_pruned(conn, first)
        with engine.connect() as conn, open_output(output) as out:
            write_events(conn, out, start=first, end=last, sensor=sensor)
        return
    assert first is not None and last is not None
    if sensor is not None:
        # Exports read the base tables, so the sensor is checked there, not in the rollups
        # (which may still be stale after 'ingest --no-refresh').
        with create_session_maker(engine)() as session:
            dal = ReportingDAL(session)
            if not dal.has_sessions(sensor):
                raise unknown_sensor(sensor, dal.recorded_sensors())
    with create_session_maker(engine)() as session, open_output(output) as out:
        write_export(ReportingDAL(session), kind, Window(first, last, sensor), fmt, out, batch_size)


def _check_not_pruned(conn: Connection, first: date | None) -> None:
    """Raw events of pruned days are gone: a window reaching into them is refused, an export
    of everything says where it starts (docs/retention.md)."""
    from cowrieprocessor.db.retention import PrunedError, pruned_before, require_raw_events

    if first is None:
        before = pruned_before(conn)
        if before is not None:
            click.echo(
                f"note: raw events before {before} were pruned; the export starts there", err=True
            )
        return
    try:
        require_raw_events(conn, first, "export events")
    except PrunedError as exc:
        raise click.ClickException(str(exc)) from None


__all__ = ["export", "show"]
