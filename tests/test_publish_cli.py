"""``cowrie-report publish``: payloads, idempotence, backfills, retries, exit codes, dry-run,
status files and secrets, against the fake Elasticsearch server over real HTTP."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import upgrade
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.ingest.reader import discover
from cowrieprocessor.rollups.refresh import refresh_dirty
from cowrieprocessor.samples import SampleConfig, write_sample_logs
from cowrieprocessor.testing.es_server import FakeElasticsearch

SAMPLE = SampleConfig(seed=11, days=3, sessions_per_day=25, compress=None, sensorless_events=0)
SENSORS = SAMPLE.sensors
DAYS = ("2024-03-01", "2024-03-02", "2024-03-03")
DAILY = "cowrie.reports.daily-write"
#: Keep every ES_* setting of the developer's shell out of the tests.
CLEAN_ENV: dict[str, str | None] = {
    name: None
    for name in (
        "ES_HOST",
        "ES_USERNAME",
        "ES_PASSWORD",
        "ES_API_KEY",
        "ES_CLOUD_ID",
        "ES_VERIFY_SSL",
        "ES_CA_CERTS",
        "ES_TIMEOUT",
        "ES_INDEX_PREFIX",
        "ES_INDEX_MODE",
        "COWRIE_ES_CONFIG",
        "COWRIE_DB_URL",
        "COWRIE_STATUS_DIR",
    )
}
FAST = ["--retry-backoff", "0", "--es-timeout", "5"]


def _load(url: str, tmp_path: Path) -> None:
    write_sample_logs(tmp_path / "logs", SAMPLE)
    engine = create_engine_for_url(url)
    try:
        Loader(engine).ingest(discover([str(tmp_path / "logs")]))
        refresh_dirty(engine)
    finally:
        engine.dispose()


@pytest.fixture
def loaded(db_url: str, tmp_path: Path) -> str:
    """A database (both dialects) holding three days of two sensors."""
    _load(db_url, tmp_path)
    return db_url


@pytest.fixture
def sqlite_loaded(tmp_path: Path) -> str:
    """The same data in SQLite only, for tests about the ES side."""
    url = f"sqlite:///{tmp_path / 'publish.sqlite'}"
    engine = create_engine_for_url(url)
    upgrade(engine)
    engine.dispose()
    _load(url, tmp_path)
    return url


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def ready(server: FakeElasticsearch) -> FakeElasticsearch:
    """The fake server after ``es-setup``."""
    result = CliRunner().invoke(cli, ["es-setup", "--es-host", server.url], env=CLEAN_ENV)
    assert result.exit_code == 0, result.output
    server.requests.clear()
    return server


def run(url: str, status_dir: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--db", url, "--status-dir", str(status_dir), *args],
        env={**CLEAN_ENV, **(env or {})},
        catch_exceptions=False,
    )


def publish(
    url: str,
    status_dir: Path,
    server: FakeElasticsearch,
    *args: str,
    env: dict[str, str] | None = None,
) -> Result:
    return run(url, status_dir, "publish", *args, "--es-host", server.url, *FAST, env=env)


def show_json(url: str, tmp_path: Path, *args: str) -> Any:
    result = run(url, tmp_path / "show-status", "show", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def status_of(status_dir: Path) -> dict[str, Any]:
    payload = json.loads((status_dir / "reporting.json").read_text())
    aggregate = json.loads((status_dir / "status.json").read_text())
    assert aggregate["reporting"] == payload
    return payload


def without_generated_at(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "generated_at"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- publishing


def test_publish_daily_equals_show_json_and_rerun_overwrites(
    loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    status_dir = tmp_path / "status"
    result = publish(loaded, status_dir, ready, "daily", "2024-03-02")
    assert result.exit_code == 0, result.output
    assert "1 documents built, 1 accepted, 0 failed, 0 retries" in result.stdout

    stored = ready.documents(DAILY)
    assert list(stored) == ["aggregate:daily:2024-03-02"]
    expected = show_json(loaded, tmp_path, "daily", "2024-03-02")
    assert without_generated_at(stored["aggregate:daily:2024-03-02"]) == without_generated_at(
        expected
    )

    status = status_of(status_dir)
    assert status["phase"] == "reporting" and status["state"] == "finished"
    assert status["counters"] == {
        "reports_total": 1,
        "reports_built": 1,
        "reports_published": 1,
        "reports_failed": 0,
        "reports_written": 0,
        "bulk_attempts": 1,
        "retries": 0,
    }
    assert set(status["rate"]) == {"reports_built", "reports_published"}
    details = status["details"]
    assert details["report_type"] == "daily"
    assert details["date_range"] == {"start": "2024-03-02", "end": "2024-03-02"}
    assert details["dry_run"] is False and details["index_mode"] == "alias"
    assert "current_period" not in details
    assert details["summary"]["accepted"] == 1
    assert status["errors"] == []

    again = publish(loaded, status_dir, ready, "daily", "2024-03-02")
    assert again.exit_code == 0, again.output
    assert list(ready.documents(DAILY)) == ["aggregate:daily:2024-03-02"]
    assert ready.version_of(DAILY, "aggregate:daily:2024-03-02") == 2


def test_backfill_all_sensors_is_complete_and_idempotent(
    loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    status_dir = tmp_path / "status"
    args = ("daily", "--start", DAYS[0], "--end", DAYS[-1], "--all-sensors", "--batch-size", "4")
    result = publish(loaded, status_dir, ready, *args)
    assert result.exit_code == 0, result.output
    expected_ids = {f"{s}:daily:{d}" for d in DAYS for s in ("aggregate", *SENSORS)}
    assert set(ready.documents(DAILY)) == expected_ids
    assert len(ready.bulk_requests()) == 3  # 9 documents in batches of 4
    status = status_of(status_dir)
    assert status["counters"]["reports_published"] == 9
    assert status["counters"]["bulk_attempts"] == 3
    assert status["details"]["date_range"] == {"start": DAYS[0], "end": DAYS[-1]}
    assert status["details"]["sensors"] == ["aggregate", *SENSORS]

    again = publish(loaded, status_dir, ready, *args)
    assert again.exit_code == 0, again.output
    assert set(ready.documents(DAILY)) == expected_ids
    assert sum(1 for _ in ready.all_documents()) == 9
    assert all(ready.version_of(DAILY, doc_id) == 2 for doc_id in expected_ids)


def test_weekly_for_one_sensor_equals_show(
    sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    result = publish(
        sqlite_loaded, tmp_path / "status", ready, "weekly", "2024-W09", "--sensor", SENSORS[1]
    )
    assert result.exit_code == 0, result.output
    stored = ready.documents("cowrie.reports.weekly-write")
    doc_id = f"{SENSORS[1]}:weekly:2024-W09"
    assert list(stored) == [doc_id]
    expected = show_json(sqlite_loaded, tmp_path, "weekly", "2024-W09", "--sensor", SENSORS[1])
    assert without_generated_at(stored[doc_id]) == without_generated_at(expected)


def test_transient_failures_are_retried_and_counted(
    sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    status_dir = tmp_path / "status"
    ready.fail_requests(times=1, status=503)
    ready.fail_items({f"{SENSORS[0]}:daily:2024-03-01"}, times=2, status=429)
    result = publish(sqlite_loaded, status_dir, ready, "daily", "2024-03-01", "--all-sensors")
    assert result.exit_code == 0, result.output
    assert "3 accepted, 0 failed, 3 retries" in result.stdout
    assert len(ready.documents(DAILY)) == 3
    status = status_of(status_dir)
    assert status["state"] == "finished"
    assert status["counters"]["retries"] == 3
    assert status["counters"]["bulk_attempts"] == 4
    assert status["counters"]["reports_published"] == 3


def test_permanent_error_fails_one_document_with_exit_1(
    sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    status_dir = tmp_path / "status"
    bad = f"{SENSORS[1]}:daily:2024-03-02"
    ready.reject_documents({bad}, reason="failed to parse field [sessions.total]")
    result = publish(
        sqlite_loaded,
        status_dir,
        ready,
        "daily",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-02",
        "--all-sensors",
    )
    assert result.exit_code == 1
    assert "6 documents built, 5 accepted, 1 failed" in result.stdout
    assert "1 documents not accepted" in result.stderr
    failure_lines = [line for line in result.stderr.splitlines() if line.startswith(bad)]
    assert failure_lines == [
        f"{bad}\t400\tHTTP 400 mapper_parsing_exception: failed to parse field [sessions.total]"
    ]
    assert "Traceback" not in result.output
    assert len(ready.documents(DAILY)) == 5
    status = status_of(status_dir)
    assert status["state"] == "failed"
    assert status["counters"]["reports_failed"] == 1
    assert status["counters"]["retries"] == 0
    [error] = status["errors"]
    assert error["reason"] == "mapper_parsing_exception" and bad in error["message"]


def test_retries_exhausted_is_a_failure(
    sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    doc_id = "aggregate:daily:2024-03-01"
    ready.fail_items({doc_id}, times=5, status=429)
    result = publish(
        sqlite_loaded, tmp_path / "status", ready, "daily", "2024-03-01", "--retry-attempts", "3"
    )
    assert result.exit_code == 1
    assert doc_id in result.stderr and "gave up after 3 attempts" in result.stderr
    assert status_of(tmp_path / "status")["counters"]["retries"] == 2


def test_dated_mode_needs_no_setup(
    sqlite_loaded: str, server: FakeElasticsearch, tmp_path: Path
) -> None:
    result = publish(
        sqlite_loaded, tmp_path / "status", server, "monthly", "2024-03", "--index-mode", "dated"
    )
    assert result.exit_code == 0, result.output
    assert list(server.documents("cowrie.reports.monthly-2024")) == ["aggregate:monthly:2024-03"]


# --------------------------------------------------------------------------- errors


def test_missing_alias_is_one_line(
    sqlite_loaded: str, server: FakeElasticsearch, tmp_path: Path
) -> None:
    status_dir = tmp_path / "status"
    result = publish(sqlite_loaded, status_dir, server, "daily", "2024-03-01")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: write alias {DAILY} does not exist; run es-setup first (or use index mode 'dated')"
    ]
    assert server.bulk_requests() == []
    status = status_of(status_dir)
    assert status["state"] == "failed"
    assert status["counters"]["reports_built"] == 0  # checked before building anything
    assert "setup" in {error["reason"] for error in status["errors"]}


@pytest.mark.parametrize("mode", ["alias", "dated"])
def test_connection_failure_is_one_line(sqlite_loaded: str, tmp_path: Path, mode: str) -> None:
    status_dir = tmp_path / "status"
    result = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "daily",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-03",
        "--batch-size",
        "1",
        "--es-host",
        f"http://127.0.0.1:{closed_port()}",
        "--index-mode",
        mode,
        "--retry-attempts",
        "2",
        *FAST,
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "connection" in error_lines[0].lower()
    status = status_of(status_dir)
    assert status["state"] == "failed"
    # alias mode fails at the alias check, dated mode stops after the first batch
    assert status["counters"]["reports_built"] == (0 if mode == "alias" else 1)
    assert status["counters"]["reports_published"] == 0


def test_alias_check_refused_credentials_is_one_clear_line(
    sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path
) -> None:
    ready.require_auth(username="cowrie", password="right-password")
    status_dir = tmp_path / "status"
    result = publish(
        sqlite_loaded,
        status_dir,
        ready,
        "daily",
        "2024-03-01",
        "--es-username",
        "cowrie",
        "--es-password",
        "wrong-password",
    )
    assert result.exit_code == 1
    # a HEAD answer has no body: the status line's phrase, never "HTTP 401 None"
    assert result.stderr.splitlines() == [
        f"Error: cannot check write alias {DAILY}: HTTP 401 Unauthorized"
    ]
    assert ready.bulk_requests() == []
    status = status_of(status_dir)
    assert status["state"] == "failed" and status["counters"]["reports_built"] == 0
    [setup] = [e for e in status["errors"] if e["reason"] == "setup"]
    assert setup["message"] == f"cannot check write alias {DAILY}: HTTP 401 Unauthorized"


def test_bulk_refused_credentials_say_their_reason_once(
    sqlite_loaded: str, server: FakeElasticsearch, tmp_path: Path
) -> None:
    server.require_auth(username="cowrie", password="right-password")
    status_dir = tmp_path / "status"
    result = publish(
        sqlite_loaded,
        status_dir,
        server,
        "daily",
        "--start",
        DAYS[0],
        "--end",
        DAYS[-1],
        "--batch-size",
        "1",
        "--index-mode",
        "dated",
        "--es-username",
        "cowrie",
        "--es-password",
        "wrong-password",
    )
    assert result.exit_code == 1
    reason = (
        "HTTP 401 security_exception: "
        "unable to authenticate user [cowrie] for REST request [/_bulk]"
    )
    doc_id = f"aggregate:daily:{DAYS[0]}"
    # the first batch is refused as a whole: the run stops there instead of trying the rest
    assert result.stderr.splitlines() == [
        "1 documents not accepted:",
        "document_id\tstatus\treason",
        f"{doc_id}\t401\t{reason}",
        f"Error: cannot publish to Elasticsearch: {reason}",
    ]
    assert "1 documents built, 0 accepted, 1 failed" in result.stdout
    assert "stopped early, 2 reports not built" in result.stdout
    assert len(server.bulk_requests()) == 1
    assert list(server.all_documents()) == []
    errors = {e["reason"]: e["message"] for e in status_of(status_dir)["errors"]}
    assert errors["security_exception"] == f"{doc_id}: {reason}"
    assert errors["stopped"] == f"cannot publish to Elasticsearch: {reason}"


def test_usage_errors(sqlite_loaded: str, tmp_path: Path) -> None:
    status_dir = tmp_path / "status"
    both = run(sqlite_loaded, status_dir, "publish", "daily", "2024-03-01", "--start", "2024-03-01")
    assert both.exit_code == 2 and "not both" in both.stderr
    end_only = run(sqlite_loaded, status_dir, "publish", "daily", "--end", "2024-03-01")
    assert end_only.exit_code == 2
    output = run(sqlite_loaded, status_dir, "publish", "daily", "--output", str(tmp_path / "x"))
    assert output.exit_code == 2 and "--dry-run" in output.stderr
    sensors = run(sqlite_loaded, status_dir, "publish", "daily", "--sensor", "a", "--all-sensors")
    assert sensors.exit_code == 2
    bad_period = run(sqlite_loaded, status_dir, "publish", "daily", "2024-13-01", "--dry-run")
    assert bad_period.exit_code == 1 and "Invalid daily period" in bad_period.stderr
    backwards = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "daily",
        "--start",
        "2024-03-03",
        "--end",
        "2024-03-01",
        "--dry-run",
    )
    assert backwards.exit_code == 1 and "after the end date" in backwards.stderr
    unknown = run(sqlite_loaded, status_dir, "publish", "daily", "--sensor", "nope", "--dry-run")
    assert unknown.exit_code == 1 and "unknown sensor 'nope'" in unknown.stderr


# --------------------------------------------------------------------------- dry-run


def _pairs(text: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    lines = text.splitlines()
    assert len(lines) % 2 == 0
    return [(json.loads(lines[i]), json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_dry_run_to_stdout_never_connects(sqlite_loaded: str, tmp_path: Path) -> None:
    status_dir = tmp_path / "status"
    result = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "daily",
        "2024-03-02",
        "--dry-run",
        "--es-host",
        f"http://127.0.0.1:{closed_port()}",
        "--es-username",
        "u",
        "--es-password",
        "env:NOT_SET_ANYWHERE_X",  # never resolved: a dry-run needs no credentials
    )
    assert result.exit_code == 0, result.output
    [(action, source)] = _pairs(result.stdout)
    assert action == {"index": {"_index": DAILY, "_id": "aggregate:daily:2024-03-02"}}
    expected = show_json(sqlite_loaded, tmp_path, "daily", "2024-03-02")
    assert without_generated_at(source) == without_generated_at(expected)
    assert "dry-run: 1 documents built, 1 written" in result.stderr

    status = status_of(status_dir)
    assert status["state"] == "finished"
    assert status["details"]["dry_run"] is True and status["details"]["target"] == "stdout"
    assert status["counters"]["reports_built"] == 1
    assert status["counters"]["reports_written"] == 1
    assert status["counters"]["bulk_attempts"] == 0


def test_dry_run_to_directory(sqlite_loaded: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    status_dir = tmp_path / "status"
    result = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "weekly",
        "2024-03-01",
        "--all-sensors",
        "--dry-run",
        "--output",
        str(out_dir),
        "--index-mode",
        "dated",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("dry-run: 3 documents built, 3 written")
    assert sorted(p.name for p in out_dir.iterdir()) == ["weekly.ndjson"]
    pairs = _pairs((out_dir / "weekly.ndjson").read_text())
    assert [a["index"]["_id"] for a, _ in pairs] == [
        f"{s}:weekly:2024-W09" for s in ("aggregate", *SENSORS)
    ]
    assert {a["index"]["_index"] for a, _ in pairs} == {"cowrie.reports.weekly-2024"}
    expected = show_json(sqlite_loaded, tmp_path, "weekly", "2024-W09", "--all-sensors")
    assert [without_generated_at(s) for _, s in pairs] == [
        without_generated_at(d) for d in expected
    ]
    status = status_of(status_dir)
    assert status["details"]["target"] == str(out_dir)
    assert status["counters"]["reports_written"] == 3


# --------------------------------------------------------------------------- secrets


def _all_text(result: Result, status_dir: Path) -> str:
    files = "".join(p.read_text() for p in status_dir.glob("*.json")) if status_dir.exists() else ""
    return result.output + result.stdout + result.stderr + files


def test_secrets_never_leak(sqlite_loaded: str, ready: FakeElasticsearch, tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55word-xyz"
    secret_file = tmp_path / "es-password"
    secret_file.write_text(secret + "\n")
    status_dir = tmp_path / "status"
    references = {"env": "env:COWRIE_TEST_ES_PW", "file": f"file:{secret_file}"}
    env = {"COWRIE_TEST_ES_PW": secret, "ES_USERNAME": "cowrie"}

    for reference in references.values():
        ok = publish(
            sqlite_loaded,
            status_dir,
            ready,
            "daily",
            "2024-03-01",
            "--es-password",
            reference,
            "--es-username",
            "cowrie",
            env=env,
        )
        assert ok.exit_code == 0, ok.output
        assert secret not in _all_text(ok, status_dir)
        auth = ready.requests[-1].headers["authorization"]
        assert base64.b64decode(auth.split()[1]).decode() == f"cowrie:{secret}"

    # a failing run: rejected document, then an unreachable cluster (password in env)
    ready.reject_documents(lambda doc_id, src: True)
    failed = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "daily",
        "2024-03-01",
        "--es-host",
        ready.url,
        *FAST,
        env={**env, "ES_PASSWORD": references["env"]},
    )
    assert failed.exit_code == 1
    assert secret not in _all_text(failed, status_dir)
    down = run(
        sqlite_loaded,
        status_dir,
        "publish",
        "daily",
        "2024-03-01",
        "--es-host",
        f"http://cowrie:{secret}@127.0.0.1:{closed_port()}",
        "--retry-attempts",
        "1",
        *FAST,
    )
    assert down.exit_code == 1 and "Traceback" not in down.output
    assert secret not in _all_text(down, status_dir)

    help_result = run(
        sqlite_loaded, status_dir, "publish", "--help", env={**env, "ES_PASSWORD": secret}
    )
    assert help_result.exit_code == 0
    assert secret not in help_result.output and "COWRIE_TEST_ES_PW" not in help_result.output
