"""Several loaders on one PostgreSQL database at once give what one loader gives.

Real PostgreSQL, real concurrency: loaders run in threads with engines of their own (each
batch is a transaction on its own connection), or as the processes of ``ingest --jobs``.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from click.testing import CliRunner
from dbhelpers import rollup_snapshot, snapshot
from rich.console import Console
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from cowrieprocessor.cli.ingest import _summary_table
from cowrieprocessor.cli.main import cli
from cowrieprocessor.db import partitions
from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.retry import with_retries
from cowrieprocessor.enrichment.providers.offline import Offline
from cowrieprocessor.enrichment.runner import ProviderRun, run_provider
from cowrieprocessor.ingest.loader import IngestStats, Loader
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.pool import group_by_sensor
from cowrieprocessor.ingest.reader import discover
from cowrieprocessor.rollups.refresh import check, refresh_dirty
from cowrieprocessor.samples import SampleConfig, write_sample_logs
from cowrieprocessor.testing.postgres import create_database, drop_database

pytestmark = pytest.mark.postgres

SENSORS = ("alpha", "bravo", "charlie", "delta")
#: Small batches: many transactions, so the loaders' batches interleave.
BATCH = 300


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four sensors' files over three days (compressed, plain, sessions across midnight,
    events without sensor, duplicates and bad lines)."""
    out = tmp_path_factory.mktemp("logs")
    config = SampleConfig(seed=16, days=3, sessions_per_day=240, sensors=SENSORS)
    write_sample_logs(out, config)
    return discover([str(out)])


@pytest.fixture(scope="module")
def reference(logs: list[Path], pg_url: str, pg_template: str) -> Iterator[dict[str, Any]]:
    """The tables of one loader's run over the logs, and its count of new events."""
    url = make_url(pg_url).set(database=f"cowrie_t_{uuid.uuid4().hex[:12]}")
    url_text = url.render_as_string(hide_password=False)
    create_database(url_text, template=pg_template)
    engine = create_engine_for_url(url_text)
    try:
        stats = Loader(engine, batch_size=BATCH).ingest(logs)
        yield {"tables": _loaded(url_text), "events_new": stats.events_new}
    finally:
        engine.dispose()
        drop_database(url_text)


def _tables(engine: Engine) -> dict[str, Any]:
    assert check(engine) == []  # refresh-views --check is clean
    return snapshot(engine) | rollup_snapshot(engine)


def _at_once(url: str, jobs: Sequence[list[Path]]) -> list[IngestStats]:
    """Run a loader per list of files, all starting together; their statistics."""
    barrier = threading.Barrier(len(jobs))
    results: list[IngestStats | BaseException | None] = [None] * len(jobs)

    def run(index: int, files: list[Path]) -> None:
        engine = create_engine_for_url(url)
        try:
            loader = Loader(engine, batch_size=BATCH)
            barrier.wait()
            results[index] = loader.ingest(files)
        except BaseException as exc:  # pragma: no cover - reported below
            results[index] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=job) for job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert not failed, failed
    return [r for r in results if isinstance(r, IngestStats)]


def _loaded(url: str) -> dict[str, Any]:
    engine = create_engine_for_url(url)
    try:
        refresh_dirty(engine)
        return _tables(engine)
    finally:
        engine.dispose()


def test_loaders_of_different_sensors_at_once_equal_one_loader(
    pg_databases: Callable[[], str], logs: list[Path], reference: dict[str, Any]
) -> None:
    url = pg_databases()
    groups = group_by_sensor(logs, 4)
    assert len(groups) == 4  # one per sensor
    stats = _at_once(url, groups)
    assert sum(s.events_new for s in stats) == reference["events_new"]
    assert _loaded(url) == reference["tables"]


def test_loaders_of_the_same_files_at_once_equal_one_loader(
    pg_databases: Callable[[], str], logs: list[Path], reference: dict[str, Any]
) -> None:
    url = pg_databases()
    # Three loaders over every file: two in the same order, one backwards.
    stats = _at_once(url, [logs, logs, logs[::-1]])
    # Each event is new to exactly one of them; each file read whole by one of them.
    assert sum(s.events_new for s in stats) == reference["events_new"]
    assert sum(s.files - s.files_unchanged for s in stats) == len(logs)
    assert _loaded(url) == reference["tables"]
    again = _at_once(url, [logs, logs])  # everything is unchanged now
    assert [s.files_unchanged for s in again] == [len(logs)] * 2
    assert _loaded(url) == reference["tables"]


def test_sessions_across_files_split_over_loaders_equal_one_loader(
    pg_databases: Callable[[], str], logs: list[Path], reference: dict[str, Any]
) -> None:
    """Every file its own loader: a sensor's sessions crossing midnight are written by two
    loaders at once, which take turns on those session ids only."""
    url = pg_databases()
    stats = _at_once(url, [[path] for path in logs])
    assert sum(s.events_new for s in stats) == reference["events_new"]
    assert _loaded(url) == reference["tables"]


def test_ingest_jobs_runs_loaders_in_processes(
    pg_databases: Callable[[], str],
    logs: list[Path],
    reference: dict[str, Any],
    tmp_path: Path,
) -> None:
    url = pg_databases()
    status = tmp_path / "status"
    base = ["--db", url, "--status-dir", str(status)]
    result = CliRunner().invoke(
        cli, [*base, "ingest", "--jobs", "2", "--no-enrich", "--json", *map(str, logs)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events_new"] == reference["events_new"]
    assert summary["files"] == len(logs) and not summary["interrupted"]
    assert summary["refresh"]["buckets"] > 0  # one refresh, after every loader
    for phase in ("ingest-1", "ingest-2", "ingest"):
        doc = json.loads((status / f"{phase}.json").read_text())
        assert doc["state"] == "finished", doc
    loaders = [json.loads((status / f"ingest-{n}.json").read_text()) for n in (1, 2)]
    assert sum(d["counters"]["events_new"] for d in loaders) == reference["events_new"]
    checked = CliRunner().invoke(cli, [*base, "refresh-views", "--check"])
    assert checked.exit_code == 0 and "every rollup equals its live view" in checked.output
    assert _loaded(url) == reference["tables"]
    shown = CliRunner().invoke(cli, [*base, "monitor", "--once"])
    assert "ingest-1" in shown.output and "ingest-2" in shown.output


def test_ctrl_c_stops_every_loader_and_the_next_run_finishes(
    pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    write_sample_logs(logs, SampleConfig(seed=3, days=2, sessions_per_day=1500, sensors=SENSORS))
    url = pg_databases()
    status = tmp_path / "status"
    cmd = [sys.executable, "-m", "cowrieprocessor.cli.main", "--db", url]
    cmd += ["--status-dir", str(status), "ingest", "--jobs", "2", "--no-enrich", "--json"]
    cmd += ["--batch-size", "100", str(logs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    engine = create_engine_for_url(url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not _stored(engine):
            time.sleep(0.05)
        loaders = psutil.Process(proc.pid).children()
        assert len(loaders) == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        summary = json.loads(out)
        assert summary["interrupted"] and summary["events_new"] > 0
        assert not [p for p in loaders if p.is_running() and p.status() != "zombie"]
        for phase in ("ingest", "ingest-1", "ingest-2"):
            state = json.loads((status / f"{phase}.json").read_text())["state"]
            assert state in ("interrupted", "finished"), (phase, state)
        assert summary["events_new"] == _stored(engine)
    finally:
        engine.dispose()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    reference = pg_databases()
    one = create_engine_for_url(reference)
    Loader(one).ingest(discover([str(logs)]))
    one.dispose()
    assert _loaded(url) == _loaded(reference)


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM raw_events").scalar_one())


def test_ingest_jobs_on_sqlite_runs_one_loader(
    logs: list[Path], reference: dict[str, Any], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    base = ["--db", url, "--status-dir", str(tmp_path / "st")]
    result = CliRunner().invoke(
        cli, [*base, "ingest", "--jobs", "4", "--no-enrich", "--json", *map(str, logs)]
    )
    assert result.exit_code == 0, result.output
    assert "SQLite takes one writer at a time: --jobs 4 runs one loader" in result.stderr
    assert json.loads(result.stdout)["events_new"] == reference["events_new"]
    assert not (tmp_path / "st" / "ingest-1.json").exists()


def test_a_deadlocked_batch_is_written_again(
    pg_databases: Callable[[], str], logs: list[Path]
) -> None:
    """Another transaction holds a dirty mark the batch needs and then asks for a session
    id the batch has claimed: PostgreSQL aborts the batch to break the deadlock, and the
    loader writes it again, with the same result as a run nobody disturbed."""
    path = next(p for p in logs if p.name == "cowrie.json" and p.parent.name == "alpha")
    first = next(e for e in map(_event, path.read_bytes().splitlines()) if e.get("session"))
    day = date.fromisoformat(first["timestamp"][:10])
    url, undisturbed = pg_databases(), pg_databases()
    engine = create_engine_for_url(url)
    loader = Loader(engine)  # one batch: the file
    try:
        with engine.connect() as other:
            held = other.begin()
            # Looks for deadlocks after 10 s: the loader (after 1 s) is the one aborted.
            other.exec_driver_sql("SET deadlock_timeout = '10s'")
            for offset in (-1, 0, 1):  # the marks of the days of the file's sessions
                other.exec_driver_sql(
                    "INSERT INTO rollup_dirty (day, sensor, generation) VALUES (%s, %s, 1)",
                    (day + timedelta(days=offset), "alpha"),
                )
            loading = _Background(lambda: loader.ingest([path]))
            _wait_for_a_lock_wait(other)  # the batch waits for a mark held here
            other.exec_driver_sql(  # and this waits for the batch: a deadlock
                "INSERT INTO session_claims (session_id) VALUES (%s)", (first["session"],)
            )
            held.rollback()
            stats = loading.result()
    finally:
        engine.dispose()
    assert isinstance(stats, IngestStats), stats
    assert stats.retries == 1
    shown = Console(width=120, record=True, file=io.StringIO())
    shown.print(_summary_table(stats))
    [row] = [line for line in shown.export_text().splitlines() if "written again" in line]
    assert "│ 1 (after a deadlock with another writer)" in row
    plain = create_engine_for_url(undisturbed)
    Loader(plain).ingest([path])
    plain.dispose()
    assert _loaded(url) == _loaded(undisturbed)


class _Background:
    """Runs ``work`` on a thread of its own; :meth:`result` waits for it and returns what it
    returned or raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self._outcome.append(work())
        except BaseException as exc:  # pragma: no cover - the test reports it
            self._outcome.append(exc)

    def result(self) -> Any:
        self._thread.join()
        [outcome] = self._outcome
        return outcome


def _event(line: bytes) -> dict[str, Any]:
    try:
        event = load_json(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _wait_for_a_lock_wait(conn: Any) -> None:
    """Wait until another backend of the database waits for a lock."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Within a transaction the activity view is read once, unless asked again.
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        waiting = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        ).scalar_one()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the loader never waited for the mark")


def test_retries_stop_at_other_errors_and_after_the_last_attempt() -> None:
    class Deadlock(Exception):
        sqlstate = "40P01"

    calls: list[int] = []

    def deadlocks_twice() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise Deadlock
        return "written"

    pauses: list[float] = []
    assert with_retries(deadlocks_twice, sleep=pauses.append) == "written"
    assert len(pauses) == 2 and pauses[1] > pauses[0] * 0.5
    with pytest.raises(Deadlock):
        with_retries(lambda: (_ for _ in ()).throw(Deadlock()), attempts=3, sleep=pauses.append)
    with pytest.raises(ValueError):
        with_retries(lambda: (_ for _ in ()).throw(ValueError()), sleep=pauses.append)


def test_a_deadlocked_partition_creation_is_done_again(
    pg_databases: Callable[[], str], logs: list[Path]
) -> None:
    """A transaction reading ``raw_events`` holds up the creation of the batch's month
    partition, then asks for the partition lock the loader holds: PostgreSQL aborts the
    creation to break the deadlock, and the loader creates the partition again."""
    path = next(p for p in logs if p.name == "cowrie.json" and p.parent.name == "alpha")
    url, undisturbed = pg_databases(), pg_databases()
    engine = create_engine_for_url(url)
    try:
        with engine.connect() as other:
            held = other.begin()
            other.exec_driver_sql("SET deadlock_timeout = '10s'")  # the loader is the victim
            other.exec_driver_sql("SELECT count(*) FROM raw_events")
            loading = _Background(lambda: Loader(engine).ingest([path]))
            _wait_for_a_lock_wait(other)  # CREATE TABLE ... PARTITION OF waits for this reader
            other.execute(select(func.pg_advisory_xact_lock(partitions.PARTITION_LOCK)))
            held.rollback()
            stats = loading.result()
        with engine.connect() as conn:
            created = partitions.month_partitions(conn)
    finally:
        engine.dispose()
    assert isinstance(stats, IngestStats), stats
    assert stats.retries == 1
    assert created  # the file's months
    plain = create_engine_for_url(undisturbed)
    Loader(plain).ingest([path])
    plain.dispose()
    assert _loaded(url) == _loaded(undisturbed)


def test_a_deadlocked_enrichment_save_is_written_again(
    pg_databases: Callable[[], str], tmp_path: Path
) -> None:
    """Another transaction holds an address's answer the save needs, then asks for one the
    save holds: PostgreSQL aborts the save to break the deadlock, and it is written again."""
    log = tmp_path / "cowrie.json"
    events = [
        {"eventid": "cowrie.session.connect", "timestamp": f"2024-03-05T10:00:0{i}Z",
         "session": f"s{i}", "sensor": "alpha", "src_ip": ip}
        for i, ip in enumerate(["8.8.8.8", "1.1.1.1"])
    ]  # fmt: skip
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    engine = create_engine_for_url(pg_databases())
    Loader(engine).ingest([log])
    hold = (
        "INSERT INTO ip_enrichment (src_ip, provider, status, fetched_at)"
        " VALUES (%s, 'offline', 'error', now())"
    )
    try:
        with engine.connect() as other:
            held = other.begin()
            other.exec_driver_sql("SET deadlock_timeout = '10s'")  # the save is the victim
            other.exec_driver_sql(hold, ("8.8.8.8",))
            enriching = _Background(lambda: run_provider(engine, Offline()))
            _wait_for_a_lock_wait(other)  # the save wrote 1.1.1.1 and waits for 8.8.8.8
            other.exec_driver_sql(hold, ("1.1.1.1",))  # and this waits for the save
            held.rollback()
            run = enriching.result()
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                "SELECT src_ip, status, country FROM ip_enrichment ORDER BY src_ip"
            ).all()
    finally:
        engine.dispose()
    assert isinstance(run, ProviderRun), run
    assert [tuple(r) for r in stored] == [("1.1.1.1", "ok", "AU"), ("8.8.8.8", "ok", "US")]
