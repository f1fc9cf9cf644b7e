"""What the HTML and Markdown reports show: the report documents, plus what a page adds.

A page holds, per section (the aggregate first, then one per sensor), the report document
exactly as ``show --format json`` prints it (docs/report-schema.md), its ``trends`` (a
daily document has none: the builder computes them the same way as for weekly and monthly
ones), and its per-hour figures from the ``hourly_sessions`` rollup. The page also knows
the first and last day of the stored data, so an empty period can say where the data is.
Nothing here computes a figure a second way, renders anything, or imports Jinja2 or charts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cowrieprocessor.reporting.builders import ReportBuilder
from cowrieprocessor.reporting.dal import ReportingDAL, Window
from cowrieprocessor.reporting.periods import Period

#: The per-hour figures of ``hourly_sessions``, in the order the reports show them.
HOUR_FIGURES = ("sessions", "login_attempts", "login_successes", "commands", "downloads")


@dataclass(frozen=True)
class Section:
    """One report document and what the page shows beside it."""

    document: dict[str, Any]
    trends: dict[str, float | None]
    #: One entry per day of the period and UTC hour (24 a day, zeros included), oldest first:
    #: ``{"date": "YYYY-MM-DD", "hour": 0..23, "sessions", "login_attempts",
    #: "login_successes", "commands", "downloads"}``.
    hours: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sensor(self) -> str:
        """The document's sensor name (``aggregate`` for all sensors)."""
        return str(self.document["sensor"])

    def per_day(self, figure: str) -> list[tuple[str, int]]:
        """``(date, total)`` of an hour figure summed per day, oldest first."""
        days: dict[str, int] = {}
        for row in self.hours:
            days[row["date"]] = days.get(row["date"], 0) + row[figure]
        return list(days.items())


@dataclass(frozen=True)
class ReportPage:
    """The sections of one report (aggregate first) and the span of the stored data."""

    period: Period
    sections: list[Section]
    #: First and last day with sessions (of the one sensor reported on, or of any).
    data_span: tuple[date, date] | None

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The report documents, as ``show --format json`` prints them."""
        return [s.document for s in self.sections]

    @property
    def notice(self) -> str | None:
        """The empty-period hint of the first section's document (see :func:`empty_notice`)."""
        return empty_notice(self.documents[0], self.data_span)


def empty_notice(document: dict[str, Any], span: tuple[date, date] | None) -> str | None:
    """A line saying the period holds no sessions and where the data is, or None when the
    period has sessions."""
    if document["sessions"]["total"]:
        return None
    period = document["date_range"]
    where = (
        f"the data spans {span[0].isoformat()}..{span[1].isoformat()}"
        if span is not None
        else "the database holds none"
    )
    return f"no sessions from {period['start']} to {period['end']}; {where}"


def data_span(
    session_factory: Callable[[], Session], sensor: str | None = None
) -> tuple[date, date] | None:
    """First and last day with sessions (of ``sensor``, or of any sensor)."""
    with session_factory() as session:
        return ReportingDAL(session).data_span(sensor)


def build_page(
    builder: ReportBuilder,
    period: Period,
    sensors: Sequence[str | None],
    documents: Sequence[dict[str, Any]] | None = None,
) -> ReportPage:
    """The page of ``period`` for ``sensors`` (None: the aggregate), building the documents
    with ``builder`` unless given (in the same order as ``sensors``)."""
    if documents is None:
        documents = [builder.build(period, s) for s in sensors]
    sections = []
    for sensor, document in zip(sensors, documents, strict=True):
        trends = document.get("trends") or builder.trends(document, period, sensor)
        sections.append(Section(document, trends, _hours(builder, period, sensor)))
    only = sensors[0] if len(sensors) == 1 else None
    return ReportPage(period, sections, data_span(builder.session_factory, only))


def _hours(builder: ReportBuilder, period: Period, sensor: str | None) -> list[dict[str, Any]]:
    with builder.session_factory() as session:
        found = ReportingDAL(session).per_hour(Window(period.start, period.end, sensor))
    empty = dict.fromkeys(HOUR_FIGURES, 0)
    return [
        {"date": day.isoformat(), "hour": hour, **found.get((day, hour), empty)}
        for day in period.days
        for hour in range(24)
    ]


__all__ = ["HOUR_FIGURES", "ReportPage", "Section", "build_page", "data_span", "empty_notice"]
