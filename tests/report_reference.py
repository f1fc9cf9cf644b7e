"""Expected report documents computed in plain Python from reference events.

Independent of the package: it reads the events produced by ``reference.load_events`` (its
own parser) and follows docs/report-schema.md literally, one figure at a time, without SQL,
rollups or any code from ``cowrieprocessor``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

LOGINS = ("cowrie.login.success", "cowrie.login.failed")
IP_SPIKE_FACTOR = 1.5
RECENT_VT_DAYS = 5


@dataclass
class RefEnrichment:
    """What the providers said, as plain data (the test stores the same in the database).

    ``ip``: src_ip -> {"country", "as_label", "dshield_flagged", "spur_class", "tunnel",
    "anonymous", "gn_class", "riot"} (missing keys: no data). ``vt``: shasum -> {"label",
    "malicious", "first_submitted"}. ``url_tags``: URL -> URLhaus tags.
    """

    ip: dict[str, dict[str, Any]] = field(default_factory=dict)
    vt: dict[str, dict[str, Any]] = field(default_factory=dict)
    url_tags: dict[str, list[str]] = field(default_factory=dict)


def round2(numerator: int | Fraction, denominator: int = 1) -> float:
    """Exact ``numerator / denominator`` rounded half away from zero to 2 decimals."""
    if denominator == 0:
        return 0.0
    exact = Fraction(numerator) / denominator
    scaled = Decimal(exact.numerator) / Decimal(exact.denominator)  # 28 significant digits
    # Fractions whose decimal expansion is longer than 28 digits cannot sit on a .xx5 tie.
    return float(scaled.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _text(value: Any) -> str:
    """A logged field as text: '' when missing or null, compact sorted JSON for non-strings."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _counted(login: dict[str, Any]) -> bool:
    """A login counts in credential figures when its username and password are each a
    string, missing or null; one holding another JSON value is left out of them."""
    return all(login.get(k) is None or isinstance(login[k], str) for k in ("username", "password"))


def _credential(value: str | None) -> str:
    """A counted username or password: '' when missing or null."""
    return value or ""


def _top(counter: Counter[str], top_n: int) -> list[dict[str, Any]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [{"value": v, "count": n} for v, n in ranked[:top_n]]


def _vt_label(scans: Any) -> str:
    """Most common detection name among engines that flagged the file (ties: smallest)."""
    if not isinstance(scans, dict):
        return ""
    names: Counter[str] = Counter()
    for verdict in scans.values():
        detected = isinstance(verdict, dict) and verdict.get("detected")
        if detected and isinstance(verdict.get("result"), str):
            names[verdict["result"]] += 1
    if not names:
        return ""
    best = max(names.values())
    return min(name for name, n in names.items() if n == best)


class RefSession:
    """One session's events, in time order, and what the report needs from them."""

    def __init__(self, sensor: str, session_id: str, events: list[dict[str, Any]]) -> None:
        self.sensor = sensor
        self.session_id = session_id
        self.events = sorted(events, key=lambda e: e["_time"])
        first, last = self.events[0]["_time"], self.events[-1]["_time"]
        self.day: date = first.date()
        self.duration_us = (last - first) // timedelta(microseconds=1)
        ips = [e["src_ip"] for e in self.events if isinstance(e.get("src_ip"), str)]
        self.src_ip: str | None = min(ips) if ips else None
        protocols = [e["protocol"] for e in self.events if isinstance(e.get("protocol"), str)]
        self.protocol: str | None = max(protocols) if protocols else None
        self.logins = [e for e in self.events if e["eventid"] in LOGINS]
        self.commands = [e for e in self.events if e["eventid"] == "cowrie.command.input"]
        self.downloads = [e for e in self.events if e["eventid"] == "cowrie.session.file_download"]
        self.uploads = [e for e in self.events if e["eventid"] == "cowrie.session.file_upload"]
        latest_scan: dict[str, dict[str, Any]] = {}
        for e in self.events:  # time order: the last one wins
            if e["eventid"] == "cowrie.virustotal.scanfile" and isinstance(e.get("sha256"), str):
                latest_scan[e["sha256"]] = e
        self.transfer_labels: list[str] = []  # one entry per download/upload event
        flagged = False
        for e in self.downloads + self.uploads:
            scan = latest_scan.get(_text(e.get("shasum")))
            self.transfer_labels.append(_vt_label(scan.get("scans")) if scan else "")
            if scan and int(scan.get("positives") or 0) > 0:
                flagged = True
        self.vt_flagged = flagged


def ref_sessions(events: list[dict[str, Any]]) -> list[RefSession]:
    """Every session of the reference events (keyed by sensor and session id)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        grouped[(e["_sensor"], e["session"])].append(e)
    return [RefSession(s, sid, evs) for (s, sid), evs in grouped.items()]


def _select(
    sessions: list[RefSession], first: date, last: date, sensor: str | None
) -> list[RefSession]:
    return [
        s for s in sessions if first <= s.day <= last and (sensor is None or s.sensor == sensor)
    ]


def _uncommon(window: list[RefSession]) -> list[RefSession]:
    """Command-count values rarest first (fewest sessions; ties: the larger count first);
    the first two thirds (rounded down) are uncommon; their sessions by that rank, then
    day, sensor and session id."""
    per_count = Counter(len(s.commands) for s in window)
    ranked = sorted(per_count, key=lambda count: (per_count[count], -count))
    rank = {count: i for i, count in enumerate(ranked[: len(ranked) * 2 // 3])}
    return sorted(
        (s for s in window if len(s.commands) in rank),
        key=lambda s: (rank[len(s.commands)], s.day, s.sensor, s.session_id),
    )


def uncommon_total(events: list[dict[str, Any]], start: date, end: date, sensor: str | None) -> int:
    """How many sessions of the window have an uncommon command count (all of them, not
    the first ``top_n`` the document lists)."""
    return len(_uncommon(_select(ref_sessions(events), start, end, sensor)))


def _previous_period(report_type: str, start: date) -> tuple[date, date] | None:
    """None for a period starting on 0001-01-01: no dates before it."""
    if start == date.min:
        return None
    before = start - timedelta(days=1)
    if report_type == "weekly":
        return start - timedelta(days=7), before
    return before.replace(day=1), before  # monthly


def _label(report_type: str, start: date) -> tuple[str, str]:
    if report_type == "daily":
        return "date_utc", start.isoformat()
    if report_type == "weekly":
        year, week, _ = start.isocalendar()
        return "year_week", f"{year:04d}-W{week:02d}"
    return "year_month", f"{start.year:04d}-{start.month:02d}"


def _unique_ips(sessions: list[RefSession]) -> int:
    return len({s.src_ip for s in sessions if s.src_ip is not None})


def _change(current: int, previous: int) -> float | None:
    return None if previous == 0 else round2(Fraction(current - previous) * 100, previous)


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def expected_report(
    events: list[dict[str, Any]],
    report_type: str,
    period_start: date,
    period_end: date,
    sensor: str | None,
    top_n: int = 10,
    enrichment: RefEnrichment | None = None,
) -> dict[str, Any]:
    """The whole document (minus ``generated_at``) for one period and sensor (None: all)."""
    enr = enrichment or RefEnrichment()
    all_sessions = ref_sessions(events)
    window = _select(all_sessions, period_start, period_end, sensor)
    n = len(window)
    commands = [e for s in window for e in s.commands]
    downloads = [e for s in window for e in s.downloads]
    label_field, label = _label(report_type, period_start)
    doc: dict[str, Any] = {
        "@timestamp": datetime.combine(period_start, datetime.min.time(), UTC).isoformat(),
        "schema_version": 1,
        "report_type": report_type,
        "sensor": "aggregate" if sensor is None else sensor,
        "date_range": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        label_field: label,
    }
    doc["sessions"] = _sessions_section(window, enr, top_n)
    inputs = Counter(_text(e.get("input")) for e in commands if e.get("input") is not None)
    doc["commands"] = {
        "total": len(commands),
        "unique": len(inputs),
        "top_commands": _top(inputs, top_n),
    }
    doc["files"], labels, recent = _files_section(window, enr, top_n)
    doc["enrichments"] = _enrichments_section(window, enr, top_n)
    doc["abnormalities"] = {
        "uncommon_command_sessions": [s.session_id for s in _uncommon(window)[:top_n]],
        "recent_vt_submission_sessions": [s.session_id for s in recent[:top_n]],
    }
    days = [period_start + timedelta(days=i) for i in range((period_end - period_start).days + 1)]
    alerts = [
        alert
        for alert in (
            _ip_spike_alert(all_sessions, sensor, report_type, days, doc["sessions"]["unique_ips"]),
            _new_classification_alert(all_sessions, sensor, period_start, labels, enr),
            _tunnel_alert(window, enr),
        )
        if alert is not None
    ]
    doc["alerts"] = alerts

    if report_type != "daily":
        doc["days_included"] = len(days)
        doc["daily"] = [_day_entry(all_sessions, d, sensor) for d in days]
        previous = _previous_period(report_type, period_start)
        prev = [] if previous is None else _select(all_sessions, *previous, sensor)
        downloads_change = _change(len(downloads), sum(len(s.downloads) for s in prev))
        doc["trends"] = {
            "sessions_change": _change(n, len(prev)),
            "unique_ips_change": _change(doc["sessions"]["unique_ips"], _unique_ips(prev)),
            "downloads_change": downloads_change,
            "files_change": downloads_change,
        }
        doc["daily_average"] = {
            "sessions": round2(n, len(days)),
            "commands": round2(len(commands), len(days)),
            "downloads": round2(len(downloads), len(days)),
        }
        doc["alerts_summary"] = dict(Counter(a["type"] for a in alerts))
    return doc


def _ip_data(enr: RefEnrichment, s: RefSession) -> dict[str, Any]:
    return enr.ip.get(s.src_ip, {}) if s.src_ip is not None else {}


def _transfers(enr: RefEnrichment, s: RefSession) -> list[tuple[str, str]]:
    """(shasum, label) per download/upload event: Cowrie's verdict, else VirusTotal's."""
    out = []
    for e, label in zip(s.downloads + s.uploads, s.transfer_labels, strict=True):
        sha = _text(e.get("shasum"))
        out.append((sha, label or (enr.vt.get(sha, {}).get("label") or "")))
    return out


def _vt_flagged(enr: RefEnrichment, s: RefSession) -> bool:
    return s.vt_flagged or any(
        enr.vt.get(sha, {}).get("malicious", 0) > 0 for sha, _ in _transfers(enr, s)
    )


def _recent_vt(enr: RefEnrichment, s: RefSession) -> bool:
    # Near 0001-01-01 the earliest day that exists (nothing is submitted before it).
    first = max(s.day.toordinal() - RECENT_VT_DAYS, 1)
    since = datetime.combine(date.fromordinal(first), datetime.min.time(), UTC)
    return any(
        enr.vt.get(sha, {}).get("first_submitted") is not None
        and enr.vt[sha]["first_submitted"] >= since
        for sha, _ in _transfers(enr, s)
    )


def _sessions_section(window: list[RefSession], enr: RefEnrichment, top_n: int) -> dict[str, Any]:
    n = len(window)
    logins = [e for s in window for e in s.logins]
    command_counts = [len(s.commands) for s in window]
    counted = [e for e in logins if _counted(e)]
    usernames = Counter(_credential(e.get("username")) for e in counted)
    passwords = Counter(_credential(e.get("password")) for e in counted)
    combos = Counter(
        _credential(e.get("username")) + ":" + _credential(e.get("password")) for e in counted
    )
    protocols = Counter(s.protocol for s in window if s.protocol)
    return {
        "total": n,
        "unique_ips": _unique_ips(window),
        "unique_usernames": len(usernames),
        "unique_passwords": len(passwords),
        "login_attempts": len(logins),
        "login_successes": sum(e["eventid"] == "cowrie.login.success" for e in logins),
        "avg_commands": round2(sum(command_counts), n),
        "max_commands": max(command_counts, default=0),
        "min_commands": min(command_counts, default=0),
        "avg_duration": round2(Fraction(sum(s.duration_us for s in window), 1_000_000), n),
        "protocols": dict(sorted(protocols.items())),
        "top_usernames": _top(usernames, top_n),
        "top_passwords": _top(passwords, top_n),
        "top_combinations": _top(combos, top_n),
        "top_source_ips": _top(Counter(s.src_ip for s in window if s.src_ip), top_n),
        "vt_flagged": sum(_vt_flagged(enr, s) for s in window),
        "dshield_flagged": sum(bool(_ip_data(enr, s).get("dshield_flagged")) for s in window),
    }


def _files_section(
    window: list[RefSession], enr: RefEnrichment, top_n: int
) -> tuple[dict[str, Any], Counter[str], list[RefSession]]:
    """The ``files`` section, the VirusTotal labels counted in it and the sessions with a
    recent VirusTotal submission."""
    downloads = [e for s in window for e in s.downloads]
    uploads = [e for s in window for e in s.uploads]
    hashes = Counter(_text(e.get("shasum")) for e in downloads + uploads)
    hashes.pop("", None)
    urls = Counter(_text(e.get("url")) for e in downloads)
    urls.pop("", None)
    labels = Counter(label for s in window for _, label in _transfers(enr, s) if label)
    recent = sorted(
        (s for s in window if _recent_vt(enr, s)), key=lambda s: (s.day, s.sensor, s.session_id)
    )
    section = {
        "downloads_total": len(downloads),
        "uploads_total": len(uploads),
        "unique_hashes": len(hashes),
        "top_hashes": _top(hashes, top_n),
        "top_urls": _top(urls, top_n),
        "unique_vt_classifications": len(labels),
        "vt_classifications_top": _top(labels, top_n),
        "recent_vt_submissions": len(recent),
    }
    return section, labels, recent


def _enrichments_section(
    window: list[RefSession], enr: RefEnrichment, top_n: int
) -> dict[str, Any]:
    downloads = [e for s in window for e in s.downloads]

    def per_session(key: str) -> Counter[str]:
        return Counter(_ip_data(enr, s)[key] for s in window if _ip_data(enr, s).get(key))

    tags = Counter(
        tag for e in downloads for tag in enr.url_tags.get(_text(e.get("url")), []) if e.get("url")
    )
    tunnelled = [s for s in window if _ip_data(enr, s).get("tunnel")]
    return {
        "urlhaus_tags_top": _top(tags, top_n),
        "asn_top": _top(per_session("as_label"), top_n),
        "country_top": _top(per_session("country"), top_n),
        "spur_infrastructure_top": _top(per_session("spur_class"), top_n),
        "spur_tunnels": {
            "total": len(tunnelled),
            "anonymous": sum(bool(_ip_data(enr, s).get("anonymous")) for s in tunnelled),
        },
        "greynoise_classification_top": _top(per_session("gn_class"), top_n),
        "benign_scanner_sessions": sum(bool(_ip_data(enr, s).get("riot")) for s in window),
    }


def _day_entry(all_sessions: list[RefSession], day: date, sensor: str | None) -> dict[str, Any]:
    of_day = _select(all_sessions, day, day, sensor)
    return {
        "date": day.isoformat(),
        "sessions": len(of_day),
        "unique_ips": _unique_ips(of_day),
        "commands": sum(len(s.commands) for s in of_day),
        "downloads": sum(len(s.downloads) for s in of_day),
    }


def _ip_spike_alert(
    all_sessions: list[RefSession],
    sensor: str | None,
    report_type: str,
    days: list[date],
    unique_ips: int,
) -> dict[str, Any] | None:
    """ip_spike: against the average over those of the previous 7 days that had sessions."""
    # Dates before 0001-01-01 do not exist (and hold no sessions): ordinals from 1.
    period_start = days[0]
    before = [
        date.fromordinal(n)
        for n in range(max(1, period_start.toordinal() - 7), period_start.toordinal())
    ]
    baseline = [_day_entry(all_sessions, d, sensor) for d in before]
    baseline = [entry for entry in baseline if entry["sessions"]]
    if not baseline:
        return None
    average = round2(sum(d["unique_ips"] for d in baseline), len(baseline))
    if report_type == "daily":
        current: float = unique_ips
    else:  # a week or month compares its average unique IPs per day
        current = round2(
            sum(_day_entry(all_sessions, d, sensor)["unique_ips"] for d in days), len(days)
        )
    if current <= IP_SPIKE_FACTOR * average:
        return None
    shown = str(current) if report_type == "daily" else _fmt(current)
    return {
        "type": "ip_spike",
        "severity": "medium",
        "message": f"Unique IPs ({shown}) above 1.5x the 7-day average ({_fmt(average)})",
        "current": current,
        "average": average,
    }


def _new_classification_alert(
    all_sessions: list[RefSession],
    sensor: str | None,
    period_start: date,
    labels: Counter[str],
    enr: RefEnrichment,
) -> dict[str, Any] | None:
    earlier = [
        s
        for s in all_sessions
        if 0 < period_start.toordinal() - s.day.toordinal() <= 30
        and (sensor is None or s.sensor == sensor)
    ]
    seen = {label for s in earlier for _, label in _transfers(enr, s) if label}
    new = sorted(set(labels) - seen)
    if not new:
        return None
    return {
        "type": "new_vt_classification",
        "severity": "high",
        "message": f"New VirusTotal classifications: {', '.join(new)}",
        "classifications": new,
    }


def _tunnel_alert(window: list[RefSession], enr: RefEnrichment) -> dict[str, Any] | None:
    n = len(window)
    tunnelled = [s for s in window if _ip_data(enr, s).get("tunnel")]
    if not n or len(tunnelled) * 100 <= 30 * n:
        return None
    percentage = round2(len(tunnelled) * 100, n)
    return {
        "type": "high_tunnel_usage",
        "severity": "medium",
        "message": f"Tunnelled sessions ({_fmt(percentage)}%) above 30% of all sessions",
        "percentage": percentage,
    }
