"""A sensor called ``aggregate`` never collides with the report of all sensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import parse_period
from cowrieprocessor.rollups.refresh import rebuild_all
from cowrieprocessor.sensors import AGGREGATE, PROBLEMS, sensor_name_problem


def run(db_url: str, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--db", db_url, "--status-dir", str(tmp_path / "status"), *args]
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("aggregate", "reserved_sensor"),
        ("", "bad_sensor"),
        ("s" * 256, "bad_sensor"),
        ("s" * 255, None),
        ("Aggregate", None),  # reports and document ids keep the case
        ("aggregate-2", None),
        ("honeypot-a", None),
    ],
)
def test_sensor_name_rule(name: str, problem: str | None) -> None:
    assert sensor_name_problem(name) == problem
    if problem is not None:
        assert problem in PROBLEMS


def test_ingest_refuses_the_reserved_name_as_default_sensor(
    empty_db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "cowrie.json"
    log.write_text("")
    result = run(empty_db_url, tmp_path, "ingest", str(log), "--sensor", AGGREGATE)
    assert result.exit_code == 2
    assert PROBLEMS["reserved_sensor"] in result.stderr


def _event(session: str, sensor: str, second: int) -> dict[str, str]:
    return {
        "eventid": "cowrie.session.connect",
        "timestamp": f"2024-03-01T10:00:{second:02d}Z",
        "session": session,
        "sensor": sensor,
        "src_ip": f"192.0.2.{second}",
    }


@pytest.fixture
def legacy_db(db_url: str, tmp_path: Path) -> str:
    """A database holding sessions of a sensor called 'aggregate', as one loaded before the
    name was reserved would: two sessions of 's1', one of the renamed sensor."""
    log = tmp_path / "cowrie.json"
    events = [_event("a1", "s1", 1), _event("a2", "s1", 2), _event("b1", "renamed", 3)]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    engine = create_engine_for_url(db_url)
    try:
        Loader(engine).ingest([log])
        with engine.begin() as conn:
            for table in ("raw_events", "session_summaries", "rollup_dirty"):
                conn.exec_driver_sql(
                    f"UPDATE {table} SET sensor = 'aggregate' WHERE sensor = 'renamed'"
                )
        rebuild_all(engine)
    finally:
        engine.dispose()
    return db_url


def test_all_sensors_yields_one_aggregate_document(legacy_db: str, tmp_path: Path) -> None:
    result = run(legacy_db, tmp_path, "show", "daily", "2024-03-01", "--all-sensors",
                 "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["sensor"] for d in docs] == [AGGREGATE, "s1"]
    assert [d["sessions"]["total"] for d in docs] == [3, 2]  # the aggregate counts all three
    assert f"skipping the sensor 'aggregate': {PROBLEMS['reserved_sensor']}" in result.stderr


def test_a_report_of_the_reserved_sensor_is_refused(legacy_db: str, tmp_path: Path) -> None:
    result = run(legacy_db, tmp_path, "show", "daily", "2024-03-01", "--sensor", AGGREGATE)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: {PROBLEMS['reserved_sensor']}: leave out --sensor for that report"
    )
    engine: Engine = create_engine_for_url(legacy_db)
    try:
        builder = builder_for("daily")(create_session_maker(engine))
        with pytest.raises(ValueError, match="reserved"):
            builder.build(parse_period("daily", "2024-03-01"), AGGREGATE)
    finally:
        engine.dispose()
