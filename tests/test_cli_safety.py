"""Commands never create a database they only read, name the SQLite file they cannot open,
and never overwrite the database or silently replace a file (issue 17, items 7 and 10)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url, sqlite_path
from cowrieprocessor.db.migrate import current_revision, head_revision

WINDOW = ["--start", "2024-03-01", "--end", "2024-03-02"]
#: Every command that reads (or refreshes) a database but must never create one.
READ_COMMANDS = [
    ["show", "daily", "2024-03-01"],
    ["show", "weekly", "2024-W09", "--format", "json"],
    ["export", "sessions", *WINDOW],
    ["refresh-views", "--check"],
    ["publish", "daily", "2024-03-01", "--dry-run"],
    ["db", "current"],
    ["db", "downgrade", "base", "--yes"],
]


def run(db_url: str, tmp_path: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--db", db_url, "--status-dir", str(tmp_path / "status"), *args], input=stdin
    )


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_commands_never_create_a_database(
    empty_db_url: str, tmp_path: Path, args: list[str]
) -> None:
    """A mistyped SQLite path is an error naming the file, which stays absent; an empty
    PostgreSQL database is left without tables."""
    result = run(empty_db_url, tmp_path, *args)
    path = sqlite_path(empty_db_url)
    if path is not None:
        line = one_error_line(result)
        assert line.startswith(f"Error: no SQLite database at {path}: check --db")
        assert not os.path.exists(path)
        assert not list(Path(path).parent.glob("empty.sqlite*"))
    else:
        if args[0] == "db":  # an empty database is at no revision: nothing to do
            assert result.exit_code == 0, result.output
        else:
            assert "no sessions yet" in one_error_line(result)
        engine = create_engine_for_url(empty_db_url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_db_commands_on_a_missing_database_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo.sqlite'}"
    for args in (["db", "current"], ["db", "downgrade", "0008", "--yes"]):
        assert "no SQLite database at" in one_error_line(run(url, tmp_path, *args))
    assert not (tmp_path / "typo.sqlite").exists()
    result = run(url, tmp_path, "db", "upgrade")  # creating a database is what upgrade is for
    assert result.exit_code == 0, result.output
    assert (tmp_path / "typo.sqlite").exists()


@pytest.mark.parametrize(
    ("make", "args"),
    [
        ("not-a-database", ["show", "weekly"]),
        ("not-a-database", ["ingest", "LOG"]),
        ("directory", ["show", "daily"]),
        ("missing-directory", ["ingest", "LOG"]),
        ("missing-directory", ["db", "upgrade"]),
    ],
)
def test_sqlite_errors_name_the_file(tmp_path: Path, make: str, args: list[str]) -> None:
    log = tmp_path / "cowrie.json"
    log.write_text("")
    if make == "not-a-database":
        path = tmp_path / "x.sqlite"
        path.write_text("hello, not a database\n" * 100)
        reason = "file is not a database"
    elif make == "directory":
        path = tmp_path / "x.sqlite"
        path.mkdir()
        reason = "unable to open database file"
    else:
        path = tmp_path / "no" / "such" / "dir" / "x.sqlite"
        reason = "unable to open database file"
    args = [str(log) if a == "LOG" else a for a in args]
    line = one_error_line(run(f"sqlite:///{path}", tmp_path, *args))
    assert line == f"Error: SQLite database {path}: {reason}"


def test_control_characters_in_a_database_path_are_shown_escaped(tmp_path: Path) -> None:
    name = "typo\x1b]0;owned\x07.sqlite"
    line = one_error_line(run(f"sqlite:///{tmp_path / name}", tmp_path, "show", "daily"))
    assert "\x1b" not in line and "\x07" not in line
    assert "typo\\x1b]0;owned\\x07.sqlite" in line


# -- --output and db downgrade base ---------------------------------------------------------


@pytest.fixture
def loaded_db(db_url: str, tmp_path: Path) -> str:
    log = tmp_path / "cowrie.json"
    event = {
        "eventid": "cowrie.session.connect",
        "timestamp": "2024-03-01T10:00:00Z",
        "session": "abcdef012345",
        "sensor": "s1",
        "src_ip": "192.0.2.1",
    }
    log.write_text(json.dumps(event) + "\n")
    assert run(db_url, tmp_path, "ingest", str(log)).exit_code == 0
    return db_url


def test_output_never_overwrites_the_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cowrie.sqlite'}"
    loaded_db_path = tmp_path / "cowrie.sqlite"
    log = tmp_path / "cowrie.json"
    log.write_text(
        json.dumps(
            {
                "eventid": "cowrie.session.connect",
                "timestamp": "2024-03-01T10:00:00Z",
                "session": "abcdef012345",
                "sensor": "s1",
            }
        )
        + "\n"
    )
    assert run(url, tmp_path, "ingest", str(log)).exit_code == 0
    before = loaded_db_path.read_bytes()
    (tmp_path / "link.txt").symlink_to(loaded_db_path)
    os.link(loaded_db_path, tmp_path / "hard.txt")
    targets = ["cowrie.sqlite", "cowrie.sqlite-wal", "cowrie.sqlite-shm", "link.txt", "hard.txt"]
    for target in targets:
        for command in (["show", "daily", "2024-03-01"], ["export", "sessions", *WINDOW]):
            result = run(url, tmp_path, *command, "--output", str(tmp_path / target), "--force")
            line = one_error_line(result)
            assert line.endswith("is the database (or one of its files): refusing to overwrite it")
    assert loaded_db_path.read_bytes() == before
    assert not (tmp_path / "cowrie.sqlite-wal").exists() or (
        tmp_path / "cowrie.sqlite-wal"
    ).read_bytes()[:4] in (b"7\x7f\x06\x82", b"7\x7f\x06\x83")  # a WAL header, not a report
    engine = create_engine_for_url(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["show", "daily", "2024-03-01"], ["export", "sessions"]])
def test_output_replaces_an_existing_file_only_with_force(
    loaded_db: str, tmp_path: Path, command: list[str]
) -> None:
    args = command + WINDOW if command[0] == "export" else command
    out = tmp_path / "report.txt"
    out.write_text("keep me")
    line = one_error_line(run(loaded_db, tmp_path, *args, "--output", str(out)))
    assert line == f"Error: {out} exists: add --force to replace it, or choose another --output"
    assert out.read_text() == "keep me"
    result = run(loaded_db, tmp_path, *args, "--output", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert ("Cowrie daily report" if command[0] == "show" else "abcdef012345") in out.read_text()
    new = tmp_path / "new.txt"
    assert run(loaded_db, tmp_path, *args, "--output", str(new)).exit_code == 0
    assert new.stat().st_size > 0


def test_downgrade_to_base_asks_first(loaded_db: str, tmp_path: Path) -> None:
    for answer in (None, "n\n", "\n"):  # no terminal, no, the default
        result = run(loaded_db, tmp_path, "db", "downgrade", "base", stdin=answer)
        assert result.exit_code == 1, result.output
        assert "Drop every table of" in result.stderr and "Aborted!" in result.stderr
        engine = create_engine_for_url(loaded_db)
        try:
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()
    result = run(loaded_db, tmp_path, "db", "downgrade", "base", stdin="y\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "database at revision base (empty)"
    engine = create_engine_for_url(loaded_db)
    try:
        assert current_revision(engine) is None
        upgraded = run(loaded_db, tmp_path, "db", "upgrade")
        assert upgraded.exit_code == 0
        result = run(loaded_db, tmp_path, "db", "downgrade", "base", "--yes")
        assert result.exit_code == 0 and "Drop every table" not in result.stderr
    finally:
        engine.dispose()
