"""The HTML report's charts: Vega-Lite specs from a page's figures, rendered to static SVG.

Each chart is a declarative Vega-Lite spec built from a report document (or the page's
per-hour figures) and rendered in Python by ``vl-convert`` (Vega's own renderer, no browser
and no network): the page gets plain SVG, so it needs no script to show its charts, prints
as vectors, and its colours follow the page's style sheet (light, dark, print). Vega writes
every mark's values into its ``aria-label`` ("Day: 2024-03-01; Sessions: 300"), which screen
readers read and the browser tests check. Why this library: docs/html-report.md.
Attacker-controlled labels (credentials, countries, AS names) have their control and
bidirectional characters made visible first; Vega's SVG writer escapes them as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cowrieprocessor.reporting.page import ReportPage, Section
from cowrieprocessor.reporting.safe_text import escape_controls

#: Shared look: transparent background, neutral text that reads on light and dark pages.
CONFIG: dict[str, Any] = {
    "background": None,
    "font": "sans-serif",
    "view": {"stroke": None},
    "axis": {"labelColor": "#666", "titleColor": "#666", "gridColor": "#8884", "labelLimit": 260},
    "legend": {"labelColor": "#666", "titleColor": "#666", "orient": "top"},
    "range": {"category": ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]},
}
WIDTH = 640
HOUR_AXIS = {"title": "Hour (UTC)", "labelAngle": 0}


@dataclass(frozen=True)
class Chart:
    """One chart: a stable key (the figure's ``data-chart``), a title and its spec."""

    key: str
    title: str
    spec: dict[str, Any]


def _spec(rows: list[dict[str, Any]], mark: Any, encoding: dict[str, Any], **extra: Any) -> dict:
    return {
        "data": {"values": rows},
        "mark": mark,
        "encoding": encoding,
        "width": WIDTH,
        "config": CONFIG,
        **extra,
    }


def _bars_over(rows: list[dict[str, Any]], x: str, x_title: str, y: str, y_title: str) -> dict:
    axis = HOUR_AXIS if x == "hour" else {"title": x_title}
    return _spec(
        rows,
        "bar",
        {
            "x": {"field": x, "type": "ordinal", "axis": axis},
            "y": {"field": y, "type": "quantitative", "title": y_title},
        },
        height=180,
    )


def _ranking(pairs: Sequence[tuple[str, int]], label: str, count: str) -> dict:
    rows = [{label: escape_controls(value), count: n} for value, n in pairs]
    return _spec(
        rows,
        "bar",
        {
            "y": {"field": label, "type": "nominal", "sort": None, "title": None},
            "x": {"field": count, "type": "quantitative", "title": count},
        },
        height={"step": 18},
    )


def _top(entries: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(str(e["value"]), int(e["count"])) for e in entries]


def _logins(rows: list[dict[str, Any]], x: str, x_title: str) -> dict:
    axis = HOUR_AXIS if x == "hour" else {"title": x_title}
    return _spec(
        rows,
        "bar",
        {
            "x": {"field": x, "type": "ordinal", "axis": axis},
            "xOffset": {"field": "Kind", "sort": ["attempts", "successes"]},
            "y": {"field": "Logins", "type": "quantitative"},
            "color": {"field": "Kind", "type": "nominal", "sort": ["attempts", "successes"]},
        },
        height=180,
    )


def section_charts(section: Section) -> list[Chart]:
    """The charts of one section, in page order; rankings only when they have entries."""
    doc = section.document
    daily = doc["report_type"] == "daily"
    charts: list[Chart] = []
    if daily:
        hours = section.hours
        charts.append(
            Chart(
                "sessions-per-hour",
                "Sessions per hour",
                _bars_over(
                    [{"hour": r["hour"], "Sessions": r["sessions"]} for r in hours],
                    "hour",
                    "Hour (UTC)",
                    "Sessions",
                    "Sessions",
                ),
            )
        )
        login_rows = [
            {"hour": r["hour"], "Kind": kind, "Logins": r[f"login_{kind}"]}
            for r in hours
            for kind in ("attempts", "successes")
        ]
        charts.append(
            Chart(
                "logins-per-hour",
                "Login attempts and successes per hour",
                _logins(login_rows, "hour", "Hour (UTC)"),
            )
        )
        downloads = [{"hour": r["hour"], "Downloads": r["downloads"]} for r in hours]
        charts.append(
            Chart(
                "downloads-per-hour",
                "Downloads per hour",
                _bars_over(downloads, "hour", "Hour (UTC)", "Downloads", "Downloads"),
            )
        )
    else:
        days = doc["daily"]
        charts.append(
            Chart(
                "sessions-per-day",
                "Sessions per day",
                _bars_over(
                    [{"Day": d["date"], "Sessions": d["sessions"]} for d in days],
                    "Day",
                    "Day",
                    "Sessions",
                    "Sessions",
                ),
            )
        )
        charts.append(
            Chart("day-hour-heatmap", "Sessions by day and hour (UTC)", _heatmap(section))
        )
        attempts = dict(section.per_day("login_attempts"))
        successes = dict(section.per_day("login_successes"))
        login_rows = [
            {
                "Day": day,
                "Kind": kind,
                "Logins": (attempts if kind == "attempts" else successes)[day],
            }
            for day in attempts
            for kind in ("attempts", "successes")
        ]
        charts.append(
            Chart(
                "logins-per-day",
                "Login attempts and successes per day",
                _logins(login_rows, "Day", "Day"),
            )
        )
        charts.append(
            Chart(
                "downloads-per-day",
                "Downloads per day",
                _bars_over(
                    [{"Day": d["date"], "Downloads": d["downloads"]} for d in days],
                    "Day",
                    "Day",
                    "Downloads",
                    "Downloads",
                ),
            )
        )
    sessions = doc["sessions"]
    enrichments = doc["enrichments"]
    rankings = [
        ("protocols", "Protocols", list(sessions["protocols"].items()), "Protocol", "Sessions"),
        (
            "top-credentials",
            "Top credentials (user:password)",
            _top(sessions["top_combinations"]),
            "Credential",
            "Logins",
        ),
        ("top-countries", "Top countries", _top(enrichments["country_top"]), "Country", "Sessions"),
        ("top-asns", "Top autonomous systems", _top(enrichments["asn_top"]), "AS", "Sessions"),
    ]
    for key, title, pairs, label, count in rankings:
        if pairs:
            charts.append(Chart(key, title, _ranking(pairs, label, count)))
    return charts


def _heatmap(section: Section) -> dict:
    rows = [{"Day": r["date"], "Hour": r["hour"], "Sessions": r["sessions"]} for r in section.hours]
    return _spec(
        rows,
        "rect",
        {
            "x": {
                "field": "Hour",
                "type": "ordinal",
                "axis": {"title": "Hour (UTC)", "labelAngle": 0},
            },
            "y": {"field": "Day", "type": "ordinal", "title": None},
            "color": {
                "field": "Sessions",
                "type": "quantitative",
                "scale": {"scheme": "blues"},
                "legend": {"orient": "right"},
            },
        },
        height={"step": 14},
    )


def sensor_chart(page: ReportPage) -> Chart | None:
    """Sessions per sensor, for a page with more than one sensor section; else None."""
    sensors = page.sections[1:]
    if len(sensors) < 2:
        return None
    pairs = [(s.sensor, int(s.document["sessions"]["total"])) for s in sensors]
    return Chart(
        "sessions-per-sensor", "Sessions per sensor", _ranking(pairs, "Sensor", "Sessions")
    )


class ChartsUnavailable(RuntimeError):
    """The optional chart renderer is not installed."""


def render_svg(chart: Chart) -> str:
    """The chart as an SVG document (text), rendered by vl-convert."""
    try:
        import vl_convert
    except ImportError as exc:  # an install without the html extra
        raise ChartsUnavailable(
            "the HTML report needs the html extra: pip install 'cowrieprocessor[html]'"
        ) from exc
    svg: str = vl_convert.vegalite_to_svg(chart.spec)
    return svg


__all__ = ["Chart", "ChartsUnavailable", "render_svg", "section_charts", "sensor_chart"]
