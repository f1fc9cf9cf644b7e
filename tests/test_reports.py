"""Report documents equal an independent plain-Python computation from the raw log lines.

Generated logs with dirt (midnight sessions, duplicates, bad lines, a pretty-printed event,
a truncated live line) plus a day file split and shuffled across two files, ingested in an
order different from time order, then every daily, weekly and monthly document, aggregate
and per sensor, checked field by field on SQLite and PostgreSQL, from the rollup tables and
from the live views.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from enrichment_data import enrich_reference
from reference import load_events
from report_data import CONFIG, _event, _scan, dirty_logs
from report_reference import RefEnrichment, expected_report
from sqlalchemy import Engine

from cowrieprocessor.db.engine import create_session_maker
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.dal import LIVE_VIEWS
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import refresh_dirty
from cowrieprocessor.samples import SampleConfig, write_sample_logs


def diff(got: Any, want: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON-like values."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        if list(got) != list(want):
            out.append(f"{path or '.'}: keys {list(got)} != expected {list(want)}")
        for key in want:
            if key in got:
                out += diff(got[key], want[key], f"{path}.{key}")
        return out
    if got != want or type(got) is not type(want):
        return [f"{path}: got {got!r}, expected {want!r}"]
    return []


def periods() -> list[Period]:
    """Every day with data plus empty ones, and every week and month touching the data."""
    days = [CONFIG.start + timedelta(days=i) for i in range(-1, CONFIG.days + 1)]
    out = [Period.containing("daily", d) for d in days]
    out.append(Period.containing("daily", date(2024, 4, 2)))  # empty, no baseline
    # 2024-W09 and W10 are partly covered; W11 is empty (previous week has data).
    out += [Period.containing("weekly", d) for d in (date(2024, 2, 27), date(2024, 3, 4))]
    out += [
        Period.containing("weekly", date(2024, 3, 11)),
        Period.containing("weekly", date(2024, 5, 1)),
    ]
    # February partly covered, March partly covered, April empty.
    out += [Period.containing("monthly", date(2024, m, 1)) for m in (2, 3, 4)]
    return out


def build(engine: Engine, period: Period, sensor: str | None, top_n: int = 10, **kw: Any) -> dict:
    builder = builder_for(period.report_type)(create_session_maker(engine), top_n=top_n, **kw)
    doc = builder.build(period, sensor)
    assert doc.pop("generated_at")
    return doc


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> tuple[Engine, list[dict]]:
    files = dirty_logs(tmp_path / "logs")
    Loader(engine, batch_size=113).ingest(files)
    refresh_dirty(engine)
    return engine, load_events(files)


@pytest.fixture
def enriched(loaded: tuple[Engine, list[dict]]) -> tuple[Engine, list[dict], RefEnrichment]:
    """The loaded data enriched after its rollups were built: offline, and online answers
    stored as providers would; the refresh recomputes only the buckets that changed."""
    engine, events = loaded
    reference = enrich_reference(engine, events)
    refresh_dirty(engine)
    return engine, events, reference


def test_reports_equal_the_reference(
    enriched: tuple[Engine, list[dict], RefEnrichment],
) -> None:
    from cowrieprocessor.rollups.refresh import check

    engine, events, reference = enriched
    assert check(engine) == []
    sensors = sorted({e["_sensor"] for e in events})
    assert len(sensors) >= 3  # two named sensors and the default for sensorless events
    problems: list[str] = []
    checked = 0
    for period in periods():
        for sensor in [None, *sensors]:
            want = expected_report(
                events, period.report_type, period.start, period.end, sensor, 10, reference
            )
            got = build(engine, period, sensor)
            problems += [f"{period} sensor={sensor!r} {d}" for d in diff(got, want)]
            checked += 1
    assert not problems, "\n".join(problems[:40])
    assert checked == len(periods()) * (len(sensors) + 1)


def test_reference_data_exercises_the_awkward_cases(loaded: tuple[Engine, list[dict]]) -> None:
    _, events = loaded
    week = expected_report(events, "weekly", date(2024, 2, 26), date(2024, 3, 3), None)
    month = expected_report(events, "monthly", date(2024, 3, 1), date(2024, 3, 31), None)
    assert week["sessions"]["total"] > 0 and month["sessions"]["total"] > 0
    assert month["trends"]["sessions_change"] is not None
    assert week["trends"]["sessions_change"] is None  # nothing the week before
    assert any(d["sessions"] == 0 for d in week["daily"])  # Monday before the data
    # A session started before midnight has events on the next day.
    from report_reference import ref_sessions

    sessions = ref_sessions(events)
    assert any(s.events[-1]["_time"].date() != s.day for s in sessions)
    new_vt = [a for a in month["alerts"] if a["type"] == "new_vt_classification"]
    assert new_vt[0]["classifications"] == ["Backdoor.Gafgyt", "Trojan.Mirai"]
    assert month["files"]["vt_classifications_top"][0] == {"value": "Backdoor.Gafgyt", "count": 1}
    assert any(s.src_ip is None for s in sessions)
    # Uncommon command sessions: capped at top_n in a month, fewer on a quiet day.
    assert len(month["abnormalities"]["uncommon_command_sessions"]) == 10
    day = expected_report(events, "daily", date(2024, 3, 1), date(2024, 3, 1), None)
    assert 0 < len(day["abnormalities"]["uncommon_command_sessions"]) < 10
    spikes = [
        a
        for p in periods()
        for sensor in (None, "honeypot-a", "honeypot-b")
        for a in expected_report(events, p.report_type, p.start, p.end, sensor)["alerts"]
        if a["type"] == "ip_spike"
    ]
    assert spikes


def test_reports_of_year_one_equal_the_reference(engine: Engine, tmp_path: Path) -> None:
    """Ingest accepts timestamps of year 1; their reports are whole and exact, with no
    previous period and baselines cut at 0001-01-01 (they raised OverflowError)."""
    # Sample logs from the second day (their dirt stamps some events before the first day),
    # and on the first day one session whose download has a VirusTotal detection.
    logs = tmp_path / "logs"
    config = SampleConfig(seed=5, start=date(1, 1, 2), days=40, sessions_per_day=12, compress=None)
    write_sample_logs(logs, config)
    sid, sensor, sha = "0001aaaaaaaa", "honeypot-a", "4" * 64
    first_day = [
        _event(sid, sensor, "0001-01-01T00:00:00Z", "cowrie.session.connect", src_ip="192.0.2.1"),
        _event(sid, sensor, "0001-01-01T00:00:02Z", "cowrie.session.file_download", shasum=sha),
        _scan(sid, sensor, "0001-01-01T00:00:03Z", sha, 3, "Year.One"),
    ]
    (logs / "first-day.json").write_text("".join(json.dumps(e) + "\n" for e in first_day))
    files = sorted(logs.rglob("*.json*"))
    Loader(engine).ingest(files)
    refresh_dirty(engine)
    events = load_events(files)
    days = [date.min + timedelta(days=i) for i in (0, 1, 2, 6, 7, 29, 30, 31)]
    chosen = [Period.containing("daily", d) for d in days]
    chosen += [Period.containing("weekly", d) for d in (date.min, date(1, 1, 8))]
    chosen += [Period.containing("monthly", d) for d in (date.min, date(1, 2, 1))]
    problems: list[str] = []
    for period in chosen:
        for sensor in (None, "honeypot-a"):
            want = expected_report(events, period.report_type, period.start, period.end, sensor)
            problems += [
                f"{period} {sensor} {d}" for d in diff(build(engine, period, sensor), want)
            ]
    assert not problems, "\n".join(problems[:40])
    # The cases that overflowed: a first day with an alert, a baseline cut short, no
    # previous week or month; and a month whose previous one is the first.
    first = expected_report(events, "daily", date.min, date.min, None)
    assert [a["type"] for a in first["alerts"]] == ["new_vt_classification"]
    second = expected_report(events, "daily", date(1, 1, 2), date(1, 1, 2), None)
    assert [a["type"] for a in second["alerts"]] == ["ip_spike"]
    january = expected_report(events, "monthly", date.min, date(1, 1, 31), None)
    assert january["trends"]["sessions_change"] is None and january["sessions"]["total"] > 0
    february = expected_report(events, "monthly", date(1, 2, 1), date(1, 2, 28), None)
    assert february["trends"]["sessions_change"] is not None


def test_reference_enrichment_exercises_every_figure(
    enriched: tuple[Engine, list[dict], RefEnrichment],
) -> None:
    _, events, reference = enriched
    docs = [
        expected_report(events, p.report_type, p.start, p.end, sensor, 10, reference)
        for p in periods()
        for sensor in (None, "honeypot-a")
    ]
    busy = [d for d in docs if d["sessions"]["total"]]
    for key in ("country_top", "asn_top", "urlhaus_tags_top", "spur_infrastructure_top"):
        assert all(d["enrichments"][key] for d in busy if d["report_type"] != "daily"), key
    assert any(d["enrichments"]["greynoise_classification_top"] for d in busy)
    assert any(d["sessions"]["dshield_flagged"] for d in busy)
    assert any(d["enrichments"]["spur_tunnels"]["anonymous"] for d in busy)
    assert any(d["abnormalities"]["recent_vt_submission_sessions"] for d in busy)
    assert any(d["files"]["recent_vt_submissions"] < d["sessions"]["total"] for d in busy)
    tunnel_alerts = [any(a["type"] == "high_tunnel_usage" for a in d["alerts"]) for d in busy]
    assert any(tunnel_alerts) and not all(tunnel_alerts)


def test_top_n_and_live_views_agree(
    enriched: tuple[Engine, list[dict], RefEnrichment],
) -> None:
    engine, events, reference = enriched
    for period in (
        Period.containing("daily", date(2024, 3, 1)),
        Period.containing("weekly", date(2024, 3, 1)),
        Period.containing("monthly", date(2024, 3, 1)),
    ):
        for sensor in (None, "honeypot-b"):
            rollups = build(engine, period, sensor, top_n=3)
            live = build(engine, period, sensor, top_n=3, tables=LIVE_VIEWS)
            assert diff(live, rollups) == []
            want = expected_report(
                events, period.report_type, period.start, period.end, sensor, 3, reference
            )
            assert diff(rollups, want) == []
            assert len(rollups["sessions"]["top_usernames"]) <= 3


def test_rounding_is_exact_half_up() -> None:
    from cowrieprocessor.reporting.builders import _avg, _change

    # Binary floats cannot hold these ties: round(1.015, 2) == 1.01, round(0.125, 2) == 0.12.
    assert _avg(1015, 1000) == 1.02
    assert _avg(1, 8) == 0.13
    assert _change(1, 800) == -99.88  # -99.875
    assert _change(801, 800) == 0.13  # 0.125
    assert _avg(0, 0) == 0.0 and _change(5, 0) is None


def test_enriched_documents_fit_the_elasticsearch_mapping(
    enriched: tuple[Engine, list[dict], RefEnrichment],
) -> None:
    from cowrieprocessor.es.mappings import report_mappings
    from cowrieprocessor.testing.es_server import validate_document

    engine, _, _ = enriched
    for period in (
        Period.containing("daily", date(2024, 3, 1)),
        Period.containing("weekly", date(2024, 3, 1)),
        Period.containing("monthly", date(2024, 3, 1)),
    ):
        doc = build(engine, period, None)
        assert doc["enrichments"]["country_top"] and doc["enrichments"]["urlhaus_tags_top"]
        assert validate_document(report_mappings(period.report_type), doc) is None
