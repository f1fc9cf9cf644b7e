"""Realistic example report documents (schema version 1) for Elasticsearch tests.

Every field of the schema is present (so a strict-mapping check against the index templates
is meaningful), including hostile values: a 100 KB command, long URLs, markup and control
characters in attacker-chosen strings, protocol and alert-type keys that are open-ended.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

__all__ = ["example_report", "example_reports"]


_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _top(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"value": value, "count": count} for value, count in pairs]


def _common(report_type: str, sensor: str, start: date, end: date) -> dict[str, Any]:
    huge_command = "echo " + "A" * 100_000
    return {
        "@timestamp": f"{start.isoformat()}T00:00:00Z",
        "generated_at": "2024-06-02T03:04:05.123456Z",
        "schema_version": 1,
        "report_type": report_type,
        "sensor": sensor,
        "date_range": {"start": start.isoformat(), "end": end.isoformat()},
        "sessions": {
            "total": 1532,
            "unique_ips": 211,
            "unique_usernames": 57,
            "unique_passwords": 402,
            "login_attempts": 4810,
            "login_successes": 96,
            "avg_commands": 3.27,
            "max_commands": 118,
            "min_commands": 0,
            "avg_duration": 12.5,
            "protocols": {"ssh": 1400, "telnet": 132},
            "top_usernames": _top(("root", 900), ("admin", 120), ("[bold]x[/x]", 3)),
            "top_passwords": _top(("123456", 300), ("pa\x00ss\x1b[31m", 2)),
            "top_combinations": _top(("root:123456", 250), ("admin:admin", 40)),
            "top_source_ips": _top(("203.0.113.7", 410), ("2001:db8::1", 12)),
            "vt_flagged": 4,
            "dshield_flagged": 37,
        },
        "commands": {
            "total": 5010,
            "unique": 321,
            "top_commands": _top(("uname -a", 700), (huge_command, 1)),
        },
        "files": {
            "downloads_total": 42,
            "uploads_total": 3,
            "unique_hashes": 17,
            "top_hashes": _top((_SHA256, 9)),
            "top_urls": _top(("http://198.51.100.9/bins/x86?" + "q" * 5000, 5)),
            "unique_vt_classifications": 3,
            "vt_classifications_top": _top(("trojan.mirai/gafgyt", 6)),
            "recent_vt_submissions": 2,
        },
        "enrichments": {
            "urlhaus_tags_top": _top(("mirai", 8), ("elf", 5)),
            "asn_top": _top(("AS64500", 300)),
            "country_top": _top(("NL", 210), ("CN", 190)),
            "spur_infrastructure_top": _top(("DATACENTER", 150)),
            "spur_tunnels": {"total": 60, "anonymous": 12},
            "greynoise_classification_top": _top(("malicious", 40), ("benign", 3)),
            "benign_scanner_sessions": 3,
        },
        "abnormalities": {
            "uncommon_command_sessions": ["a1b2c3d4e5f6", "0f9e8d7c6b5a"],
            "recent_vt_submission_sessions": ["a1b2c3d4e5f6"],
        },
        "alerts": [
            {
                "type": "ip_spike",
                "severity": "medium",
                "message": "unique IPs 211 above 1.5x the 7-day average 120.4",
                "current": 211,
                "average": 120.4,
            },
            {
                "type": "new_vt_classification",
                "severity": "high",
                "message": "new VirusTotal classification",
                "classifications": ["trojan.mirai/gafgyt"],
            },
            {
                "type": "high_tunnel_usage",
                "severity": "medium",
                "message": "39.2% of sessions tunnelled",
                "percentage": 39.2,
            },
        ],
    }


def _rollup_fields(start: date, days: int) -> dict[str, Any]:
    return {
        "days_included": days,
        "daily": [
            {
                "date": (start + timedelta(days=i)).isoformat(),
                "sessions": 200 + i,
                "unique_ips": 30 + i,
                "commands": 700 + i,
                "downloads": i,
            }
            for i in range(days)
        ],
        "trends": {
            "sessions_change": 12.5,
            "unique_ips_change": -3.0,
            "downloads_change": None,
            "files_change": 0,
        },
        "daily_average": {"sessions": 218.86, "commands": 715.7, "downloads": 6.0},
        "alerts_summary": {"ip_spike": 2, "new_vt_classification": 1},
    }


def example_report(
    report_type: str = "daily", *, sensor: str = "honeypot-01", period: str | None = None
) -> dict[str, Any]:
    """A complete example document of ``report_type`` for ``sensor`` and ``period``.

    ``period`` is ``YYYY-MM-DD`` (daily, default ``2024-06-01``), ``YYYY-Www`` (weekly,
    default ``2024-W22``) or ``YYYY-MM`` (monthly, default ``2024-05``).
    """
    if report_type == "daily":
        day = date.fromisoformat(period or "2024-06-01")
        doc = _common("daily", sensor, day, day)
        doc["date_utc"] = day.isoformat()
        return doc
    if report_type == "weekly":
        year_week = period or "2024-W22"
        year, week = int(year_week[:4]), int(year_week[6:])
        start = date.fromisocalendar(year, week, 1)
        doc = _common("weekly", sensor, start, start + timedelta(days=6))
        doc["year_week"] = year_week
        doc.update(_rollup_fields(start, 7))
        return doc
    if report_type == "monthly":
        year_month = period or "2024-05"
        start = date.fromisoformat(f"{year_month}-01")
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = following - timedelta(days=1)
        doc = _common("monthly", sensor, start, end)
        doc["year_month"] = year_month
        doc.update(_rollup_fields(start, end.day))
        return doc
    raise ValueError(f"unknown report type {report_type!r}")


def example_reports(
    sensors: tuple[str, ...] = ("honeypot-01", "aggregate"),
) -> list[dict[str, Any]]:
    """One daily, weekly and monthly example per sensor."""
    return [
        example_report(report_type, sensor=sensor)
        for sensor in sensors
        for report_type in ("daily", "weekly", "monthly")
    ]
