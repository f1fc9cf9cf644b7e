"""Report periods: UTC days, ISO weeks and calendar months.

A :class:`Period` is an inclusive range of UTC dates of one report type. Periods of one type
tile time without gaps or overlaps, so ``p.previous().end + 1 day == p.start`` always holds.

Labels, as they appear in the report document and on the command line:

* daily: ``YYYY-MM-DD`` (field ``date_utc``)
* weekly: ISO 8601 week ``YYYY-Www`` (field ``year_week``); weeks start on Monday and the
  ISO year may differ from the calendar year near New Year (2021-01-03 is in ``2020-W53``)
* monthly: ``YYYY-MM`` (field ``year_month``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args

__all__ = [
    "LABEL_FIELDS",
    "REPORT_TYPES",
    "Period",
    "PeriodError",
    "ReportType",
    "parse_label",
    "parse_period",
    "periods_between",
]

ReportType = Literal["daily", "weekly", "monthly"]
REPORT_TYPES: tuple[ReportType, ...] = get_args(ReportType)

_ONE_DAY = timedelta(days=1)
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_WEEK_RE = re.compile(r"(\d{4})-[Ww](\d{2})", re.ASCII)
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})", re.ASCII)

_FORMATS: dict[str, str] = {
    "daily": "a date YYYY-MM-DD such as 2024-03-07",
    "weekly": "an ISO week YYYY-Www such as 2024-W07, or a date YYYY-MM-DD inside the week",
    "monthly": "a month YYYY-MM such as 2024-03, or a date YYYY-MM-DD inside the month",
}
#: The document field that holds the period label of each report type.
LABEL_FIELDS: dict[str, str] = {
    "daily": "date_utc",
    "weekly": "year_week",
    "monthly": "year_month",
}


class PeriodError(ValueError):
    """A report period that cannot be parsed or does not exist."""


def _check_report_type(report_type: object) -> ReportType:
    if report_type not in REPORT_TYPES:
        raise PeriodError(
            f"Unknown report type {report_type!r}: expected one of {', '.join(REPORT_TYPES)}."
        )
    return report_type


def _month_end(day: date) -> date:
    """Return the last day of the month that holds ``day``."""
    if day.month == 12:
        return date(day.year, 12, 31)
    return date(day.year, day.month + 1, 1) - _ONE_DAY


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of UTC dates covered by one report.

    Construct one with :meth:`containing`, :func:`parse_period` or :func:`periods_between`;
    the constructor checks that ``start`` and ``end`` are the true bounds of a day, an ISO
    week (Monday to Sunday) or a calendar month and raises :class:`PeriodError` otherwise.
    """

    report_type: ReportType
    start: date
    end: date

    def __post_init__(self) -> None:
        _check_report_type(self.report_type)
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise PeriodError(f"Period {name} must be a datetime.date, not {value!r}.")
        if self.end != self._expected_end():
            raise PeriodError(
                f"{self.start.isoformat()}..{self.end.isoformat()} is not a whole "
                f"{self.report_type} period."
            )

    def _expected_end(self) -> date:
        start = self.start
        if self.report_type == "daily":
            return start
        if self.report_type == "weekly":
            if start.isoweekday() != 1:
                raise PeriodError(
                    f"A weekly period starts on a Monday, not on {start.isoformat()}."
                )
            return start + timedelta(days=6)
        if start.day != 1:
            raise PeriodError(
                f"A monthly period starts on the first of a month, not on {start.isoformat()}."
            )
        return _month_end(start)

    @classmethod
    def containing(cls, report_type: ReportType, day: date) -> Period:
        """Return the period of ``report_type`` that holds the UTC date ``day``."""
        _check_report_type(report_type)
        if isinstance(day, datetime):
            day = day.astimezone(UTC).date() if day.tzinfo else day.date()
        try:
            if report_type == "daily":
                return cls(report_type, day, day)
            if report_type == "weekly":
                start = day - timedelta(days=day.isoweekday() - 1)
                return cls(report_type, start, start + timedelta(days=6))
            start = day.replace(day=1)
            return cls(report_type, start, _month_end(start))
        except OverflowError as exc:
            raise PeriodError(f"The {report_type} period of {day} is out of range.") from exc

    @property
    def label(self) -> str:
        """``YYYY-MM-DD`` (daily), ISO week ``YYYY-Www`` (weekly) or ``YYYY-MM`` (monthly)."""
        if self.report_type == "daily":
            return self.start.isoformat()
        if self.report_type == "weekly":
            iso = self.start.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def label_field(self) -> str:
        """The document field that holds :attr:`label`: date_utc, year_week or year_month."""
        return LABEL_FIELDS[self.report_type]

    @property
    def days(self) -> list[date]:
        """Every date of the period, oldest first."""
        count = (self.end - self.start).days + 1
        return [self.start + timedelta(days=i) for i in range(count)]

    @property
    def start_datetime(self) -> datetime:
        """Midnight UTC at the start of the period (inclusive bound for queries)."""
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_datetime_exclusive(self) -> datetime:
        """Midnight UTC after the last day of the period (exclusive bound for queries)."""
        return self.start_datetime + timedelta(days=(self.end - self.start).days + 1)

    def contains(self, day: date) -> bool:
        """Whether the date ``day`` lies in the period."""
        return self.start <= day <= self.end

    def previous(self) -> Period:
        """The period of the same type that ends the day before this one starts."""
        try:
            before = self.start - _ONE_DAY
        except OverflowError as exc:
            raise PeriodError(f"There is no period before {self.label}.") from exc
        return Period.containing(self.report_type, before)

    def next(self) -> Period:
        """The period of the same type that starts the day after this one ends."""
        try:
            after = self.end + _ONE_DAY
        except OverflowError as exc:
            raise PeriodError(f"There is no period after {self.label}.") from exc
        return Period.containing(self.report_type, after)

    def document_fields(self) -> dict[str, object]:
        """The period part of a report document.

        ``{"date_range": {"start": ..., "end": ...}, "<label_field>": label}`` with ISO dates.
        """
        return {
            "date_range": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            self.label_field: self.label,
        }

    def __str__(self) -> str:
        return f"{self.report_type} {self.label}"


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _parse_date(text: str) -> date | None:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _invalid(report_type: str, text: str, reason: str = "") -> PeriodError:
    detail = f" ({reason})" if reason else ""
    return PeriodError(
        f"Invalid {report_type} period {text!r}{detail}: expected {_FORMATS[report_type]}."
    )


def parse_period(report_type: str, text: str | None, *, today: date | None = None) -> Period:
    """Parse a period given on the command line.

    ``text`` None means the last *complete* period before ``today`` (UTC, default: now):
    yesterday, the last full ISO week (Monday to Sunday) or the last full month.

    Accepted text (surrounding whitespace is ignored):

    * daily: ``YYYY-MM-DD``
    * weekly: ``YYYY-Www`` or ``YYYY-www`` (week 53 only in years that have it), or a date
      ``YYYY-MM-DD`` inside the week
    * monthly: ``YYYY-MM``, or a date ``YYYY-MM-DD`` inside the month

    Raises :class:`PeriodError` (a ``ValueError``) naming the expected format.
    """
    rtype = _check_report_type(report_type)
    if text is None:
        if today is None:
            today = _utc_today()
        elif isinstance(today, datetime):
            today = today.astimezone(UTC).date() if today.tzinfo else today.date()
        return Period.containing(rtype, today).previous()
    if not isinstance(text, str):
        raise PeriodError(f"A {rtype} period must be text, not {type(text).__name__}.")

    cleaned = text.strip()
    day = _parse_date(cleaned)
    if day is not None:
        return Period.containing(rtype, day)
    if rtype == "daily":
        raise _invalid(rtype, text)

    if rtype == "weekly":
        match = _WEEK_RE.fullmatch(cleaned)
        if match is None:
            raise _invalid(rtype, text)
        year, week = int(match.group(1)), int(match.group(2))
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            if year >= 1 and week == 53:
                raise _invalid(rtype, text, f"{year} has only 52 ISO weeks") from None
            raise _invalid(rtype, text) from None
        return Period.containing(rtype, start)

    match = _MONTH_RE.fullmatch(cleaned)
    if match is None:
        raise _invalid(rtype, text)
    year, month = int(match.group(1)), int(match.group(2))
    try:
        start = date(year, month, 1)
    except ValueError:
        raise _invalid(rtype, text) from None
    return Period.containing(rtype, start)


def parse_label(report_type: str, label: str) -> Period:
    """The period whose :attr:`Period.label` is exactly ``label``, as a document holds it.

    Stricter than :func:`parse_period`: no surrounding space, no lowercase ``w``, no date
    standing for its week or month. Raises :class:`PeriodError` otherwise.
    """
    rtype = _check_report_type(report_type)
    try:
        period = parse_period(rtype, label)
    except PeriodError:
        period = None
    if period is None or period.label != label:
        raise PeriodError(f"{label!r} is not the label of a {rtype} period.")
    return period


def periods_between(report_type: str, start: date, end: date) -> list[Period]:
    """Every period of ``report_type`` that overlaps the inclusive date range [start, end].

    The first period holds ``start`` and the last holds ``end``, so the result may reach
    outside the range (a backfill of 2024-01-03..2024-01-05 by week covers 2024-W01).
    Raises :class:`PeriodError` when ``start`` is after ``end``.
    """
    rtype = _check_report_type(report_type)
    if start > end:
        raise PeriodError(
            f"The start date {start.isoformat()} is after the end date {end.isoformat()}."
        )
    periods = [Period.containing(rtype, start)]
    while periods[-1].end < end:
        periods.append(periods[-1].next())
    return periods
