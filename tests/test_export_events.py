"""``cowrie-report export events``: the stored events back, equal to the logged ones.

The expected events are read from the input files independently of the loader's storage:
every record the parser accepts, as its parsed JSON (unstorable characters replaced, as
stored), each distinct event once.
"""

from __future__ import annotations

import json
from datetime import date
from hashlib import blake2b
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reference import _records, _sanitize
from report_data import dirty_logs
from sqlalchemy import Engine

from cowrieprocessor.cli.main import cli
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.ingest.parse import BadRecord, parse_record, sorted_json
from cowrieprocessor.ingest.reader import discover
from cowrieprocessor.reporting.events import stored_events
from cowrieprocessor.samples import SampleConfig, write_sample_logs

SMALL = SampleConfig(seed=11, days=2, sessions_per_day=25)


def logged_events(files: list[Path]) -> dict[bytes, dict[str, Any]]:
    """Every valid event of the files, by canonical JSON (duplicates once)."""
    events = {}
    for path in files:
        for raw in _records(path):
            try:
                event = parse_record(raw).payload
            except BadRecord:
                continue
            # The parser's reading of the record is plain JSON parsing (after the clean-up).
            assert event == _sanitize(json.loads(raw.decode(errors="replace"), strict=False))
            events[sorted_json(event)] = event
    return events


def variant_files(variant: str, out: Path) -> list[Path]:
    if variant == "dirty":
        return dirty_logs(out)
    compress = None if variant == "plain" else variant
    return write_sample_logs(out, SampleConfig(**{**vars(SMALL), "compress": compress})).files


def export(db_url: str, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    target = tmp_path / "events.ndjson"
    options = ["--db", db_url, "--status-dir", str(tmp_path / "status")]
    command = ["export", "events", "--output", str(target), *args]
    result = CliRunner().invoke(cli, [*options, *command], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("variant", ["plain", "gz", "bz2", "dirty"])
def test_exported_events_equal_the_logged_ones(
    engine: Engine, db_url: str, tmp_path: Path, variant: str
) -> None:
    files = variant_files(variant, tmp_path / "logs")
    Loader(engine).ingest(discover([str(p) for p in files]))
    expected = logged_events(files)
    got = export(db_url, tmp_path)
    assert len(got) == len(expected)
    assert {sorted_json(event): event for event in got} == expected
    with engine.connect() as conn:
        # Each line hashes to the stored event's hash: the very event that was hashed.
        hashes = conn.exec_driver_sql("SELECT event_hash FROM raw_events").scalars()
        assert {bytes(h) for h in hashes} == {
            blake2b(text, digest_size=16).digest() for text in expected
        }


def test_export_events_keeps_to_its_days_and_sensor(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    files = variant_files("gz", tmp_path / "logs")
    Loader(engine).ingest(discover([str(p) for p in files]))
    with engine.connect() as conn:
        every = list(stored_events(conn))
        day_two = list(stored_events(conn, start=date(2024, 3, 2), end=date(2024, 3, 2)))
        sensor = list(stored_events(conn, sensor="honeypot-b"))
    assert day_two and all(e["timestamp"].startswith("2024-03-02") for e in day_two)
    assert len(day_two) < len(every)
    assert sensor and all(e.get("sensor") in ("honeypot-b", None, "") for e in sensor)
    got = export(db_url, tmp_path, "--start", "2024-03-02", "--end", "2024-03-02")
    assert got == day_two
