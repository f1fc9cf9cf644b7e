"""``cowrie-report show`` and ``export`` end to end, on both dialects.

The database is filled through ``cowrie-report ingest --no-refresh``, so the first ``show``
must refresh the stale rollups before it reports.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from enrichment_data import offline_reference as OFFLINE
from reference import load_events
from report_data import dirty_logs
from report_reference import expected_report, uncommon_total
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker, sqlite_path
from cowrieprocessor.db.models import CommandStat, FileTransfer, SessionSummary
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.dal import ReportingDAL, Window
from cowrieprocessor.reporting.periods import parse_period
from cowrieprocessor.rollups.refresh import dirty_buckets

WEEK = "2024-W09"


def run(db_url: str, tmp_path: Path, *args: str, width: int = 100) -> Result:
    """Invoke ``cowrie-report`` (it disposes the engines it opened when the command ends)."""
    return CliRunner().invoke(
        cli,
        ["--db", db_url, "--status-dir", str(tmp_path / "status"), *args],
        env={"COLUMNS": str(width), "TERM": "dumb", "NO_COLOR": None, "FORCE_COLOR": None},
        catch_exceptions=False,
    )


def builder_doc(db_url: str, period: str, report_type: str, sensor: str | None, top_n: int = 10):
    engine = create_engine_for_url(db_url)
    try:
        builder = builder_for(report_type)(create_session_maker(engine), top_n=top_n)
        doc = builder.build(parse_period(report_type, period), sensor)
    finally:
        engine.dispose()
    doc.pop("generated_at")
    return doc


def strip(doc: dict[str, Any]) -> dict[str, Any]:
    assert doc.pop("generated_at")
    return doc


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path) -> tuple[str, list[dict]]:
    files = dirty_logs(tmp_path / "logs")
    result = run(db_url, tmp_path, "ingest", "--no-refresh", *map(str, files))
    assert result.exit_code == 0, result.output
    return db_url, load_events(files)


def test_show_refreshes_stale_rollups_then_prints_the_exact_document(
    cli_db: tuple[str, list[dict]], tmp_path: Path
) -> None:
    db_url, events = cli_db
    engine = create_engine_for_url(db_url)
    try:
        assert dirty_buckets(engine), "ingest --no-refresh should leave dirty buckets"
    finally:
        engine.dispose()
    result = run(db_url, tmp_path, "show", "weekly", WEEK, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert result.stdout == json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    want = expected_report(
        events, "weekly", date(2024, 2, 26), date(2024, 3, 3), None, enrichment=OFFLINE(events)
    )
    assert strip(doc) == want
    assert doc == builder_doc(db_url, WEEK, "weekly", None)
    engine = create_engine_for_url(db_url)
    try:
        assert not dirty_buckets(engine)
    finally:
        engine.dispose()


def test_show_json_ndjson_output_and_top_n(cli_db: tuple[str, list[dict]], tmp_path: Path) -> None:
    db_url, events = cli_db
    run(db_url, tmp_path, "refresh-views")
    sensors = sorted({e["_sensor"] for e in events})

    result = run(
        db_url, tmp_path, "show", "daily", "2024-03-01", "--format", "ndjson", "--all-sensors"
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[-1] == "" and len(lines) == len(sensors) + 2
    docs = [strip(json.loads(line)) for line in lines[:-1]]
    assert [d["sensor"] for d in docs] == ["aggregate", *sensors]
    for doc, sensor in zip(docs, [None, *sensors], strict=True):
        want = expected_report(
            events, "daily", date(2024, 3, 1), date(2024, 3, 1), sensor, enrichment=OFFLINE(events)
        )
        assert doc == want, sensor

    out = tmp_path / "month.json"
    result = run(
        db_url,
        tmp_path,
        "show",
        "monthly",
        "2024-03",
        "--sensor",
        "honeypot-b",
        "--top-n",
        "2",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    doc = strip(json.loads(out.read_text(encoding="utf-8")))
    want = expected_report(
        events,
        "monthly",
        date(2024, 3, 1),
        date(2024, 3, 31),
        "honeypot-b",
        2,
        enrichment=OFFLINE(events),
    )
    assert doc == want
    assert len(doc["sessions"]["top_usernames"]) == 2

    result = run(db_url, tmp_path, "show", "weekly", WEEK, "--format", "json", "--all-sensors")
    assert [d["sensor"] for d in json.loads(result.stdout)] == ["aggregate", *sensors]


def test_show_table_at_fixed_width(cli_db: tuple[str, list[dict]], tmp_path: Path) -> None:
    db_url, events = cli_db
    want = expected_report(
        events, "weekly", date(2024, 2, 26), date(2024, 3, 3), None, enrichment=OFFLINE(events)
    )
    result = run(db_url, tmp_path, "show", "weekly", WEEK, width=100)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "\x1b" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert WEEK in text
    assert f"{want['sessions']['total']:,}" in text
    assert f"{want['sessions']['unique_ips']:,}" in text
    assert want["sessions"]["top_source_ips"][0]["value"] in text
    out = tmp_path / "t.txt"
    assert run(db_url, tmp_path, "show", "weekly", WEEK, "--output", str(out)).exit_code == 0
    assert max(len(line) for line in out.read_text(encoding="utf-8").splitlines()) <= 120


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "daily", "2024-13-01"], "Invalid daily period"),
        (["show", "weekly", "2021-W53"], "2021 has only 52 ISO weeks"),
        (["show", "monthly", "march"], "Invalid monthly period"),
        (["show", "daily", "2024-03-01", "--sensor", "nope"], "unknown sensor 'nope'"),
        (
            ["export", "sessions", "--start", "2024-03-01", "--end", "2024-03-02", "--sensor", "x"],
            "unknown sensor 'x'",
        ),
    ],
)
def test_user_errors_are_one_line(
    cli_db: tuple[str, list[dict]], tmp_path: Path, args: list[str], message: str
) -> None:
    db_url, _ = cli_db
    result = run(db_url, tmp_path, *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    # Besides the one error line, stderr may only hold the refresh of stale rollups.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("rollups: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert result.stdout == ""


def test_an_impossible_sensor_name_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "cowrie.json").write_text("")
    for name in ("", "s" * 256):
        result = run(
            empty_db_url, tmp_path, "ingest", str(tmp_path / "cowrie.json"), "--sensor", name
        )
        assert result.exit_code == 2 and "a sensor name has 1 to 255 characters" in result.stderr


def test_empty_database_is_one_line(empty_db_url: str, tmp_path: Path) -> None:
    path = sqlite_path(empty_db_url)
    if path is not None:
        Path(path).touch()  # an empty SQLite file (a missing one: tests/test_cli_safety.py)
    for args in (["show", "daily"], ["show", "monthly", "2024-03", "--format", "json"]):
        result = run(empty_db_url, tmp_path, *args)
        assert result.exit_code != 0
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "no sessions" in lines[0], result.stderr
        assert "Traceback" not in result.output and result.stdout == ""
    engine = create_engine_for_url(empty_db_url)
    try:
        assert inspect(engine).get_table_names() == []  # reports never create the schema
    finally:
        engine.dispose()


def test_show_defaults_to_the_last_complete_period(
    cli_db: tuple[str, list[dict]], tmp_path: Path
) -> None:
    db_url, _ = cli_db
    for report_type in ("daily", "weekly", "monthly"):
        result = run(db_url, tmp_path, "show", report_type, "--format", "json")
        assert result.exit_code == 0, result.stderr
        doc = json.loads(result.stdout)
        expected = parse_period(report_type, None)  # today's UTC date
        assert doc["date_range"]["start"] == expected.start.isoformat()
        assert doc["sessions"]["total"] == 0


# -- export ----------------------------------------------------------------------------------


def _count(engine: Engine, model: Any, sensor: str | None = None) -> int:
    s = SessionSummary.__table__
    query = select(func.count()).select_from(model.__table__)
    if model is not SessionSummary:
        t = model.__table__
        query = query.join(s, (s.c.sensor == t.c.sensor) & (s.c.session_id == t.c.session_id))
    query = query.where(s.c.first_day >= date(2024, 2, 28), s.c.first_day <= date(2024, 3, 3))
    if sensor is not None:
        query = query.where(s.c.sensor == sensor)
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


@pytest.mark.parametrize("kind", ["sessions", "commands", "files"])
def test_export_rows_match_the_database(
    cli_db: tuple[str, list[dict]], tmp_path: Path, kind: str
) -> None:
    db_url, _ = cli_db
    model = {"sessions": SessionSummary, "commands": CommandStat, "files": FileTransfer}[kind]
    window = ["--start", "2024-02-28", "--end", "2024-03-03"]
    engine = create_engine_for_url(db_url)
    try:
        total = _count(engine, model)
        per_sensor = _count(engine, model, "honeypot-a")
    finally:
        engine.dispose()
    assert total > per_sensor > 0

    big = run(db_url, tmp_path, "export", kind, *window, "--format", "ndjson")
    small = run(db_url, tmp_path, "export", kind, *window, "--batch-size", "7")
    assert big.exit_code == 0 and small.exit_code == 0, big.stderr + small.stderr
    rows = [json.loads(line) for line in big.stdout.splitlines()]
    assert len(rows) == total
    assert small.stdout == big.stdout  # same rows, same order: no duplicates, no omissions
    key = ("sensor", "session_id") if kind == "sessions" else ("id",)
    assert len({tuple(r[k] for k in key) for r in rows}) == total
    if kind == "sessions":  # country and AS of the session's IP (offline, on by default)
        from enrichment_data import offline_facts

        for r in rows:
            facts = offline_facts(r["src_ip"]) if r["src_ip"] else {}
            assert (r["country"], r["as_name"]) == (facts.get("country"), facts.get("as_label"))
            assert r["asn"] is None  # geoip2fast's data names AS without their numbers
        assert any(r["country"] for r in rows)

    sensor = run(
        db_url, tmp_path, "export", kind, *window, "--sensor", "honeypot-a", "--format", "csv"
    )
    assert sensor.exit_code == 0, sensor.stderr
    parsed = list(csv.DictReader(io.StringIO(sensor.stdout, newline="")))
    assert len(parsed) == per_sensor
    assert {r["sensor"] for r in parsed} == {"honeypot-a"}

    out = tmp_path / f"{kind}.csv"
    result = run(db_url, tmp_path, "export", kind, *window, "--format", "csv", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    with out.open(encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == total


def test_csv_export_keeps_attacker_formulas_as_text(empty_db_url: str, tmp_path: Path) -> None:
    hostile = [
        '=HYPERLINK("http://x/")',
        "+1+1",
        "-2",
        "@SUM(A1)",
        "\tx",
        " =1+1",  # spreadsheets skip leading whitespace before a formula
        "\n=cmd|' /C calc'!A0",
        " \n\t@SUM(A1)",
        "\u00a0-3",
        "plain",
        " plain",
        "a=b",
    ]
    events = [
        {
            "eventid": "cowrie.command.input",
            "timestamp": f"2024-03-01T10:00:{i:02d}Z",
            "session": "abcdef01",
            "sensor": "s",
            "input": text,
        }
        for i, text in enumerate(hostile)
    ]
    log = tmp_path / "cowrie.json"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert run(empty_db_url, tmp_path, "ingest", str(log)).exit_code == 0
    window = ["--start", "2024-03-01", "--end", "2024-03-01"]
    as_csv = run(empty_db_url, tmp_path, "export", "commands", *window, "--format", "csv")
    as_json = run(empty_db_url, tmp_path, "export", "commands", *window)
    cells = {r["command"] for r in csv.DictReader(io.StringIO(as_csv.stdout, newline=""))}
    assert cells == {"'" + t for t in hostile[:-3]} | {"plain", " plain", "a=b"}
    assert {json.loads(line)["command"] for line in as_json.stdout.splitlines()} == set(hostile)


def test_iter_sessions_memory_is_flat(engine: Engine) -> None:
    """Peak memory of a paginated walk does not grow with the number of sessions."""
    start = datetime(2024, 3, 1, tzinfo=UTC)

    def row(i: int) -> dict[str, Any]:
        first = start + timedelta(days=i % 5, seconds=i)
        return {
            "sensor": f"s{i % 3}",
            "session_id": f"{i:012x}",
            "src_ip": f"192.0.2.{i % 250}",
            "first_event_at": first,
            "first_day": first.date(),
            "last_event_at": first + timedelta(seconds=3),
            "duration_seconds": 3.0,
            "login_attempts": 1,
            "login_successes": 0,
            "command_count": 0,
            "file_downloads": 0,
            "file_uploads": 0,
            "updated_at": start,
        }

    def peak(n: int) -> int:
        table = SessionSummary.__table__
        with Session(engine) as session:
            session.execute(table.delete())
            session.execute(table.insert(), [row(i) for i in range(n)])
            session.commit()
        with Session(engine) as session:
            dal = ReportingDAL(session)
            tracemalloc.start()
            seen = 0
            for page in dal.iter_sessions(Window(date(2024, 3, 1), date(2024, 3, 31)), 50):
                assert len(page) <= 50
                seen += len(page)
            _, top = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert seen == n
        return top

    small, large = peak(500), peak(5000)
    assert large < small * 1.5 + 100_000, (small, large)


#: Modules `show --format json` must not load: start-up time counts in every report.
HEAVY = (
    "rich",
    "elasticsearch",
    "platformdirs",
    "cowrieprocessor.db.models",
    "jinja2",
    "vl_convert",
    "cowrieprocessor.reporting.html",
)


def test_show_json_imports_only_what_it_needs(
    cli_db: tuple[str, list[dict]], tmp_path: Path
) -> None:
    db_url, _ = cli_db
    assert run(db_url, tmp_path, "refresh-views").exit_code == 0
    code = (
        "import sys\n"
        "from cowrieprocessor.cli.main import cli\n"
        f"cli(['--db', {db_url!r}, 'show', 'weekly', {WEEK!r}, '--format', 'json'],"
        " standalone_mode=False)\n"
        f"print('loaded:', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout)["year_week"] == WEEK
    assert result.stderr.strip().splitlines()[-1] == "loaded: []"


# -- the Rich view (issue 17, item 11) -------------------------------------------------------


@pytest.mark.parametrize(
    ("report_type", "period"), [("daily", "2024-03-01"), ("monthly", "2024-03")]
)
def test_table_view_counts_and_lists_the_odd_command_sessions(
    cli_db: tuple[str, list[dict]], tmp_path: Path, report_type: str, period: str
) -> None:
    """It showed the length of the cut list (top_n) as the number of sessions, and never
    listed them; the document itself is unchanged."""
    db_url, events = cli_db
    parsed = parse_period(report_type, period)
    want = expected_report(
        events, report_type, parsed.start, parsed.end, None, 3, enrichment=OFFLINE(events)
    )
    listed = want["abnormalities"]["uncommon_command_sessions"]
    total = uncommon_total(events, parsed.start, parsed.end, None)
    assert 0 < len(listed) <= 3 and total >= len(listed)
    result = run(db_url, tmp_path, "show", report_type, period, "--top-n", "3", width=120)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert re.search(r"Odd-command sessions +([\d,]+)", text).group(1) == f"{total:,}"
    assert f"Odd-command sessions ({len(listed)} of {total:,})" in text
    for session_id in listed:
        assert session_id in text
    doc = json.loads(run(db_url, tmp_path, "show", report_type, period, "--top-n", "3",
                         "--format", "json").stdout)  # fmt: skip
    assert strip(doc) == want


def test_export_of_an_unknown_sensor_lists_the_known_ones(
    cli_db: tuple[str, list[dict]], tmp_path: Path
) -> None:
    db_url, events = cli_db
    known = sorted({e["_sensor"] for e in events})
    for args in (["show", "daily", "2024-03-01"], ["export", "sessions", "--start", "2024-03-01",
                                                   "--end", "2024-03-01"]):  # fmt: skip
        result = run(db_url, tmp_path, *args, "--sensor", "nope")
        assert result.exit_code == 1
        line = result.stderr.strip().splitlines()[-1]
        assert line == "Error: unknown sensor 'nope'; known sensors: " + ", ".join(
            repr(s) for s in known
        )


def test_status_files_give_rates_of_work_not_of_totals(
    cli_db: tuple[str, list[dict]], tmp_path: Path
) -> None:
    """monitor --once printed files=9.7 per second for the number of files of the run."""
    db_url, _ = cli_db  # ingested with --no-refresh: show refreshes now
    assert run(db_url, tmp_path, "show", "daily", "2024-03-01", "--format", "json").exit_code == 0
    ingest = json.loads((tmp_path / "status" / "ingest.json").read_text())
    refresh = json.loads((tmp_path / "status" / "refresh.json").read_text())
    assert {"files", "bytes_total", "files_done", "records"} <= set(ingest["counters"])
    assert set(ingest["rate"]) == {
        "files_done",
        "records",
        "events_new",
        "events_duplicate",
        "dead_letters",
        "bytes_read",
    }
    assert set(refresh["counters"]) == {"buckets_total", "buckets_done"}
    assert set(refresh["rate"]) == {"buckets_done"}
    monitor = run(db_url, tmp_path, "monitor", "--once", "--status-dir", str(tmp_path / "status"))
    rates = [line for line in monitor.stdout.splitlines() if "rate/s:" in line]
    # ingest, its offline enrichment (looked-up IPs) and the refresh
    assert len(rates) == 3 and all("files=" not in r and "total" not in r for r in rates)
    enrichment = json.loads((tmp_path / "status" / "enrichment.json").read_text())
    assert set(enrichment["rate"]) == {"looked_up", "requests"}
