"""The HTML and Markdown reports: their figures, the hourly rollup behind them, hostile
strings, and the empty-period hint of every format (browser checks: test_browser.py)."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from enrichment_data import offline_reference
from markdown_it import MarkdownIt
from reference import load_events
from report_data import dirty_logs
from report_reference import expected_report, ref_sessions, round2

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.charts import section_charts
from cowrieprocessor.reporting.html import md_cell, render_html, render_markdown
from cowrieprocessor.reporting.page import ReportPage, build_page
from cowrieprocessor.reporting.periods import parse_period

WEEK = "2024-W09"
#: Strings an attacker would try: markup, event handlers, script URLs, bidi and terminal
#: control characters, Markdown table and link syntax.
HOSTILE = [
    "<script>document.title='pwned';window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=2">',
    "javascript:window.__pwned=3",
    "user\u202etxt.exe",
    "\x1b[2Jclear",
    "a|b`c`[link](http://198.51.100.1/)",
    "{{ 7*7 }}",
]


def run(db_url: str, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--db", db_url, "--status-dir", str(tmp_path / "status"), *args],
        env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": None, "FORCE_COLOR": None},
        catch_exceptions=False,
    )


@pytest.fixture
def loaded(db_url: str, tmp_path: Path) -> tuple[str, list[dict]]:
    files = dirty_logs(tmp_path / "logs")
    assert run(db_url, tmp_path, "ingest", *map(str, files)).exit_code == 0
    return db_url, load_events(files)


def page_for(db_url: str, report_type: str, period: str, sensors: list[str | None]) -> ReportPage:
    engine = create_engine_for_url(db_url)
    try:
        builder = builder_for(report_type)(create_session_maker(engine))
        return build_page(builder, parse_period(report_type, period), sensors)
    finally:
        engine.dispose()


def expected_hours(events: list[dict], first: date, last: date, sensor: str | None) -> dict:
    """(date, hour) -> figures of the sessions whose first event falls then (plain Python)."""
    hours: dict[tuple[str, int], Counter] = {}
    for s in ref_sessions(events):
        if not first <= s.day <= last or (sensor is not None and s.sensor != sensor):
            continue
        c = hours.setdefault((s.day.isoformat(), s.events[0]["_time"].hour), Counter())
        c["sessions"] += 1
        c["login_attempts"] += len(s.logins)
        c["login_successes"] += sum(e["eventid"] == "cowrie.login.success" for e in s.logins)
        c["commands"] += len(s.commands)
        c["downloads"] += len(s.downloads)
    return hours


@pytest.mark.parametrize(
    ("report_type", "period", "first", "last"),
    [
        ("daily", "2024-03-01", date(2024, 3, 1), date(2024, 3, 1)),
        ("weekly", WEEK, date(2024, 2, 26), date(2024, 3, 3)),
    ],
)
def test_page_holds_the_documents_and_exact_hours(
    loaded: tuple[str, list[dict]], report_type: str, period: str, first: date, last: date
) -> None:
    db_url, events = loaded
    sensors = sorted({e["_sensor"] for e in events})
    page = page_for(db_url, report_type, period, [None, *sensors])
    assert [s.sensor for s in page.sections] == ["aggregate", *sensors]
    all_days = sorted(s.day for s in ref_sessions(events))
    assert page.data_span == (all_days[0], all_days[-1])
    for section, sensor in zip(page.sections, [None, *sensors], strict=True):
        doc = dict(section.document)
        doc.pop("generated_at")
        # `ingest` enriches offline by default: country and AS are in the documents.
        want_doc = expected_report(
            events, report_type, first, last, sensor, enrichment=offline_reference(events)
        )
        assert doc == want_doc
        want = expected_hours(events, first, last, sensor)
        assert len(section.hours) == 24 * ((last - first).days + 1)
        for row in section.hours:
            figures = {k: v for k, v in row.items() if k not in ("date", "hour")}
            assert figures == {
                k: want.get((row["date"], row["hour"]), Counter())[k] for k in figures
            }
        assert sum(r["sessions"] for r in section.hours) == doc["sessions"]["total"]


def test_daily_trends_are_the_builders_against_the_previous_day(
    loaded: tuple[str, list[dict]],
) -> None:
    db_url, events = loaded
    page = page_for(db_url, "daily", "2024-03-01", [None])
    today = expected_report(events, "daily", date(2024, 3, 1), date(2024, 3, 1), None)
    before = expected_report(events, "daily", date(2024, 2, 29), date(2024, 2, 29), None)

    def change(path: tuple[str, str]) -> float | None:
        previous = before[path[0]][path[1]]
        return round2((today[path[0]][path[1]] - previous) * 100, previous) if previous else None

    assert page.sections[0].trends == {
        "sessions_change": change(("sessions", "total")),
        "unique_ips_change": change(("sessions", "unique_ips")),
        "downloads_change": change(("files", "downloads_total")),
        "files_change": change(("files", "downloads_total")),
    }
    weekly = page_for(db_url, "weekly", WEEK, [None])
    assert weekly.sections[0].trends == weekly.documents[0]["trends"]


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def hostile_document(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a hostile string in every text field, the enrichment lists filled
    (values and counts as the schema describes them)."""
    doc = copy.deepcopy(base)
    top = [{"value": text, "count": 10 - i} for i, text in enumerate(HOSTILE)]
    doc["sensor"] = HOSTILE[0]
    for section, key in [
        ("sessions", "top_usernames"),
        ("sessions", "top_passwords"),
        ("sessions", "top_combinations"),
        ("sessions", "top_source_ips"),
        ("commands", "top_commands"),
        ("files", "top_hashes"),
        ("files", "top_urls"),
        ("files", "vt_classifications_top"),
        ("enrichments", "country_top"),
        ("enrichments", "asn_top"),
        ("enrichments", "urlhaus_tags_top"),
        ("enrichments", "spur_infrastructure_top"),
    ]:
        doc[section][key] = top
    doc["sessions"]["protocols"] = {text: 3 for text in HOSTILE}
    doc["abnormalities"]["uncommon_command_sessions"] = HOSTILE
    doc["alerts"] = [
        {"type": HOSTILE[1], "severity": "high", "message": HOSTILE[0], "classifications": HOSTILE}
    ]
    return doc


def test_hostile_strings_are_text_in_html_and_markdown(loaded: tuple[str, list[dict]]) -> None:
    db_url, _ = loaded
    page = page_for(db_url, "weekly", WEEK, [None, "honeypot-a"])
    sections = [type(s)(hostile_document(s.document), s.trends, s.hours) for s in page.sections]
    hostile = ReportPage(page.period, sections, page.data_span)
    html = render_html(hostile)
    parsed = _Elements()
    parsed.feed(html)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "img" not in tags and "a" not in tags and "iframe" not in tags
    for _, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], attrs
        assert not any("javascript:" in (v or "") for k, v in attrs.items() if k != "aria-label")
    text = "".join(parsed.text)
    for value in HOSTILE:
        shown = value.replace("\u202e", "\\u202e").replace("\x1b", "\\x1b")
        assert shown in text or shown in html, value
    assert "\u202e" not in html and "\x1b" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp and "default-src 'none'" in csp.group(1) and "script-src" not in csp.group(1)
    charts = {c.key for s in sections for c in section_charts(s)}
    assert {"top-countries", "top-asns", "top-credentials", "protocols"} <= charts

    markdown = render_markdown(hostile)
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "\u202e" not in markdown and "\x1b" not in markdown
    cells = re.findall(r"<code>(.*?)</code>", rendered, re.S)
    for value in HOSTILE:
        shown = value.replace("\u202e", "\\u202e").replace("\x1b", "\\x1b")
        escaped = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped.replace('"', "&quot;") in cells, value


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("root", "`root`"),
        ("", "*(empty)*"),
        ("a|b", "`a\\|b`"),
        ("x`y", "``x`y``"),
        ("`", "`` ` ``"),
        ("tab\there", "`tab\\there`"),
        (1234567, "1,234,567"),
        (2.5, "2.50"),
    ],
)
def test_markdown_cells(value: object, cell: str) -> None:
    assert md_cell(value) == cell


def test_show_html_and_markdown_end_to_end(loaded: tuple[str, list[dict]], tmp_path: Path) -> None:
    db_url, events = loaded
    out = tmp_path / "week.html"
    result = run(db_url, tmp_path, "show", "weekly", WEEK, "--format", "html", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    html = out.read_text(encoding="utf-8")
    want = expected_report(events, "weekly", date(2024, 2, 26), date(2024, 3, 3), None)
    assert f">{want['sessions']['total']:,}<" in html
    keys = re.findall(r'data-chart="([^"]+)"', html)
    assert keys[:4] == [
        "sessions-per-day",
        "day-hour-heatmap",
        "logins-per-day",
        "downloads-per-day",
    ]

    result = run(db_url, tmp_path, "show", "daily", "2024-03-01", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    daily = expected_report(events, "daily", date(2024, 3, 1), date(2024, 3, 1), None)
    assert f"| Sessions | {daily['sessions']['total']:,} |" in result.stdout
    assert "**Per hour (UTC)**" in result.stdout


def test_empty_period_says_where_the_data_is(
    loaded: tuple[str, list[dict]], tmp_path: Path
) -> None:
    db_url, events = loaded
    days = sorted(s.day for s in ref_sessions(events))
    where = f"the data spans {days[0].isoformat()}..{days[-1].isoformat()}"
    for fmt in ("json", "ndjson", "table", "markdown", "html"):
        result = run(db_url, tmp_path, "show", "weekly", "--format", fmt)  # last week: empty
        assert result.exit_code == 0, result.stderr
        shown = result.stderr if fmt in ("json", "ndjson") else result.stdout
        assert where in shown, (fmt, result.stdout[:300], result.stderr)
        if fmt == "json":
            assert json.loads(result.stdout)["sessions"]["total"] == 0
    full = run(db_url, tmp_path, "show", "weekly", WEEK, "--format", "json")
    assert "note:" not in full.stderr
