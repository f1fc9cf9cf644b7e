"""Tests for the status monitor (library and `monitor` command)."""

import datetime
import io
import json
import os
import socket

from click.testing import CliRunner
from rich.console import Console

from cowrieprocessor.cli.main import cli
from cowrieprocessor.monitor import pid_alive, read_snapshot, render_snapshot
from cowrieprocessor.status import StatusEmitter

NOW = datetime.datetime(2024, 3, 5, 12, 0, 0, tzinfo=datetime.UTC)


def render(snapshot) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    console.print(render_snapshot(snapshot))
    return buffer.getvalue()


def payload(phase, state="running", updated="2024-03-05T11:59:50.000Z", **extra):
    doc = {
        "phase": phase,
        "state": state,
        "pid": 4242,
        "host": "sensor-box",
        "started_at": "2024-03-05T11:00:00.000Z",
        "updated_at": updated,
        "elapsed_seconds": 3590.0,
        "counters": {"events": 123456, "files": 3},
        "rate": {"events": 34.4},
        "details": {"file": "/logs/cowrie.json.2024-03-04.gz"},
        "errors": [],
    }
    doc.update(extra)
    return doc


def write(path, doc):
    path.write_text(json.dumps(doc))


def test_snapshot_of_several_phases(tmp_path):
    write(tmp_path / "ingest.json", payload("ingest"))
    write(tmp_path / "refresh.json", payload("refresh", state="finished"))
    write(
        tmp_path / "reporting.json",
        payload(
            "reporting",
            state="failed",
            errors=[{"reason": "ValueError", "count": 2, "message": "bad period"}],
        ),
    )
    snap = read_snapshot(tmp_path, now=NOW, alive=lambda host, pid: None)
    assert [p.name for p in snap.phases] == ["ingest", "refresh", "reporting"]
    assert [p.state for p in snap.phases] == ["running", "finished", "failed"]
    assert snap.phases[0].age_seconds == 10
    text = render(snap)
    assert "ingest  running" in text
    assert "counters: events=123,456  files=3" in text
    assert "rate/s:   events=34.4" in text
    assert "details:  file=/logs/cowrie.json.2024-03-04.gz" in text
    assert "ValueError x2: bad period" in text
    assert "elapsed 59:50" in text
    assert "\x1b" not in text


def test_stale_detection(tmp_path):
    write(tmp_path / "old.json", payload("old", updated="2024-03-05T11:50:00Z"))
    write(tmp_path / "dead.json", payload("dead"))
    write(tmp_path / "done.json", payload("done", state="finished", updated="2024-03-01T00:00Z"))
    write(tmp_path / "fresh.json", payload("fresh"))

    snap = read_snapshot(tmp_path, now=NOW, stale_after=60, alive=lambda host, pid: None)
    states = {p.name: (p.state, p.stale_reason) for p in snap.phases}
    assert states["old"] == ("stale", "no update for 600s")
    assert states["done"] == ("finished", None)  # finished phases never go stale
    assert states["fresh"] == ("running", None)

    gone = read_snapshot(tmp_path, now=NOW, alive=lambda host, pid: False)
    assert {p.name: p.stale_reason for p in gone.phases}["dead"] == "process 4242 is gone"
    assert "stale (process 4242 is gone)" in render(gone)


def test_pid_alive():
    me = socket.gethostname()
    assert pid_alive(me, os.getpid()) is True
    assert pid_alive("some-other-host", os.getpid()) is None
    assert pid_alive(me, None) is None
    assert pid_alive(me, 2**22 + 12345) is False  # above pid_max on Linux


def test_corrupt_and_odd_files_never_crash(tmp_path):
    (tmp_path / "ingest.json").write_text('{"phase": "ingest", "state": ')
    (tmp_path / "refresh.json").write_text("[1, 2, 3]")
    (tmp_path / "weird.json").write_bytes(b"\xff\xfe\x00")
    write(tmp_path / "odd.json", {"state": 7, "updated_at": "never", "counters": "x"})
    (tmp_path / "status.json").write_text("{not json")
    (tmp_path / ".ingest.json.abc.tmp").write_text("{")
    (tmp_path / "notes.txt").write_text("ignored")
    snap = read_snapshot(tmp_path, now=NOW)
    states = {p.name: p.state for p in snap.phases}
    assert states == {
        "ingest": "unreadable",
        "refresh": "unreadable",
        "weird": "unreadable",
        "odd": "unknown",
    }
    text = render(snap)
    assert "unreadable ingest.json: corrupt JSON" in text
    assert "refresh.json: not a status object" in text


def test_attacker_strings_are_not_interpreted(tmp_path):
    evil = "[bold red]pwned[/bold red] :smile: [/x] \x1b[2J\x00\u202e"
    write(
        tmp_path / "ingest.json",
        payload(
            "ingest",
            details={"file": evil},
            errors=[{"reason": "bad_json", "count": 1, "message": evil}],
        ),
    )
    text = render(read_snapshot(tmp_path, now=NOW, alive=lambda h, p: None))
    assert "[bold red]pwned[/bold red] :smile: [/x] \\x1b[2J\\x00\\u202e" in text
    assert "\x1b" not in text and "\x00" not in text and "😄" not in text


def test_phases_only_in_aggregate_are_shown(tmp_path):
    write(tmp_path / "status.json", {"ingest": payload("ingest"), "refresh": payload("refresh")})
    write(tmp_path / "refresh.json", payload("refresh", state="finished"))
    snap = read_snapshot(tmp_path, now=NOW, alive=lambda h, p: None)
    assert {p.name: p.state for p in snap.phases} == {"ingest": "running", "refresh": "finished"}
    assert "(from status.json)" in render(snap)


def test_missing_and_empty_dir_messages(tmp_path):
    missing = read_snapshot(tmp_path / "nope", now=NOW)
    assert not missing.exists
    assert "Status directory does not exist" in render(missing)
    empty = read_snapshot(tmp_path, now=NOW)
    assert empty.exists and empty.empty
    assert "No status files yet" in render(empty)


def test_cli_once_with_real_emitter(tmp_path):
    with StatusEmitter("ingest", tmp_path) as status:
        status.update({"events": 5000}, file="cowrie.json")
        status.error("bad_json", "[bold]x")
    result = CliRunner().invoke(cli, ["monitor", "--status-dir", str(tmp_path), "--once"])
    assert result.exit_code == 0, result.output
    assert "ingest  finished" in result.output
    assert "events=5,000" in result.output
    assert "bad_json x1: [bold]x" in result.output
    assert "\x1b" not in result.output


def test_cli_once_uses_env_var_and_reports_missing_dir(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["monitor", "--once"], env={"COWRIE_STATUS_DIR": str(tmp_path / "missing")}
    )
    assert result.exit_code == 0
    assert "Status directory does not exist" in result.output
    assert str(tmp_path / "missing") in result.output.replace("\n", "")


def test_cli_live_mode_stops_quietly_on_ctrl_c(tmp_path, monkeypatch):
    import cowrieprocessor.cli.monitor as cli_monitor

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_monitor.time, "sleep", interrupt)
    write(tmp_path / "ingest.json", payload("ingest"))
    result = CliRunner().invoke(cli, ["monitor", "--status-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "ingest" in result.output
