"""Faults an ingest must come through with nothing lost and nothing stored twice.

kill -9 at seeded random points, Ctrl-C, SIGTERM, a dead parse process, a full disk, first
ingests racing on an empty database, a glob into a symlink loop, hostile input: each run
for real (the
``cowrie-report`` process), then resumed, and compared with a clean run over the same
input: exact counts, every derived table and every rollup (what every report reads), for
plain, gzip and bzip2 files, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from dbhelpers import rollup_snapshot, snapshot
from sqlalchemy import Engine, func, select

from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import current_revision, head_revision, upgrade
from cowrieprocessor.db.models import RawEvent
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.ingest.reader import discover
from cowrieprocessor.rollups.refresh import check, refresh_dirty
from cowrieprocessor.samples import write_event_file

PACK: dict[str, Callable[[bytes], bytes]] = {
    "": bytes,
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
}
#: Events of the input: over 4 MiB as a plain file, so a plain file is parsed by the child.
EVENTS = 12_000
BATCH = "250"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One plain log of EVENTS events (a few duplicates and dirty strings among them)."""
    path = tmp_path_factory.mktemp("input") / "cowrie.json"
    write_event_file(path, EVENTS, seed=5, dirt=True)
    return path


def log_file(events_file: Path, directory: Path, suffix: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"cowrie.json.2024-03-01{suffix}"
    log.write_bytes(PACK[suffix](events_file.read_bytes()))
    return log


def cli(db_url: str, tmp_path: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cowrieprocessor.cli.main",
        "--status-dir",
        str(tmp_path / "status"),
        "--db",
        db_url,
        *args,
    ]


def ingest_cmd(db_url: str, tmp_path: Path, *paths: Path | str) -> list[str]:
    return cli(db_url, tmp_path, "ingest", *map(str, paths), "--batch-size", BATCH, "--json")


def start(cmd: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``cmd``: its standard output goes to ``<err>.out``, its errors to ``err``."""
    err = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    with err.open("wb") as fh, err.with_suffix(".out").open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=fh), err


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(RawEvent)) or 0


def wait_until_stored(engine: Engine, proc: subprocess.Popen[bytes], at_least: int) -> int:
    """Poll until ``at_least`` events are committed (or the process ended); their number."""
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        count = stored(engine)
        if count >= at_least:
            break
        time.sleep(0.01)
    return count


def ingest_status(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "status" / "ingest.json").read_text())


def finish(cmd: list[str]) -> dict:
    """Run ``cmd`` (an ingest with --json) to its end; its summary."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tables(engine: Engine) -> dict:
    assert check(engine) == []  # the rollups are what their definitions say
    return snapshot(engine) | rollup_snapshot(engine)


def clean_tables(request: pytest.FixtureRequest, tmp_path: Path, *paths: Path) -> dict:
    """The tables one uninterrupted run over ``paths`` gives, in a fresh database of the
    test's dialect."""
    return _clean(request.getfixturevalue("empty_db_url"), *paths)


def clean_sqlite_tables(tmp_path: Path, *paths: Path) -> dict:
    return _clean(f"sqlite:///{tmp_path / 'clean.sqlite'}", *paths)


def _clean(url: str, *paths: Path) -> dict:
    """What ``cowrie-report ingest`` does, in this process: load, enrich offline, refresh."""
    from cowrieprocessor.cli.common import select_providers
    from cowrieprocessor.enrichment.runner import run_provider
    from cowrieprocessor.enrichment.store import Scope

    engine = create_engine_for_url(url)
    try:
        upgrade(engine)
        Loader(engine).ingest(discover([str(p) for p in paths]))
        for provider in select_providers((), offline_only=True, online=False, config=None):
            try:
                run_provider(engine, provider, scope=Scope())
            finally:
                provider.close()
        refresh_dirty(engine)
        return tables(engine)
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine_for_url(db_url)
    yield eng
    eng.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", PACK, ids=["plain", "gz", "bz2"])
def test_kill_9_at_random_points_then_resume_gives_the_clean_tables(
    db_url: str,
    engine: Engine,
    events_file: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    suffix: str,
) -> None:
    log = log_file(events_file, tmp_path / "logs", suffix)
    cmd = ingest_cmd(db_url, tmp_path, log)
    rng = random.Random(f"kill-{suffix}")  # a few seeded points, not dozens
    points = sorted(rng.sample(range(500, EVENTS * 2 // 3), 2))
    for point in points:  # killed once, then killed again while resuming
        proc, err = start(cmd, tmp_path)
        before = stored(engine)
        reached = wait_until_stored(engine, proc, point)
        proc.kill()
        proc.wait()
        assert before < reached < EVENTS * 0.95, err.read_text()  # stopped part-way
    final = finish(cmd)
    assert final["files_unchanged"] == 0 and final["events_new"] > 0  # resumed, not skipped
    assert finish(cmd)["files_unchanged"] == 1  # and now done
    assert tables(engine) == clean_tables(request, tmp_path, log)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signal_name", "suffix"),
    [("SIGINT", ""), ("SIGTERM", ".gz"), ("SIGTERM", ".bz2")],
    ids=["ctrl-c-plain", "sigterm-gz", "sigterm-bz2"],
)
def test_ctrl_c_and_sigterm_stop_at_a_safe_point_and_say_so(
    db_url: str,
    engine: Engine,
    events_file: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    signal_name: str,
    suffix: str,
) -> None:
    log = log_file(events_file, tmp_path / "logs", suffix)
    cmd = ingest_cmd(db_url, tmp_path, log)
    proc, err = start(cmd, tmp_path)
    reached = wait_until_stored(engine, proc, 1000)
    proc.send_signal(getattr(signal, signal_name))
    proc.wait(timeout=120)
    errors = err.read_text()
    assert 0 < reached < EVENTS * 0.95, errors
    signum = getattr(signal, signal_name)
    assert proc.returncode == 128 + signum, errors
    what = "interrupted" if signal_name == "SIGINT" else "stopped by SIGTERM"
    again = "Ctrl-C" if signal_name == "SIGINT" else "SIGTERM"
    assert errors.splitlines() == [  # one line when asked, one when stopped; no traceback
        f"stopping at the next safe point; {again} again to stop at once",
        f"Error: {what}; work already committed is kept",
    ]
    summary = json.loads(err.with_suffix(".out").read_text())  # --json still prints it
    assert summary["interrupted"] is True
    assert summary["events_new"] == stored(engine)  # exactly what was committed
    status = ingest_status(tmp_path)
    assert status["state"] == "interrupted"
    assert status["details"]["summary"] == {k: v for k, v in summary.items() if k != "interrupted"}
    rest = finish(cmd)
    assert rest["interrupted"] is False and rest["files_unchanged"] == 0
    assert summary["events_new"] + rest["events_new"] == stored(engine)
    assert tables(engine) == clean_tables(request, tmp_path, log)


def test_a_dead_parse_process_fails_the_run_in_one_line(
    db_url: str, engine: Engine, events_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    log = log_file(events_file, tmp_path / "logs", "")  # over 4 MiB: parsed by the child
    cmd = ingest_cmd(db_url, tmp_path, log)
    proc, err = start(cmd, tmp_path)
    wait_until_stored(engine, proc, 500)
    children = psutil.Process(proc.pid).children()
    assert len(children) == 1, err.read_text()
    children[0].kill()
    proc.wait(timeout=120)
    assert proc.returncode == 1
    assert err.read_text().splitlines() == [
        "Error: the batch reader process died (killed by SIGKILL); work already committed is kept"
    ]
    assert ingest_status(tmp_path)["state"] == "failed"
    assert 0 < stored(engine) < EVENTS
    finish(cmd)
    assert tables(engine) == clean_tables(request, tmp_path, log)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Callable[[str], None]]:
    """A tmpfs of ``size`` mounted at ``path``; yields a function that resizes it."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")

    def resize(new: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new}", str(path)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["plain", "gz"])
def test_a_full_disk_fails_the_run_and_the_next_run_finishes_the_file(
    events_file: Path, tmp_path: Path, suffix: str
) -> None:
    """SQLite only: a PostgreSQL server's disk is not this test's to fill."""
    log = log_file(events_file, tmp_path / "logs", suffix)
    with small_disk(tmp_path / "disk", "3m") as resize:
        url = f"sqlite:///{tmp_path / 'disk' / 'cowrie.sqlite'}"
        engine = create_engine_for_url(url)
        try:
            cmd = ingest_cmd(url, tmp_path, log)
            full = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
            assert full.returncode == 1
            database = tmp_path / "disk" / "cowrie.sqlite"
            assert full.stderr.splitlines() == [
                f"Error: SQLite database {database}: database or disk is full"
            ]
            assert ingest_status(tmp_path)["state"] == "failed"
            assert 0 < stored(engine) < EVENTS  # some batches went in before the disk filled
            resize("256m")
            rest = finish(cmd)
            assert rest["files_unchanged"] == 0 and rest["events_new"] > 0
            got = tables(engine)
        finally:
            engine.dispose()
    assert got == clean_sqlite_tables(tmp_path, log)


_RACER = """
import os, sys, time
import alembic.command, cowrieprocessor.cli.ingest, cowrieprocessor.cli.main as main
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
sys.argv[1:2] = []
main.main()
"""


def test_first_ingests_racing_on_an_empty_database_all_succeed(
    empty_db_url: str, events_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two sensors' cron jobs on a new install: the same empty database, the same moment."""
    lines = events_file.read_bytes().splitlines(keepends=True)[:3000]
    logs = []
    for n in range(3):  # three files, each its own stretch of events
        logs.append(tmp_path / f"sensor{n}" / "cowrie.json")
        logs[-1].parent.mkdir()
        logs[-1].write_bytes(b"".join(lines[n::3]))
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(go), *ingest_cmd(empty_db_url, tmp_path, log)[3:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for log in logs
    ]
    time.sleep(3)  # all three imported and waiting
    go.touch()
    errors = [racer.communicate(timeout=300)[1] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], errors
    engine = create_engine_for_url(empty_db_url)
    try:
        assert current_revision(engine) == head_revision()
        got = tables(engine)
    finally:
        engine.dispose()
    assert got == clean_tables(request, tmp_path, *logs)


def test_a_glob_into_a_symlink_loop_ends_with_the_directory_s_files(
    db_url: str, engine: Engine, events_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    lines = events_file.read_bytes().splitlines(keepends=True)[:600]
    tree = tmp_path / "tree"
    for n, suffix in enumerate(PACK):
        log_dir = tree / f"s{n}" / "deeper"
        log_dir.mkdir(parents=True)
        (log_dir / f"cowrie.json{suffix}").write_bytes(PACK[suffix](b"".join(lines[n::3])))
        for link in ("up", "again"):  # each directory links back to the top, twice
            (log_dir / link).symlink_to("../..")
    cmd = ingest_cmd(db_url, tmp_path, tree / "**" / "cowrie.json*")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == 3
    assert tables(engine) == clean_tables(request, tmp_path, tree)


def hostile_lines() -> tuple[list[bytes], dict[str, int], int]:
    """Records an attacker controls; the dead letters they must give, and how many events."""

    def event(n: int, **fields: object) -> bytes:
        base = {
            "eventid": "cowrie.command.input",
            "timestamp": f"2024-03-01T10:{n // 60:02d}:{n % 60:02d}.000001Z",
            "session": f"hostile{n % 7}",
            "sensor": "edge",
            "src_ip": "203.0.113.66",
        }
        return json.dumps(base | fields, ensure_ascii=False).encode()

    good = [
        event(0, input="\x1b]0;owned\x07\x1b[2J[bold red]x[/] '; DROP TABLE raw_events; --"),
        event(1, eventid="cowrie.login.failed", username="\u202eroot", password="a\u0000b"),
        event(2, input="echo " + "B" * 100_000),
        event(3, input={"n": 10**30, "x": [True, None]}),
        event(4, eventid="cowrie.login.success", username=7, password=["p"]),
        event(5, eventid="cowrie.virustotal.scanfile", sha256="a" * 64, positives=10**20),
        event(6, y=json.loads("[" * 200 + "]" * 200)),  # deep, not too deep
        event(7, sensor=""),  # joins the session of its id that names one
        event(8).replace(b'"edge"', b'"ed\\ud800ge"'),  # a lone surrogate: replaced
        event(9).replace(b"203.0.113.66", b"203.0.113.\xff"),  # invalid UTF-8: replaced
    ]
    bad = {
        "invalid_json": [b"{not json", b"\x00\x01\x02"],
        "not_an_object": [b"[1, 2]", b'"cowrie.session.connect"'],
        "not_a_cowrie_event": [b'{"eventid": "KIPP0011", "session": "x"}'],
        "bad_timestamp": [event(10, timestamp="0000-01-01T00:00:00Z")],
        "bad_session": [event(11, session="s" * 65)],
        "bad_sensor": [event(12, sensor="S" * 256)],
        "too_deep": [event(13, y=json.loads("[" * 300 + "]" * 300))],
        "bad_number": [event(14)[:-1] + b', "n": NaN}', event(15)[:-1] + b', "n": -1e999}'],
        "oversized_record": [b'{"input": "' + b"A" * (16 * 1024 * 1024 + 10) + b'"}'],
        "unterminated_block": [b'{\n  "eventid": "cowrie.session.connect",'],
    }
    lines = [*good]
    for records in bad.values():
        lines.extend(records)
    lines.append(event(16, input="after the unterminated block"))
    return lines, {reason: len(records) for reason, records in bad.items()}, len(good) + 1


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["plain", "gz"])
def test_hostile_input_is_stored_exactly_or_set_aside_with_a_reason(
    db_url: str, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest, suffix: str
) -> None:
    lines, dead, events = hostile_lines()
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / os.fsdecode(b"cowrie-\x1b[2J-\xff.json" + suffix.encode())
    log.write_bytes(PACK[suffix](b"\n".join(lines) + b"\n"))
    cmd = ingest_cmd(db_url, tmp_path, logs)
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["dead_letters"] == dead
    assert summary["events_new"] == events
    assert b"\x1b" not in done.stdout + done.stderr + (tmp_path / "status/ingest.json").read_bytes()
    assert finish(cmd)["files_unchanged"] == 1
    got = tables(engine)
    assert got == clean_tables(request, tmp_path, logs)
    sessions = {(r["sensor"], r["session_id"]) for r in got["session_summaries"]}
    # The sensor name with a lone surrogate is another sensor, its surrogate replaced.
    assert sessions == {("edge", f"hostile{n}") for n in range(7)} | {("ed\ufffdge", "hostile1")}
    payloads = [
        p if isinstance(p, dict) else json.loads(p)
        for p in (r["payload"] for r in got["raw_events"])
    ]
    assert {"n": 10**30, "x": [True, None]} in [p.get("input") for p in payloads]
    assert any(len(str(p.get("input"))) == 100_005 for p in payloads)


def test_a_path_that_cannot_be_read_is_named_in_one_escaped_line(
    tmp_path: Path,
) -> None:
    pipe = tmp_path / "cowrie.json"
    os.mkfifo(pipe)
    url = f"sqlite:///{tmp_path / 'cowrie.sqlite'}"
    evil = str(tmp_path / "\x1b]0;owned\x07\x1b[2J")
    for path, problem in ((pipe, "not a regular file (a named pipe)"), (evil, "no such file")):
        done = subprocess.run(
            cli(url, tmp_path, "ingest", str(path)),
            capture_output=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 1
        assert done.stderr.decode().startswith(f"Error: {problem}")
        assert len(done.stderr.splitlines()) == 1 and b"\x1b" not in done.stderr
    assert b"\\x1b]0;owned\\x07\\x1b[2J" in done.stderr  # shown escaped, as `show` does
    assert not (tmp_path / "cowrie.sqlite").exists()  # nothing was started
