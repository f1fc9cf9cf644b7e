"""Render report documents as Rich tables for the terminal (JSON: ``serialize``).

The report document (``docs/report-schema.md``) is a plain mapping built by the report
builders. This module only reads it: nothing here touches the database.
:func:`render_report` turns one document into a Rich renderable for operators. Every string
that came from the document is rendered with :func:`safe_text`, never as markup. Missing
keys are tolerated (shown as ``—``) so a partly built document still renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeGuard

from rich import box
from rich.bar import Bar
from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Column, Table
from rich.text import Text

from cowrieprocessor.reporting.periods import LABEL_FIELDS
from cowrieprocessor.reporting.safe_text import ESCAPE_STYLE, escape_controls, safe_text

__all__ = ["escape_controls", "render_report", "safe_text"]

MISSING = "—"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}

# --- small formatting helpers ------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return ()


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _fmt_number(value: object, decimals: int = 0) -> Text:
    """A figure right for a table: thousands separators, fixed decimals, ``—`` if missing."""
    if value is None:
        return Text(MISSING, style="dim")
    if not _is_number(value):
        return safe_text(str(value), 24)
    if decimals:
        return Text(f"{float(value):,.{decimals}f}")
    if isinstance(value, int):
        return Text(f"{value:,}")
    number = float(value)
    return Text(f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}")


def _fmt_duration(value: object) -> Text:
    """Seconds, always in the one form ``2.04 s`` / ``2,385.00 s`` (so that the figures of
    a day and of a month compare at a glance)."""
    if not _is_number(value):
        return _fmt_number(value)
    return Text(f"{float(value):,.2f} s")


def _fmt_change(value: object) -> Text:
    """Percent change with an arrow; ``n/a`` when the previous period had nothing."""
    if value is None:
        return Text("n/a (previous was 0)", style="dim")
    if not _is_number(value):
        return safe_text(str(value), 24)
    change = float(value)
    if change > 0:
        return Text(f"▲ +{change:,.2f}%", style="red")
    if change < 0:
        return Text(f"▼ {change:,.2f}%", style="green")
    return Text("= 0.00%", style="dim")


def _sparkline(values: Sequence[object]) -> Text:
    numbers = [float(v) if _is_number(v) else 0.0 for v in values]
    top = max(numbers, default=0.0)
    if top <= 0:
        return Text(SPARK_BLOCKS[0] * len(numbers), style="cyan")
    last = len(SPARK_BLOCKS) - 1
    return Text("".join(SPARK_BLOCKS[round(n / top * last)] for n in numbers), style="cyan")


def _period_label(document: Mapping[str, Any]) -> str:
    for key in LABEL_FIELDS.values():
        if document.get(key) is not None:
            return str(document[key])
    return MISSING


# --- sections ----------------------------------------------------------------------------------


def _header(document: Mapping[str, Any]) -> Panel:
    report_type = str(document.get("report_type") or "report")
    date_range = _mapping(document.get("date_range"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, Text]] = [
        ("Report", safe_text(report_type, 20)),
        ("Period", safe_text(_period_label(document), 20)),
        (
            "Date range",
            Text.assemble(
                safe_text(str(date_range.get("start", MISSING)), 20),
                " → ",
                safe_text(str(date_range.get("end", MISSING)), 20),
            ),
        ),
        ("Sensor", safe_text(str(document.get("sensor", MISSING)), 60)),
        ("Generated", safe_text(str(document.get("generated_at", MISSING)), 40)),
    ]
    if "days_included" in document:
        rows.append(("Days included", _fmt_number(document.get("days_included"))))
    for label, value in rows:
        grid.add_row(label, value)
    title = Text.assemble(
        ("Cowrie ", "bold"),
        safe_text(report_type, 20),
        (" report ", "bold"),
        safe_text(_period_label(document), 20),
    )
    return Panel(grid, title=title, title_align="left", border_style="blue", expand=True)


def _stat(label: str, value: Text) -> Table:
    grid = Table.grid(
        Column(width=20, no_wrap=True, style="dim"), Column(width=15, justify="right")
    )
    grid.add_row(label, value)
    return grid


def _overview(document: Mapping[str, Any], uncommon_total: int | None) -> Panel:
    sessions = _mapping(document.get("sessions"))
    commands = _mapping(document.get("commands"))
    files = _mapping(document.get("files"))
    abnormal = _mapping(document.get("abnormalities"))
    enrich = _mapping(document.get("enrichments"))
    tunnels = _mapping(enrich.get("spur_tunnels"))

    def both(left: object, right: object) -> Text:
        return Text.assemble(_fmt_number(left), " / ", _fmt_number(right))

    def count(value: object) -> Text:
        return _fmt_number(len(_sequence(value)) if value is not None else None)

    stats: list[tuple[str, Text]] = [
        ("Sessions", _fmt_number(sessions.get("total"))),
        ("Unique source IPs", _fmt_number(sessions.get("unique_ips"))),
        ("Login attempts", _fmt_number(sessions.get("login_attempts"))),
        ("Login successes", _fmt_number(sessions.get("login_successes"))),
        ("Unique usernames", _fmt_number(sessions.get("unique_usernames"))),
        ("Unique passwords", _fmt_number(sessions.get("unique_passwords"))),
        ("Commands", _fmt_number(commands.get("total"))),
        ("Unique commands", _fmt_number(commands.get("unique"))),
        ("Downloads", _fmt_number(files.get("downloads_total"))),
        ("Uploads", _fmt_number(files.get("uploads_total"))),
        ("Unique file hashes", _fmt_number(files.get("unique_hashes"))),
        ("Avg commands/session", _fmt_number(sessions.get("avg_commands"), 2)),
        ("Min/max commands", both(sessions.get("min_commands"), sessions.get("max_commands"))),
        ("Avg duration", _fmt_duration(sessions.get("avg_duration"))),
        ("VirusTotal flagged", _fmt_number(sessions.get("vt_flagged"))),
        ("DShield flagged", _fmt_number(sessions.get("dshield_flagged"))),
        ("SPUR tunnels/anon.", both(tunnels.get("total"), tunnels.get("anonymous"))),
        ("Benign scanners", _fmt_number(enrich.get("benign_scanner_sessions"))),
        ("Odd-command sessions", _uncommon_figure(abnormal, uncommon_total)),
        ("Recent VT sessions", count(abnormal.get("recent_vt_submission_sessions"))),
    ]
    cards = [_stat(label, value) for label, value in stats]
    return Panel(
        Columns(cards, padding=(0, 3), equal=True),
        title="Overview",
        title_align="left",
        border_style="blue",
    )


def _uncommon_figure(abnormal: Mapping[str, Any], total: int | None) -> Text:
    """How many sessions have an uncommon command count; without ``total`` (the document
    lists only the first ``top_n``), how many are listed."""
    if total is not None:
        return _fmt_number(total)
    listed = abnormal.get("uncommon_command_sessions")
    if listed is None:
        return _fmt_number(None)
    return Text.assemble(_fmt_number(len(_sequence(listed))), (" listed", "dim"))


def _alerts(document: Mapping[str, Any]) -> RenderableType:
    alerts = [a for a in _sequence(document.get("alerts")) if isinstance(a, Mapping)]
    if not alerts:
        return Text("No alerts.", style="green")
    table = Table(
        Column("Severity", no_wrap=True),
        Column("Type", no_wrap=True, max_width=24),
        Column("Message", ratio=3),
        Column("Details", ratio=2),
        title="Alerts",
        title_justify="left",
        box=box.ROUNDED,
        expand=True,
        border_style="red",
    )
    for alert in alerts:
        severity = str(alert.get("severity", ""))
        style = SEVERITY_STYLES.get(severity.lower(), "")
        details = [
            f"{key}: {_detail_value(value)}"
            for key, value in alert.items()
            if key not in ("type", "severity", "message")
        ]
        message = safe_text(str(alert.get("message", "")), 240)
        message.no_wrap = False
        message.overflow = "fold"
        detail_text = safe_text("; ".join(details), 160)
        detail_text.no_wrap = False
        detail_text.overflow = "fold"
        sev = safe_text(severity or MISSING, 12)
        sev.stylize(style)
        table.add_row(sev, safe_text(str(alert.get("type", MISSING)), 24), message, detail_text)
    return table


def _detail_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return ", ".join(str(v) for v in value[:10]) + (", …" if len(value) > 10 else "")
    return str(value)


#: Cells of a long value (command, URL, hash) shown wrapped in full before it is cut.
LONG_VALUE_CELLS = 1000


def _top_table(
    title: str,
    rows: Sequence[Any],
    *,
    width: int,
    header: str,
    count_header: str = "count",
    wrap: bool = False,
) -> Table:
    """A two-column top list: the value and its count. A short list cuts values to
    ``width`` cells; a ``wrap`` list spans the console and wraps them (up to
    :data:`LONG_VALUE_CELLS`), so a long command is read whole, not cut beside empty space."""
    table = Table(
        Column(
            header,
            max_width=None if wrap else width,
            no_wrap=not wrap,
            overflow="fold" if wrap else "ellipsis",
            ratio=1 if wrap else None,
        ),
        Column(count_header, justify="right", no_wrap=True),
        title=title,
        title_justify="left",
        title_style="bold",
        header_style="dim",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=wrap,
    )
    shown = 0
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        value = row.get("value")
        if value is None or value == "":
            # Empty strings are values too; show them rather than a blank cell.
            cell = Text("(empty)" if value == "" else "(null)", style=ESCAPE_STYLE)
        elif wrap:
            cell = safe_text(str(value), LONG_VALUE_CELLS)
            cell.no_wrap, cell.overflow = False, "fold"
        else:
            cell = safe_text(str(value), width)
        table.add_row(cell, _fmt_number(row.get("count")))
        shown += 1
    if not shown:
        table.add_row(Text("(none)", style="dim"), Text(""))
    return table


def _counts_to_rows(counts: object) -> list[dict[str, Any]]:
    """``{value: count}`` to a top list, count descending then value ascending."""
    items = [(str(k), v) for k, v in _mapping(counts).items()]
    items.sort(key=lambda kv: (-(float(kv[1]) if _is_number(kv[1]) else 0.0), kv[0]))
    return [{"value": k, "count": v} for k, v in items]


def _with_names(rows: object, names: Mapping[str, str]) -> list[Any]:
    """Country top-list rows with the name after the code (``DE Germany``)."""
    out: list[Any] = []
    for row in _sequence(rows):
        if isinstance(row, Mapping) and isinstance(row.get("value"), str) and row["value"] in names:
            row = {**row, "value": f"{row['value']} {names[row['value']]}"}
        out.append(row)
    return out


def _session_list(abnormal: Mapping[str, Any], total: int | None) -> Table | None:
    """The uncommon-command sessions the document lists, titled with how many qualify."""
    ids = [i for i in _sequence(abnormal.get("uncommon_command_sessions")) if i is not None]
    if not ids:
        return None
    of = f" of {total:,}" if total is not None else ""
    title = f"Odd-command sessions ({len(ids):,}{of})"
    table = Table(
        Column("session", max_width=64, no_wrap=True, overflow="ellipsis"),
        title=title,
        min_width=len(title),
        title_justify="left",
        title_style="bold",
        header_style="dim",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for session_id in ids:
        table.add_row(safe_text(str(session_id), 64))
    return table


def _top_lists(
    document: Mapping[str, Any],
    uncommon_total: int | None,
    country_names: Mapping[str, str] | None = None,
) -> RenderableType:
    sessions = _mapping(document.get("sessions"))
    commands = _mapping(document.get("commands"))
    files = _mapping(document.get("files"))
    enrich = _mapping(document.get("enrichments"))

    short = [
        _top_table(
            "Top usernames",
            _sequence(sessions.get("top_usernames")),
            width=24,
            header="username",
            count_header="logins",
        ),
        _top_table(
            "Top passwords",
            _sequence(sessions.get("top_passwords")),
            width=24,
            header="password",
            count_header="logins",
        ),
        _top_table(
            "Top combinations",
            _sequence(sessions.get("top_combinations")),
            width=32,
            header="user:pass",
            count_header="logins",
        ),
        _top_table(
            "Top source IPs",
            _sequence(sessions.get("top_source_ips")),
            width=39,
            header="source IP",
            count_header="sessions",
        ),
        _top_table(
            "Protocols",
            _counts_to_rows(sessions.get("protocols")),
            width=16,
            header="protocol",
            count_header="sessions",
        ),
    ]
    countries = _with_names(enrich.get("country_top"), country_names or {})
    optional = [
        ("Top countries", "country", countries),
        ("Top AS", "AS", enrich.get("asn_top")),
        ("SPUR infrastructure", "infrastructure", enrich.get("spur_infrastructure_top")),
        ("GreyNoise classes", "classification", enrich.get("greynoise_classification_top")),
        ("URLhaus tags", "tag", enrich.get("urlhaus_tags_top")),
        ("VT classifications", "classification", files.get("vt_classifications_top")),
    ]
    short += [
        _top_table(title, _sequence(rows), width=32, header=header)
        for title, header, rows in optional
        if _sequence(rows)
    ]
    long = [
        _top_table(
            "Top commands",
            _sequence(commands.get("top_commands")),
            width=60,
            header="command",
            wrap=True,
        ),
        _top_table("Top URLs", _sequence(files.get("top_urls")), width=60, header="URL", wrap=True),
        _top_table(
            "Top file hashes",
            _sequence(files.get("top_hashes")),
            width=64,
            header="SHA-256",
            wrap=True,
        ),
    ]
    sessions_list = _session_list(_mapping(document.get("abnormalities")), uncommon_total)
    if sessions_list is not None:
        short.append(sessions_list)
    # One below the other, each as wide as the console: long values wrap instead of being
    # cut beside an empty column.
    return Group(Columns(short, padding=(1, 3)), *long)


def _trend(document: Mapping[str, Any]) -> RenderableType:
    days = [d for d in _sequence(document.get("daily")) if isinstance(d, Mapping)]
    parts: list[RenderableType] = []
    if days:
        peak = max(
            (float(d["sessions"]) for d in days if _is_number(d.get("sessions"))), default=0.0
        )
        table = Table(
            Column("Date", no_wrap=True),
            Column("Sessions", justify="right", no_wrap=True),
            Column("", ratio=1, min_width=8, no_wrap=True),
            Column("Unique IPs", justify="right", no_wrap=True),
            Column("Commands", justify="right", no_wrap=True),
            Column("Downloads", justify="right", no_wrap=True),
            title="Per day",
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            expand=True,
        )
        for day in days:
            sessions = day.get("sessions")
            value = float(sessions) if _is_number(sessions) else 0.0
            bar: RenderableType = Bar(peak, 0, value, color="cyan") if peak > 0 else Text("")
            table.add_row(
                safe_text(str(day.get("date", MISSING)), 12),
                _fmt_number(sessions),
                bar,
                _fmt_number(day.get("unique_ips")),
                _fmt_number(day.get("commands")),
                _fmt_number(day.get("downloads")),
            )
        parts.append(table)

    trends = _mapping(document.get("trends"))
    average = _mapping(document.get("daily_average"))
    downloads_change = trends.get("downloads_change", trends.get("files_change"))
    figures = Table(
        Column("", style="bold", no_wrap=True),
        Column("daily average", justify="right", no_wrap=True),
        Column("vs previous period", no_wrap=True),
        box=box.SIMPLE_HEAD,
        header_style="dim",
        show_edge=False,
        pad_edge=False,
    )
    figures.add_row(
        "Sessions",
        _fmt_number(average.get("sessions"), 2),
        _fmt_change(trends.get("sessions_change")),
    )
    figures.add_row(
        "Unique IPs", Text(MISSING, style="dim"), _fmt_change(trends.get("unique_ips_change"))
    )
    figures.add_row("Commands", _fmt_number(average.get("commands"), 2), Text(MISSING, style="dim"))
    figures.add_row(
        "Downloads", _fmt_number(average.get("downloads"), 2), _fmt_change(downloads_change)
    )
    parts.append(figures)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column()
    if days:
        summary.add_row("Sessions per day", _sparkline([d.get("sessions") for d in days]))
    alerts_summary = _mapping(document.get("alerts_summary"))
    if alerts_summary:
        pieces: list[Text | str] = []
        for key, count in alerts_summary.items():
            if pieces:
                pieces.append(", ")
            pieces += [safe_text(str(key), 32), "=", _fmt_number(count)]
        summary.add_row("Alerts by type", Text.assemble(*pieces))
    if summary.row_count:
        parts.append(summary)
    return Panel(Group(*parts), title="Trend", title_align="left", border_style="blue")


def render_report(
    document: Mapping[str, Any],
    *,
    uncommon_total: int | None = None,
    country_names: Mapping[str, str] | None = None,
    sources: Sequence[str] = (),
) -> RenderableType:
    """Return a Rich renderable (a :class:`rich.console.Group`) for one report document.

    Sections: a header panel, headline figures, alerts, for weekly and monthly reports a
    per-day table with a sessions bar plus trends, then the top lists side by side, and the
    sessions with an uncommon command count. Fits 80 columns; wider consoles lay more
    tables side by side. All document strings are shown literally (see :func:`safe_text`),
    whatever the console's markup and emoji settings.

    ``uncommon_total``: how many sessions have an uncommon command count
    (``ReportBuilder.uncommon_session_total``); the document lists only the first ``top_n``.
    ``country_names`` adds names to the country codes; ``sources`` (the enrichment data
    behind the figures) are named at the end.
    """
    parts: list[RenderableType] = [
        _header(document),
        _overview(document, uncommon_total),
        _alerts(document),
    ]
    if document.get("report_type") in ("weekly", "monthly") or "daily" in document:
        parts.append(_trend(document))
    parts.append(_top_lists(document, uncommon_total, country_names))
    if sources:
        note = "Country/AS data: " + "; ".join(sources)
        line = safe_text(note + " (GeoLite2 data created by MaxMind)", 400)
        line.no_wrap, line.overflow, line.end = False, "fold", "\n"  # a line of its own
        parts.append(line)
    return Group(*parts)
