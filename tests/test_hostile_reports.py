"""Attacker-controlled strings go through ingest, rollups, builders and ``show`` literally."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from unittest import mock

from click.testing import CliRunner, Result
from enrichment_data import offline_reference
from reference import load_events
from report_reference import expected_report
from sqlalchemy import Engine

from cowrieprocessor.cli.common import AppContext
from cowrieprocessor.cli.main import cli

LONG = "echo " + "A" * 100_000 + " END"
HOSTILE = ["[bold]x[/bold]", "[/x]", ":smile:", "\x1b[2J", "nul\x00byte", "[red]r[/]\x07"]
SID = "a1b2c3d4e5f6"
DAY = date(2024, 3, 7)


def hostile_log(path: Path) -> Path:
    events = [
        {
            "eventid": "cowrie.session.connect",
            "timestamp": "2024-03-07T10:00:00.000000Z",
            "session": SID,
            "sensor": "[bold]sensor[/bold]",
            "src_ip": "198.51.100.7",
            "protocol": "ssh",
        }
    ]
    for i, text in enumerate([*HOSTILE, LONG]):
        ts = f"2024-03-07T10:00:{i + 1:02d}.000000Z"
        base = {"session": SID, "sensor": "[bold]sensor[/bold]", "src_ip": "198.51.100.7"}
        events += [
            {
                **base,
                "eventid": "cowrie.login.failed",
                "timestamp": ts,
                "username": text,
                "password": text,
            },
            {**base, "eventid": "cowrie.command.input", "timestamp": ts, "input": text},
            {
                **base,
                "eventid": "cowrie.session.file_download",
                "timestamp": ts,
                "url": f"http://198.51.100.9/{text}",
                "shasum": f"{i:064x}",
            },
        ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def run(db_url: str, tmp_path: Path, *args: str) -> Result:
    engines: list[Engine] = []
    original = AppContext.engine

    def engine(self: AppContext, **options: bool) -> Engine:
        engines.append(original(self, **options))
        return engines[-1]

    try:
        with mock.patch.object(AppContext, "engine", engine):
            return CliRunner().invoke(
                cli,
                ["--db", db_url, "--status-dir", str(tmp_path / "status"), *args],
                env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": None, "FORCE_COLOR": None},
                catch_exceptions=False,
            )
    finally:
        for eng in engines:
            eng.dispose()


def test_hostile_strings_render_literally(db_url: str, tmp_path: Path) -> None:
    log = hostile_log(tmp_path / "cowrie.json")
    assert run(db_url, tmp_path, "ingest", str(log)).exit_code == 0
    sensor = "[bold]sensor[/bold]"

    result = run(
        db_url, tmp_path, "show", "daily", "2024-03-07", "--format", "json", "--top-n", "20"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    doc.pop("generated_at")
    events = load_events([log])
    assert doc == expected_report(
        events, "daily", DAY, DAY, None, 20, enrichment=offline_reference(events)
    )
    # Exactly as logged, NUL as U+FFFD (docs/ingest.md); the long command whole.
    logged = [s.replace("\x00", "\ufffd") for s in [*HOSTILE, LONG]]
    assert {e["value"] for e in doc["sessions"]["top_usernames"]} == set(logged)
    assert {e["value"] for e in doc["commands"]["top_commands"]} == set(logged)
    assert {e["value"] for e in doc["files"]["top_urls"]} == {
        f"http://198.51.100.9/{s}" for s in logged
    }
    assert "\\u001b[2J" in result.stdout and "\x1b" not in result.stdout

    for args in ([], ["--sensor", sensor], ["--all-sensors"]):
        table = run(db_url, tmp_path, "show", "daily", "2024-03-07", "--top-n", "20", *args)
        assert table.exit_code == 0, table.stderr
        text = table.stdout
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
        assert "[bold]x[/bold]" in text and "[/x]" in text and ":smile:" in text
        assert "😄" not in text
        assert "\\x1b[2J" in text  # the escape shown as visible text
        assert "echo AAAA" in text and "A" * 200 not in text and " END" not in text
        assert "…" in text
        assert max(len(line) for line in text.splitlines()) <= 100
        assert len(text) < 60_000
    assert sensor in run(db_url, tmp_path, "show", "daily", "2024-03-07", "--sensor", sensor).stdout
