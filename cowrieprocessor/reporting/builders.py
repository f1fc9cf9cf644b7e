"""Daily, weekly and monthly report documents (schema version 1, docs/report-schema.md).

Builders assemble figures from :class:`ReportingDAL`; every figure is a small GROUP BY over
the rollups of the window, so building a month costs about as much as building a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from cowrieprocessor.reporting.dal import ROLLUP_TABLES, ReportingDAL, RollupTables, Window
from cowrieprocessor.reporting.periods import Period, PeriodError, ReportType
from cowrieprocessor.sensors import AGGREGATE, PROBLEMS

SCHEMA_VERSION = 1
DEFAULT_TOP_N = 10
IP_SPIKE_FACTOR = 1.5
IP_BASELINE_DAYS = 7
VT_BASELINE_DAYS = 30
#: high_tunnel_usage fires above this share of the window's sessions (percent).
TUNNEL_ALERT_PERCENT = 30
_CENT = Decimal("0.01")


def _round2(numerator: int, denominator: int) -> float:
    """Exact ``numerator / denominator`` rounded half away from zero to 2 decimals.

    Done in decimal arithmetic, not with ``round()`` on a float: a binary float cannot hold
    most ``.xx5`` ties (``round(1.015, 2) == 1.01``), and would round them either way.
    """
    exact = Decimal(numerator) / Decimal(denominator)  # 28 significant digits
    return float(exact.quantize(_CENT, rounding=ROUND_HALF_UP))


def _avg(total: int, n: int) -> float:
    return _round2(total, n) if n else 0.0


def _change(current: int, previous: int) -> float | None:
    return _round2((current - previous) * 100, previous) if previous else None


def uncommon_command_counts(sessions: dict[int, int]) -> list[int]:
    """The uncommon command counts of a window, rarest first, from ``{command count:
    sessions}`` (docs/report-schema.md): values rank by fewest sessions (ties: the larger
    count first), and with k values the first k * 2 // 3 are uncommon."""
    ranked = sorted(sessions, key=lambda count: (sessions[count], -count))
    return ranked[: len(ranked) * 2 // 3]


def _days_before(period: Period, days: int, sensor: str | None) -> Window | None:
    """The ``days`` days before ``period`` (a baseline); fewer near 0001-01-01, before which
    there are no dates (and so no sessions); None for a period starting that day."""
    available = (period.start - date.min).days
    if available == 0:
        return None
    return Window(
        period.start - timedelta(days=min(days, available)),
        period.start - timedelta(days=1),
        sensor,
    )


class ReportBuilder:
    """Builds one report type; use :func:`builder_for` or the subclasses."""

    report_type: ClassVar[ReportType]

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        top_n: int = DEFAULT_TOP_N,
        now: Callable[[], datetime] | None = None,
        tables: RollupTables = ROLLUP_TABLES,
    ) -> None:
        self.session_factory = session_factory
        self.top_n = top_n
        self.now = now or (lambda: datetime.now(UTC))
        self.tables = tables

    def build(self, period: Period, sensor: str | None = None) -> dict[str, Any]:
        """The document for ``period``; ``sensor`` None means the aggregate of all sensors.

        A sensor named ``aggregate`` (``sensors.AGGREGATE``) is refused with ValueError: its
        document would be taken for the aggregate's.
        """
        if period.report_type != self.report_type:
            raise ValueError(f"{type(self).__name__} builds {self.report_type} reports")
        if sensor == AGGREGATE:
            raise ValueError(PROBLEMS["reserved_sensor"])
        whole = None if period.report_type == "daily" else period.report_type
        window = Window(period.start, period.end, sensor, whole)
        with self.session_factory() as session:
            dal = ReportingDAL(session, self.tables)
            doc: dict[str, Any] = {
                "@timestamp": period.start_datetime.isoformat(),
                "generated_at": self.now().isoformat(),
                "schema_version": SCHEMA_VERSION,
                "report_type": self.report_type,
                "sensor": AGGREGATE if sensor is None else sensor,
                **period.document_fields(),
            }
            totals = dal.session_totals(window) | dal.enrichment_totals(window)
            recent, recent_ids = dal.recent_vt_sessions(window, self.top_n)
            doc["sessions"] = self._sessions(dal, window, totals)
            doc["commands"] = self._commands(dal, window, totals)
            doc["files"] = self._files(dal, window, totals)
            doc["files"]["recent_vt_submissions"] = recent
            doc["enrichments"] = self._enrichments(dal, window, totals)
            doc["abnormalities"] = {
                "uncommon_command_sessions": self._uncommon_sessions(dal, window),
                "recent_vt_submission_sessions": recent_ids,
            }
            days = dal.per_day(window)
            doc["alerts"] = self._alerts(dal, period, window, days, doc)
            self._extend(dal, period, window, days, doc)
        return doc

    def _extend(
        self,
        dal: ReportingDAL,
        period: Period,
        window: Window,
        days: dict[date, dict[str, int]],
        doc: dict[str, Any],
    ) -> None:
        """Fields only some report types have."""

    # -- sections -------------------------------------------------------------------------

    def _sessions(
        self, dal: ReportingDAL, window: Window, totals: dict[str, int]
    ) -> dict[str, Any]:
        n = totals["sessions"]
        usernames, unique_usernames = dal.top("username", window, self.top_n)
        passwords, unique_passwords = dal.top("password", window, self.top_n)
        combinations, _ = dal.top("combination", window, self.top_n)
        source_ips, unique_ips = dal.top("src_ip", window, self.top_n)
        return {
            "total": n,
            "unique_ips": unique_ips,
            "unique_usernames": unique_usernames,
            "unique_passwords": unique_passwords,
            "login_attempts": totals["login_attempts"],
            "login_successes": totals["login_successes"],
            "avg_commands": _avg(totals["commands_sum"], n),
            "max_commands": totals["commands_max"],
            "min_commands": totals["commands_min"],
            "avg_duration": _avg(totals["duration_us_sum"], n * 1_000_000),
            "protocols": dal.protocols(window),
            "top_usernames": usernames,
            "top_passwords": passwords,
            "top_combinations": combinations,
            "top_source_ips": source_ips,
            # From daily_enrichment: Cowrie's VT verdicts and the enrichment store.
            "vt_flagged": totals["vt_flagged_sessions"],
            "dshield_flagged": totals["dshield_flagged_sessions"],
        }

    def _commands(
        self, dal: ReportingDAL, window: Window, totals: dict[str, int]
    ) -> dict[str, Any]:
        commands, unique = dal.top("command", window, self.top_n)
        return {"total": totals["commands_sum"], "unique": unique, "top_commands": commands}

    def _files(self, dal: ReportingDAL, window: Window, totals: dict[str, int]) -> dict[str, Any]:
        hashes, unique_hashes = dal.top("shasum", window, self.top_n)
        urls, _ = dal.top("url", window, self.top_n)
        labels, unique_labels = dal.top("vt_label", window, self.top_n)
        return {
            "downloads_total": totals["downloads"],
            "uploads_total": totals["uploads"],
            "unique_hashes": unique_hashes,
            "top_hashes": hashes,
            "top_urls": urls,
            "unique_vt_classifications": unique_labels,
            "vt_classifications_top": labels,
            "recent_vt_submissions": 0,  # set by build() from daily_recent_vt_sessions
        }

    def _enrichments(
        self, dal: ReportingDAL, window: Window, totals: dict[str, int]
    ) -> dict[str, Any]:
        def top(figure: str) -> list[dict[str, Any]]:
            return dal.enrichment_top(figure, window, self.top_n)

        return {
            "urlhaus_tags_top": top("urlhaus_tag"),
            "asn_top": top("asn"),
            "country_top": top("country"),
            "spur_infrastructure_top": top("spur_infrastructure"),
            "spur_tunnels": {
                "total": totals["tunnel_sessions"],
                "anonymous": totals["anonymous_sessions"],
            },
            "greynoise_classification_top": top("greynoise_classification"),
            "benign_scanner_sessions": totals["benign_scanner_sessions"],
        }

    def _uncommon_sessions(self, dal: ReportingDAL, window: Window) -> list[str]:
        """Sessions whose command count is uncommon (:func:`uncommon_command_counts`), at
        most ``top_n``: by their count's rank, then day, sensor and session id."""
        ids: list[str] = []
        for count in uncommon_command_counts(dal.command_counts(window)):
            if len(ids) == self.top_n:
                break
            ids += dal.sessions_with_command_count(window, count, self.top_n - len(ids))
        return ids

    def uncommon_session_total(self, period: Period, sensor: str | None = None) -> int:
        """How many sessions of the document for ``period`` and ``sensor`` have an uncommon
        command count: its ``uncommon_command_sessions`` lists the first ``top_n``."""
        whole = None if period.report_type == "daily" else period.report_type
        with self.session_factory() as session:
            counts = ReportingDAL(session, self.tables).command_counts(
                Window(period.start, period.end, sensor, whole)
            )
        return sum(counts[count] for count in uncommon_command_counts(counts))

    def trends(
        self, document: dict[str, Any], period: Period, sensor: str | None = None
    ) -> dict[str, float | None]:
        """The ``trends`` of ``document`` (built for ``period`` and ``sensor``): percent
        changes against the previous period. Weekly and monthly documents hold them; the
        HTML and Markdown reports show them for daily documents too."""
        with self.session_factory() as session:
            return self._trends(ReportingDAL(session, self.tables), period, sensor, document)

    def _trends(
        self, dal: ReportingDAL, period: Period, sensor: str | None, doc: dict[str, Any]
    ) -> dict[str, float | None]:
        try:
            prev = period.previous()
        except PeriodError:  # the first period of year 1: no sessions before it
            prev_sessions = prev_ips = prev_downloads = 0
        else:
            whole = None if prev.report_type == "daily" else prev.report_type
            prev_window = Window(prev.start, prev.end, sensor, whole)
            prev_totals = dal.session_totals(prev_window)
            prev_sessions, prev_downloads = prev_totals["sessions"], prev_totals["downloads"]
            prev_ips = dal.top("src_ip", prev_window, 1)[1]
        downloads = _change(doc["files"]["downloads_total"], prev_downloads)
        return {
            "sessions_change": _change(doc["sessions"]["total"], prev_sessions),
            "unique_ips_change": _change(doc["sessions"]["unique_ips"], prev_ips),
            "downloads_change": downloads,
            "files_change": downloads,
        }

    def _alerts(
        self,
        dal: ReportingDAL,
        period: Period,
        window: Window,
        days: dict[date, dict[str, int]],
        doc: dict[str, Any],
    ) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        ip_window = _days_before(period, IP_BASELINE_DAYS, window.sensor)
        baseline = dal.per_day(ip_window) if ip_window is not None else {}
        if baseline:  # days of the previous week that saw sessions
            average = _avg(sum(d["unique_ips"] for d in baseline.values()), len(baseline))
            # A day compares its unique IPs; a week or month its average per day.
            current: float = doc["sessions"]["unique_ips"]
            shown = str(current)
            if period.report_type != "daily":
                current = _avg(sum(d["unique_ips"] for d in days.values()), len(period.days))
                shown = f"{current:.2f}"
            if current > IP_SPIKE_FACTOR * average:
                alerts.append(
                    {
                        "type": "ip_spike",
                        "severity": "medium",
                        "message": f"Unique IPs ({shown}) above {IP_SPIKE_FACTOR}x the "
                        f"{IP_BASELINE_DAYS}-day average ({average:.2f})",
                        "current": current,
                        "average": average,
                    }
                )
        vt_window = _days_before(period, VT_BASELINE_DAYS, window.sensor)
        seen = dal.values("vt_label", vt_window) if vt_window is not None else set()
        new = sorted(dal.values("vt_label", window) - seen)
        if new:
            alerts.append(
                {
                    "type": "new_vt_classification",
                    "severity": "high",
                    "message": f"New VirusTotal classifications: {', '.join(new)}",
                    "classifications": new,
                }
            )
        sessions, tunnelled = doc["sessions"]["total"], doc["enrichments"]["spur_tunnels"]["total"]
        if sessions and tunnelled * 100 > TUNNEL_ALERT_PERCENT * sessions:
            percentage = _round2(tunnelled * 100, sessions)
            alerts.append(
                {
                    "type": "high_tunnel_usage",
                    "severity": "medium",
                    "message": f"Tunnelled sessions ({percentage:.2f}%) above "
                    f"{TUNNEL_ALERT_PERCENT}% of all sessions",
                    "percentage": percentage,
                }
            )
        return alerts


class DailyReportBuilder(ReportBuilder):
    """One UTC day."""

    report_type = "daily"


class _MultiDayBuilder(ReportBuilder):
    def _extend(
        self,
        dal: ReportingDAL,
        period: Period,
        window: Window,
        days: dict[date, dict[str, int]],
        doc: dict[str, Any],
    ) -> None:
        empty = {"sessions": 0, "unique_ips": 0, "commands": 0, "downloads": 0}
        doc["days_included"] = len(period.days)
        doc["daily"] = [{"date": d.isoformat(), **days.get(d, empty)} for d in period.days]
        doc["trends"] = self._trends(dal, period, window.sensor, doc)
        n = doc["days_included"]
        doc["daily_average"] = {
            "sessions": _avg(doc["sessions"]["total"], n),
            "commands": _avg(doc["commands"]["total"], n),
            "downloads": _avg(doc["files"]["downloads_total"], n),
        }
        summary: dict[str, int] = {}
        for alert in doc["alerts"]:
            summary[alert["type"]] = summary.get(alert["type"], 0) + 1
        doc["alerts_summary"] = summary


class WeeklyReportBuilder(_MultiDayBuilder):
    """One ISO week, Monday to Sunday."""

    report_type = "weekly"


class MonthlyReportBuilder(_MultiDayBuilder):
    """One calendar month."""

    report_type = "monthly"


_BUILDERS: dict[str, type[ReportBuilder]] = {
    b.report_type: b for b in (DailyReportBuilder, WeeklyReportBuilder, MonthlyReportBuilder)
}


def builder_for(report_type: str) -> type[ReportBuilder]:
    """The builder class of a report type."""
    return _BUILDERS[report_type]


__all__ = [
    "AGGREGATE",
    "DailyReportBuilder",
    "MonthlyReportBuilder",
    "ReportBuilder",
    "WeeklyReportBuilder",
    "builder_for",
    "uncommon_command_counts",
]
