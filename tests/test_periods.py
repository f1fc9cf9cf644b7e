"""Tests for report periods: labels, parsing, tiling and ISO week edge cases."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cowrieprocessor.reporting.periods import (
    LABEL_FIELDS,
    REPORT_TYPES,
    Period,
    PeriodError,
    parse_label,
    parse_period,
    periods_between,
)

# Stay clear of date.min/date.max so previous()/next() always exist.
dates = st.dates(min_value=date(2, 1, 1), max_value=date(9998, 12, 31))
report_types = st.sampled_from(REPORT_TYPES)


# --- labels and document fields -------------------------------------------------------------


def test_labels_and_fields() -> None:
    daily = Period.containing("daily", date(2024, 3, 7))
    assert daily.label == "2024-03-07"
    assert daily.document_fields() == {
        "date_range": {"start": "2024-03-07", "end": "2024-03-07"},
        "date_utc": "2024-03-07",
    }
    weekly = Period.containing("weekly", date(2024, 3, 7))
    assert (weekly.start, weekly.end, weekly.label) == (
        date(2024, 3, 4),
        date(2024, 3, 10),
        "2024-W10",
    )
    assert list(weekly.document_fields()) == ["date_range", "year_week"]
    monthly = Period.containing("monthly", date(2024, 3, 7))
    assert monthly.label == "2024-03"
    assert monthly.document_fields() == {
        "date_range": {"start": "2024-03-01", "end": "2024-03-31"},
        "year_month": "2024-03",
    }
    assert str(monthly) == "monthly 2024-03"


def test_query_bounds_are_utc_and_half_open() -> None:
    week = parse_period("weekly", "2024-W10")
    assert week.start_datetime == datetime(2024, 3, 4, tzinfo=UTC)
    assert week.end_datetime_exclusive == datetime(2024, 3, 11, tzinfo=UTC)
    assert week.start_datetime.tzinfo is UTC
    day = parse_period("daily", "2024-12-31")
    assert day.end_datetime_exclusive == datetime(2025, 1, 1, tzinfo=UTC)


def test_period_is_frozen_and_hashable() -> None:
    period = parse_period("daily", "2024-01-01")
    with pytest.raises(AttributeError):
        period.start = date(2024, 1, 2)  # type: ignore[misc]
    assert len({period, parse_period("daily", "2024-01-01")}) == 1


@pytest.mark.parametrize(
    ("report_type", "start", "end"),
    [
        ("daily", date(2024, 1, 1), date(2024, 1, 2)),
        ("weekly", date(2024, 1, 2), date(2024, 1, 8)),  # not a Monday
        ("weekly", date(2024, 1, 1), date(2024, 1, 6)),
        ("monthly", date(2024, 2, 2), date(2024, 2, 29)),
        ("monthly", date(2023, 2, 1), date(2023, 3, 1)),
        ("hourly", date(2024, 1, 1), date(2024, 1, 1)),
    ],
)
def test_constructor_rejects_misaligned_periods(report_type: str, start: date, end: date) -> None:
    with pytest.raises(PeriodError):
        Period(report_type, start, end)  # type: ignore[arg-type]


def test_constructor_accepts_whole_periods() -> None:
    assert Period("monthly", date(2023, 2, 1), date(2023, 2, 28)).days[-1] == date(2023, 2, 28)
    assert Period("weekly", date(2024, 1, 1), date(2024, 1, 7)).label == "2024-W01"


def test_constructor_rejects_datetimes() -> None:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(PeriodError, match=r"datetime\.date"):
        Period("daily", moment, moment)


# --- ISO weeks --------------------------------------------------------------------------------


def test_iso_week_53_edge_cases() -> None:
    w53 = parse_period("weekly", "2020-W53")
    assert (w53.start, w53.end) == (date(2020, 12, 28), date(2021, 1, 3))
    assert Period.containing("weekly", date(2021, 1, 3)).label == "2020-W53"
    assert Period.containing("weekly", date(2021, 1, 4)).label == "2021-W01"
    # 2026 starts on a Thursday, so it has 53 ISO weeks.
    assert parse_period("weekly", "2026-W53").start == date(2026, 12, 28)
    assert parse_period("weekly", "2026-W53").end == date(2027, 1, 3)
    # A week can start in the previous calendar year: 2025-W01 starts 2024-12-30.
    assert parse_period("weekly", "2025-W01").start == date(2024, 12, 30)
    assert Period.containing("weekly", date(2024, 12, 31)).label == "2025-W01"


@pytest.mark.parametrize("text", ["2021-W53", "2025-W53", "2027-W53"])
def test_week_53_only_where_it_exists(text: str) -> None:
    with pytest.raises(PeriodError, match=r"has only 52 ISO weeks.*expected an ISO week"):
        parse_period("weekly", text)


def test_weekly_accepts_lower_case_and_dates() -> None:
    assert parse_period("weekly", "2024-w07") == parse_period("weekly", "2024-W07")
    assert parse_period("weekly", "2024-02-18").label == "2024-W07"  # Sunday
    assert parse_period("weekly", " 2024-W07\n").label == "2024-W07"


# --- months and leap years --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "length"),
    [
        ("2023-01", 31),
        ("2023-02", 28),
        ("2024-02", 29),
        ("1900-02", 28),  # divisible by 100: not leap
        ("2000-02", 29),  # divisible by 400: leap
        ("2024-04", 30),
        ("2024-12", 31),
    ],
)
def test_month_lengths(label: str, length: int) -> None:
    period = parse_period("monthly", label)
    assert len(period.days) == length
    assert period.label == label


def test_monthly_accepts_a_date_inside_the_month() -> None:
    assert parse_period("monthly", "2024-02-29").label == "2024-02"


def test_leap_day_daily() -> None:
    assert parse_period("daily", "2024-02-29").previous().label == "2024-02-28"
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        parse_period("daily", "2023-02-29")


# --- defaults: the last complete period -------------------------------------------------------


def test_default_is_last_complete_period() -> None:
    friday = date(2024, 3, 1)
    assert parse_period("daily", None, today=friday).label == "2024-02-29"
    assert parse_period("weekly", None, today=friday).label == "2024-W08"
    assert parse_period("monthly", None, today=friday).label == "2024-02"
    new_year = date(2024, 1, 1)  # a Monday
    assert parse_period("daily", None, today=new_year).label == "2023-12-31"
    assert parse_period("weekly", None, today=new_year).label == "2023-W52"
    assert parse_period("monthly", None, today=new_year).label == "2023-12"


def test_default_today_is_utc() -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    # Allow for the test straddling midnight UTC.
    assert parse_period("daily", None).start in {yesterday, yesterday + timedelta(days=1)}


@given(report_types, dates)
def test_default_period_is_complete_and_latest(report_type: str, today: date) -> None:
    period = parse_period(report_type, None, today=today)
    assert period.end < today
    assert period.next().contains(today)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "text", "expected"),
    [
        ("daily", "2024-3-7", "YYYY-MM-DD"),
        ("daily", "20240307", "YYYY-MM-DD"),
        ("daily", "2024-W10", "YYYY-MM-DD"),
        ("daily", "", "YYYY-MM-DD"),
        ("daily", "2024-13-01", "YYYY-MM-DD"),
        ("weekly", "2024-W00", "YYYY-Www"),
        ("weekly", "2024-W54", "YYYY-Www"),
        ("weekly", "2024W10", "YYYY-Www"),
        ("weekly", "2024-W10-1", "YYYY-Www"),
        ("weekly", "2024-W1", "YYYY-Www"),
        ("monthly", "2024-13", "YYYY-MM"),
        ("monthly", "2024-00", "YYYY-MM"),
        ("monthly", "2024", "YYYY-MM"),
        ("monthly", "0000-01", "YYYY-MM"),
        ("daily", "\uff12\uff10\uff12\uff14-01-01", "YYYY-MM-DD"),  # fullwidth digits
    ],
)
def test_bad_input_names_expected_format(report_type: str, text: str, expected: str) -> None:
    with pytest.raises(PeriodError, match=expected) as info:
        parse_period(report_type, text)
    message = str(info.value)
    assert message.endswith(".")
    assert message.count(". ") == 0  # one sentence
    assert isinstance(info.value, ValueError)


def test_unknown_report_type() -> None:
    with pytest.raises(PeriodError, match="daily, weekly, monthly"):
        parse_period("yearly", "2024")


# --- properties -------------------------------------------------------------------------------


@given(report_types, dates)
def test_labels_round_trip(report_type: str, day: date) -> None:
    period = Period.containing(report_type, day)
    assert period.contains(day)
    assert parse_period(report_type, period.label) == period
    assert parse_period(report_type, period.start.isoformat()) == period
    assert parse_period(report_type, period.end.isoformat()) == period
    if report_type == "weekly":
        assert parse_period(report_type, period.label.lower()) == period


@given(report_types, dates)
def test_consecutive_periods_tile_time(report_type: str, day: date) -> None:
    period = Period.containing(report_type, day)
    before, after = period.previous(), period.next()
    assert before.end + timedelta(days=1) == period.start
    assert period.end + timedelta(days=1) == after.start
    assert before.next() == period == after.previous()
    assert before.end_datetime_exclusive == period.start_datetime
    assert period.end_datetime_exclusive == after.start_datetime
    days = period.days
    assert days[0] == period.start and days[-1] == period.end
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))
    expected_lengths = {"daily": {1}, "weekly": {7}, "monthly": {28, 29, 30, 31}}
    assert len(days) in expected_lengths[report_type]
    assert period.end_datetime_exclusive - period.start_datetime == timedelta(days=len(days))


@given(report_types, dates, st.integers(min_value=0, max_value=400))
def test_periods_between_covers_range(report_type: str, start: date, span: int) -> None:
    end = start + timedelta(days=span)
    periods = periods_between(report_type, start, end)
    assert periods[0].contains(start)
    assert periods[-1].contains(end)
    for a, b in itertools.pairwise(periods):
        assert a.next() == b
    covered = {d for p in periods for d in p.days}
    assert all(start + timedelta(days=i) in covered for i in range(span + 1))


def test_periods_between_examples() -> None:
    weeks = periods_between("weekly", date(2020, 12, 30), date(2021, 1, 12))
    assert [p.label for p in weeks] == ["2020-W53", "2021-W01", "2021-W02"]
    months = periods_between("monthly", date(2024, 1, 31), date(2024, 3, 1))
    assert [p.label for p in months] == ["2024-01", "2024-02", "2024-03"]
    assert periods_between("daily", date(2024, 1, 1), date(2024, 1, 1)) == [
        parse_period("daily", "2024-01-01")
    ]


def test_periods_between_bad_order() -> None:
    with pytest.raises(PeriodError, match="after the end date"):
        periods_between("daily", date(2024, 1, 2), date(2024, 1, 1))


def test_edges_of_the_calendar() -> None:
    with pytest.raises(PeriodError):
        Period.containing("daily", date.min).previous()
    with pytest.raises(PeriodError):
        Period.containing("monthly", date.max).next()


@given(report_types, dates)
def test_parse_label_inverts_label(report_type, day):
    period = Period.containing(report_type, day)
    assert parse_label(report_type, period.label) == period
    assert period.document_fields()[LABEL_FIELDS[report_type]] == period.label


@pytest.mark.parametrize(
    ("report_type", "label"),
    [
        ("daily", " 2024-03-07"),
        ("daily", "2024-02-30"),
        ("weekly", "2024-w07"),  # parse_period takes it; a document never holds it
        ("weekly", "2024-03-07"),
        ("weekly", "2021-W53"),
        ("monthly", "2024-03-07"),
        ("monthly", "2024-13"),
        ("yearly", "2024"),
    ],
)
def test_parse_label_rejects_everything_but_the_exact_label(report_type, label):
    with pytest.raises(PeriodError):
        parse_label(report_type, label)
