"""Retention: ``prune`` removes raw events of old days while every report stays the same.

Every test runs on real SQLite and PostgreSQL databases: reports of every period (daily,
weekly, monthly; the aggregate and each sensor) are compared as whole documents before and
after, ``refresh-views --check`` must stay clean, and events for pruned days must become
``pruned_day`` dead letters.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from report_data import CONFIG, LAST_DAY, dirty_logs
from sqlalchemy import Engine, text

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db import retention
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.db.migrate import current_revision, downgrade, upgrade
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.prune import PruneError, prune
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import check, rebuild_all, refresh_dirty

#: The day pruned before: mid-history, after a month boundary (February / March 2024).
DAY = date(2024, 3, 2)


#: Sensors of the sample history (the aggregate is None).
SENSORS = (None, "honeypot-a", "honeypot-b")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
Reports = dict[tuple[Period, str | None], dict[str, Any]]


def all_reports(engine: Engine) -> Reports:
    """Every report (whole documents) of every period of the history, for the aggregate and
    each sensor."""
    days = [CONFIG.start + timedelta(days=i) for i in range((LAST_DAY - CONFIG.start).days + 2)]
    periods = dict.fromkeys(
        Period.containing(t, d) for t in ("daily", "weekly", "monthly") for d in days
    )
    factory = create_session_maker(engine)
    docs = {}
    for period in periods:
        builder = builder_for(period.report_type)(factory, now=lambda: NOW)
        docs.update(((period, s), builder.build(period, s)) for s in SENSORS)
    return docs


def ended_before(reports: Reports, day: date) -> Reports:
    """The reports of periods that end before ``day``."""
    return {key: doc for key, doc in reports.items() if key[0].end < day}


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def raw_before(engine: Engine, day: date) -> int:
    return count(
        engine, "SELECT COUNT(*) FROM raw_events WHERE event_timestamp < :t", t=f"{day} 00:00:00"
    )


def dead(engine: Engine, reason: str = retention.PRUNED_DAY) -> int:
    return count(engine, "SELECT COUNT(*) FROM dead_letters WHERE reason = :r", r=reason)


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    Loader(engine, batch_size=113).ingest(dirty_logs(tmp_path / "logs"))
    refresh_dirty(engine)
    return engine


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def _event(sid: str, sensor: str, ts: str, eventid: str, **fields: Any) -> dict[str, Any]:
    return {"eventid": eventid, "session": sid, "sensor": sensor, "timestamp": ts, **fields}


def _session(sid: str, sensor: str, day: date, start: str = "12:00:00") -> list[dict[str, Any]]:
    ts = f"{day}T{start}.000000Z"
    return [
        _event(sid, sensor, ts, "cowrie.session.connect", src_ip="198.51.100.7", protocol="ssh"),
        _event(sid, sensor, ts, "cowrie.login.failed", username="root", password="x"),
    ]


def test_reports_stay_identical_and_check_stays_clean(loaded: Engine) -> None:
    before = all_reports(loaded)
    assert raw_before(loaded, DAY) > 0
    stats = prune(loaded, DAY)
    assert stats.events_deleted == stats.events_to_delete > 0
    assert raw_before(loaded, DAY) == 0
    # PostgreSQL drops February whole; March 1 goes by DELETE.
    expected = ["raw_events_p202402"] if loaded.dialect.name == "postgresql" else []
    assert stats.partitions_dropped == expected
    assert all_reports(loaded) == before
    assert check(loaded) == []
    # A full rebuild starts at the watermark: the pruned days keep their rollups.
    rebuilt = rebuild_all(loaded)
    assert rebuilt.frozen_before == DAY
    assert all_reports(loaded) == before
    assert check(loaded) == []
    with loaded.connect() as conn:
        assert retention.read(conn) == retention.Watermark(DAY, DAY)


def test_dirty_buckets_of_pruned_days_are_refreshed_first(engine: Engine, tmp_path: Path) -> None:
    Loader(engine, batch_size=113).ingest(dirty_logs(tmp_path / "logs"))
    fresh = count(engine, "SELECT COUNT(*) FROM rollup_dirty WHERE day < :d", d=str(DAY))
    assert fresh > 0  # nothing refreshed yet
    stats = prune(engine, DAY)
    assert stats.buckets_refreshed == fresh
    refresh_dirty(engine)
    assert check(engine) == []
    # The pruned days hold what the live views held before the raw events went.
    assert count(engine, "SELECT COUNT(*) FROM daily_credentials WHERE day < :d", d=str(DAY)) > 0


def test_a_late_event_for_a_pruned_day_is_a_dead_letter(loaded: Engine, tmp_path: Path) -> None:
    prune(loaded, DAY)
    before = all_reports(loaded)
    late = _write(
        tmp_path / "late" / "cowrie.json",
        [
            *_session("late0001", "honeypot-a", DAY - timedelta(days=2)),  # a pruned day
            *_session("new00001", "honeypot-a", DAY + timedelta(days=1)),  # a day kept
        ],
    )
    stats = Loader(loaded).ingest([late])
    assert stats.dead_letters[retention.PRUNED_DAY] == 2
    assert stats.events_new == 2
    refresh_dirty(loaded)
    assert check(loaded) == []
    assert ended_before(all_reports(loaded), DAY) == ended_before(before, DAY) != {}
    assert (
        count(loaded, "SELECT COUNT(*) FROM session_summaries WHERE session_id = 'late0001'") == 0
    )
    assert (
        count(loaded, "SELECT COUNT(*) FROM session_summaries WHERE session_id = 'new00001'") == 1
    )


def test_a_session_straddling_the_day_is_pruned_whole(engine: Engine, tmp_path: Path) -> None:
    eve = DAY - timedelta(days=1)
    straddling = [
        *_session("strad001", "honeypot-a", eve, "23:59:50"),
        _event("strad001", "honeypot-a", f"{DAY}T00:00:20Z", "cowrie.command.input", input="ls"),
        _event("strad001", "honeypot-a", f"{DAY}T00:00:30Z", "cowrie.session.closed"),
    ]
    other = _session("after001", "honeypot-b", DAY, "00:00:25")
    Loader(engine).ingest([_write(tmp_path / "a" / "cowrie.json", [*straddling, *other])])
    refresh_dirty(engine)
    summary = "SELECT command_count FROM session_summaries WHERE session_id = 'strad001'"
    assert count(engine, summary) == 1
    before = all_reports(engine)
    stats = prune(engine, DAY)
    assert stats.straddling_sessions == 1
    assert stats.events_deleted == 4
    assert count(engine, "SELECT COUNT(*) FROM raw_events WHERE session_id = 'strad001'") == 0
    assert count(engine, "SELECT COUNT(*) FROM raw_events WHERE session_id = 'after001'") == 2
    assert count(engine, summary) == 1  # the summary stays whole
    # A late event of the straddling session, after DAY, cannot be folded in any more.
    late = _event("strad001", "honeypot-a", f"{DAY}T00:01:00Z", "cowrie.command.input", input="w")
    run = Loader(engine).ingest([_write(tmp_path / "b" / "cowrie.json", [late])])
    assert run.dead_letters[retention.PRUNED_DAY] == 1
    assert count(engine, summary) == 1
    refresh_dirty(engine)
    assert all_reports(engine) == before
    assert check(engine) == []


def test_a_new_session_reusing_a_pruned_session_id_leaves_it_alone(
    loaded: Engine, tmp_path: Path
) -> None:
    with loaded.connect() as conn:
        sensor, session_id = conn.execute(
            text("SELECT sensor, session_id FROM session_summaries WHERE first_day < :d LIMIT 1"),
            {"d": str(DAY)},
        ).one()
    prune(loaded, DAY)
    before = all_reports(loaded)
    other = "sensor-z" if sensor != "sensor-z" else "sensor-y"
    events = _session(session_id, other, DAY + timedelta(days=1))
    stats = Loader(loaded).ingest([_write(tmp_path / "n" / "cowrie.json", events)])
    assert stats.events_new == 2 and not stats.dead_letters
    refresh_dirty(loaded)
    assert check(loaded) == []
    keys = "SELECT COUNT(*) FROM session_summaries WHERE session_id = :s"
    assert count(loaded, keys, s=session_id) == 2
    assert ended_before(all_reports(loaded), DAY) == ended_before(before, DAY) != {}


def test_prune_again_is_idempotent_and_the_watermark_never_moves_back(loaded: Engine) -> None:
    prune(loaded, DAY)
    before = all_reports(loaded)
    again = prune(loaded, DAY)
    assert (again.events_to_delete, again.events_deleted) == (0, 0)
    earlier = prune(loaded, DAY - timedelta(days=2))
    assert earlier.raw_before == DAY and earlier.previous == DAY
    assert earlier.events_deleted == 0
    assert all_reports(loaded) == before
    assert check(loaded) == []


def test_a_stopped_prune_is_finished_by_the_next(loaded: Engine) -> None:
    before = all_reports(loaded)
    calls = []

    def stop(stats: Any) -> None:
        if stats.phase == "delete" and stats.events_deleted:
            calls.append(stats.events_deleted)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prune(loaded, DAY, batch_rows=100, on_progress=stop)
    assert raw_before(loaded, DAY) > 0  # stopped part-way
    with loaded.connect() as conn:
        assert retention.read(conn) == retention.Watermark(DAY, None)
    assert all_reports(loaded) == before  # frozen already: nothing shows
    prune(loaded, DAY)
    assert raw_before(loaded, DAY) == 0
    assert all_reports(loaded) == before
    assert check(loaded) == []


def test_dry_run_changes_nothing(loaded: Engine) -> None:
    events = count(loaded, "SELECT COUNT(*) FROM raw_events")
    stats = prune(loaded, DAY, dry_run=True)
    assert stats.events_to_delete >= raw_before(loaded, DAY) > 0
    assert stats.events_deleted == 0
    assert count(loaded, "SELECT COUNT(*) FROM raw_events") == events
    with loaded.connect() as conn:
        assert retention.pruned_before(conn) is None
    real = prune(loaded, DAY)
    assert real.events_deleted == stats.events_to_delete


def test_a_day_after_today_is_refused(loaded: Engine) -> None:
    with pytest.raises(PruneError, match="after today"):
        prune(loaded, date(2024, 3, 5), today=date(2024, 3, 4))


def test_prune_while_an_ingest_runs(loaded: Engine, tmp_path: Path) -> None:
    """Another process's ingest (its own engine) loads days after DAY while the prune runs:
    nothing of it is lost, the pruned days stay frozen, the check stays clean."""
    before = all_reports(loaded)
    first = DAY + timedelta(days=10)
    events = [
        e
        for i in range(600)
        for e in _session(f"conc{i:04d}", "honeypot-c", first + timedelta(days=i % 5))
    ]
    path = _write(tmp_path / "c" / "cowrie.json", events)
    other = create_engine_for_url(loaded.url.render_as_string(hide_password=False))
    result: list[Any] = []

    def ingest() -> None:
        try:
            result.append(Loader(other, batch_size=100).ingest([path]))
        except BaseException as exc:  # pragma: no cover - reported below
            result.append(exc)

    thread = threading.Thread(target=ingest)
    thread.start()
    stats = prune(loaded, DAY, batch_rows=200)
    thread.join()
    other.dispose()
    assert not isinstance(result[0], BaseException), result[0]
    assert result[0].events_new == len(events)
    assert stats.events_deleted > 0 and raw_before(loaded, DAY) == 0
    assert count(loaded, "SELECT COUNT(*) FROM raw_events WHERE sensor = 'honeypot-c'") == len(
        events
    )
    refresh_dirty(loaded)
    assert check(loaded) == []
    assert ended_before(all_reports(loaded), first) == ended_before(before, first)


def test_cli_prune_and_what_needs_raw_events(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = loaded.url.render_as_string(hide_password=False)
    monkeypatch.setenv("COWRIE_STATUS_DIR", str(tmp_path / "status"))
    monkeypatch.delenv("COWRIE_RETENTION_RAW_DAYS", raising=False)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)

    missing = run("prune")
    assert missing.exit_code == 1
    assert "give --raw-before DAY, or set COWRIE_RETENTION_RAW_DAYS" in missing.output
    monkeypatch.setenv("COWRIE_RETENTION_RAW_DAYS", "soon")
    bad = run("prune")
    assert bad.exit_code == 1 and "COWRIE_RETENTION_RAW_DAYS='soon'" in bad.output
    monkeypatch.delenv("COWRIE_RETENTION_RAW_DAYS")
    future = run("prune", "--raw-before", "2999-01-01")
    assert future.exit_code == 1 and "is after today" in future.output

    dry = run("prune", "--raw-before", str(DAY), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    done = run("prune", "--raw-before", str(DAY), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["events_deleted"] > 0
    status = json.loads((tmp_path / "status" / "prune.json").read_text())
    assert status["state"] == "finished"

    full = run("refresh-views", "--full", "--check")
    assert full.exit_code == 0, full.output
    said = " ".join(full.output.split())  # as one line, however the terminal wrapped it
    assert f"days before {DAY} are pruned and kept as they are" in said
    assert f"(days before {DAY} are pruned: not compared)" in said
    reread = run("ingest", "--full", "--no-enrich", str(tmp_path / "logs"))
    assert reread.exit_code == 0, reread.output
    said = " ".join(reread.output.split())
    assert f"raw events before {DAY} were pruned; --full re-reads the files" in said
    assert dead(loaded) > 0
    refused = run("export", "events", "--start", str(DAY - timedelta(days=1)))
    assert refused.exit_code == 1
    assert f"export events needs raw events, and those of days before {DAY} were pruned" in (
        " ".join(refused.output.split())
    )
    everything = run("export", "events")
    assert everything.exit_code == 0, everything.output
    assert f"raw events before {DAY} were pruned; the export starts there" in everything.stderr
    kept = [json.loads(line) for line in everything.stdout.splitlines()]
    assert kept and min(e["timestamp"][:10] for e in kept) >= str(DAY)
    with loaded.connect() as conn, pytest.raises(retention.PrunedError, match="were pruned"):
        retention.require_raw_events(conn, DAY - timedelta(days=1), "export events")
    with loaded.connect() as conn:
        retention.require_raw_events(conn, DAY, "export events")  # days kept: fine


def test_ingest_applies_the_configured_retention(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    dirty_logs(logs)
    monkeypatch.setenv("COWRIE_STATUS_DIR", str(tmp_path / "status"))
    plain = create_engine_for_url(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    upgrade(plain)
    Loader(plain).ingest(sorted(p for p in logs.rglob("*") if p.is_file()))
    refresh_dirty(plain)
    reference = all_reports(plain)
    plain.dispose()
    # 2024's logs are far older than 30 days: everything is pruned, the reports stay.
    monkeypatch.setenv("COWRIE_RETENTION_RAW_DAYS", "30")
    result = CliRunner().invoke(
        cli, ["--db", url, "ingest", "--no-enrich", "--json", str(logs)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["prune"]["events_deleted"] > 0
    assert count(engine, "SELECT COUNT(*) FROM raw_events") == 0
    assert all_reports(engine) == reference
    assert check(engine) == []


def test_sqlite_gives_the_space_back(tmp_path: Path) -> None:
    """A new database is INCREMENTAL already; an old one gets one VACUUM that switches it."""
    import sqlite3
    from contextlib import closing

    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).close()  # created before the setting: auto_vacuum NONE
    plain = sqlite3.connect(path)
    plain.execute("PRAGMA auto_vacuum = NONE")
    plain.execute("CREATE TABLE t (x)")  # fixes the mode
    plain.close()
    engine = create_engine_for_url(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t")
    upgrade(engine)
    Loader(engine).ingest(dirty_logs(tmp_path / "logs"))
    refresh_dirty(engine)
    first = prune(engine, DAY)
    assert first.vacuum.startswith("full")
    assert first.bytes_after is not None and first.bytes_before is not None
    assert first.bytes_after < first.bytes_before
    with closing(sqlite3.connect(path)) as reader:
        assert reader.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    second = prune(engine, DAY + timedelta(days=2))
    assert second.vacuum == "incremental"
    assert second.bytes_after is not None and second.bytes_before is not None
    assert second.bytes_after < second.bytes_before
    assert check(engine) == []
    engine.dispose()


def test_the_migration_keeps_reports_and_goes_back(empty_db_url: str, tmp_path: Path) -> None:
    engine = create_engine_for_url(empty_db_url)
    try:
        upgrade(engine)
        Loader(engine).ingest(dirty_logs(tmp_path / "logs"))
        refresh_dirty(engine)
        before = all_reports(engine)
        downgrade(engine, "0016")  # the revision before 0017
        assert current_revision(engine) == "0016"
        assert all_reports(engine) == before
        upgrade(engine)
        assert all_reports(engine) == before
        with engine.connect() as conn:
            assert retention.read(conn) == retention.Watermark(None, None)
    finally:
        engine.dispose()
