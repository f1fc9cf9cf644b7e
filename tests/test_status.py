"""Tests for StatusEmitter."""

import json
import multiprocessing
import os
import socket
import time

import pytest

from cowrieprocessor.secrets import redact
from cowrieprocessor.status import StatusEmitter


def read(path):
    return json.loads(path.read_text())


def test_disabled_emitter_is_a_cheap_noop(tmp_path):
    status = StatusEmitter("ingest", None)
    assert not status.enabled
    assert status.path is None
    with status:
        status.increment("events")
        status.update({"files": 1}, file="x")
        status.error("bad_json", "oops")
    assert status.counters == {"events": 1, "files": 1}
    assert status.state == "finished"
    assert list(tmp_path.iterdir()) == []


def test_writes_phase_file_and_aggregate(tmp_path):
    with StatusEmitter("ingest", tmp_path, min_interval=0) as status:
        status.update({"events": 10, "files": 1}, file="/logs/cowrie.json", checkpoint=3)
        status.increment("events", 5)
        running = read(tmp_path / "ingest.json")
        assert running["state"] == "running"
        assert running["counters"] == {"events": 15, "files": 1}
    final = read(tmp_path / "ingest.json")
    assert final["state"] == "finished"
    assert final["phase"] == "ingest"
    assert final["pid"] == os.getpid()
    assert final["host"] == socket.gethostname()
    assert final["details"] == {"file": "/logs/cowrie.json", "checkpoint": 3}
    assert final["started_at"].endswith("Z") and final["updated_at"] >= final["started_at"]
    assert final["elapsed_seconds"] >= 0
    assert set(final["rate"]) == {"events", "files"}
    assert read(tmp_path / "status.json") == {"ingest": final}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".status.lock",
        "ingest.json",
        "status.json",
    ]


def test_update_is_throttled_but_flush_and_finish_write(tmp_path):
    status = StatusEmitter("refresh", tmp_path, min_interval=3600, rate_counters=["rows"])
    with status:
        assert read(tmp_path / "refresh.json")["counters"] == {}
        for _ in range(1000):
            assert status.increment("rows") is False
        assert read(tmp_path / "refresh.json")["counters"] == {}
        status.flush()
        assert read(tmp_path / "refresh.json")["counters"] == {"rows": 1000}
        status.update(view=None, period="2024-03")
        status.update(view=None)
    final = read(tmp_path / "refresh.json")
    assert final["details"] == {"period": "2024-03"}
    assert set(final["rate"]) == {"rows"}


def test_failure_inside_context_marks_failed(tmp_path):
    with pytest.raises(ValueError, match="boom"), StatusEmitter("reporting", tmp_path):
        raise ValueError("boom")
    final = read(tmp_path / "reporting.json")
    assert final["state"] == "failed"
    assert final["details"]["error"] == "ValueError: boom"
    assert final["errors"][0]["reason"] == "ValueError"


def test_ctrl_c_inside_context_marks_interrupted(tmp_path):
    with pytest.raises(KeyboardInterrupt), StatusEmitter("ingest", tmp_path):
        raise KeyboardInterrupt
    assert read(tmp_path / "ingest.json")["state"] == "interrupted"


def test_errors_are_counted_and_bounded(tmp_path):
    status = StatusEmitter("ingest", tmp_path, max_errors=2)
    for reason in ("bad_json", "bad_json", "no_session", "x1", "x2"):
        status.error(reason, "m" * 10_000)
    status.finish()
    errors = read(tmp_path / "ingest.json")["errors"]
    assert [(e["reason"], e["count"]) for e in errors] == [
        ("bad_json", 2),
        ("other", 2),
        ("no_session", 1),
    ]
    assert all(len(e["message"]) <= 500 for e in errors)


def test_secrets_are_redacted(tmp_path):
    status = StatusEmitter("publish", tmp_path)
    status.finish(
        db_password="hunter2",
        api_key="AKIA-SECRET",
        url="postgresql://cowrie:s3cr3t@db.example/cowrie",
        nested={"Authorization": "Bearer abc", "es": {"token": "tok"}, "ok": [1, 2]},
    )
    text = (tmp_path / "publish.json").read_text() + (tmp_path / "status.json").read_text()
    for secret in ("hunter2", "AKIA-SECRET", "s3cr3t", "Bearer abc", '"tok"'):
        assert secret not in text
    details = read(tmp_path / "publish.json")["details"]
    assert details["url"] == "postgresql://cowrie:***@db.example/cowrie"
    assert details["nested"]["ok"] == [1, 2]
    assert redact({"password": "x", "user": "u"}) == {"password": "***", "user": "u"}


@pytest.mark.parametrize("phase", ["", "../x", "a/b", "status", ".hidden"])
def test_invalid_phase_names(phase, tmp_path):
    with pytest.raises(ValueError):
        StatusEmitter(phase, tmp_path)


def test_unwritable_status_dir_does_not_break_the_job(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with StatusEmitter("ingest", blocker / "status") as status:
        status.increment("events")
    assert status.state == "finished"


def _hammer(status_dir: str, phase: str, n: int) -> None:
    status = StatusEmitter(phase, status_dir, min_interval=0)
    with status:
        for i in range(n):
            status.update({"i": i + 1}, note=f"{phase}-{i}")


def test_two_processes_share_the_aggregate(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    n = 150
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), p, n)) for p in ("ingest", "refresh")]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 60
    reads = 0
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        aggregate = tmp_path / "status.json"
        if aggregate.exists():
            assert isinstance(read(aggregate), dict)  # never torn
            reads += 1
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    final = read(tmp_path / "status.json")
    assert set(final) == {"ingest", "refresh"}
    for phase in ("ingest", "refresh"):
        assert final[phase]["state"] == "finished"
        assert final[phase]["counters"] == {"i": n}
        assert final[phase] == read(tmp_path / f"{phase}.json")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
