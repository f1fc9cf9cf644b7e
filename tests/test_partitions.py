"""Month partitions of raw_events on PostgreSQL; nothing to do on SQLite."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cowrieprocessor.db import partitions
from cowrieprocessor.db.partitions import (
    drop_months_before,
    ensure_month_partitions,
    month_partitions,
)
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.events import stored_events

POSTGRESQL = pytest.mark.parametrize(
    "dialect", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


def event(day: str, session: str = "p1") -> dict:
    return {
        "eventid": "cowrie.session.connect",
        "timestamp": f"{day}T10:00:00.000000Z",
        "session": session,
        "sensor": "s",
        "src_ip": "192.0.2.1",
    }


def load(engine: Engine, tmp_path: Path, days: list[str]) -> None:
    log = tmp_path / f"cowrie-{len(list(tmp_path.iterdir()))}.json"
    log.write_text("".join(json.dumps(event(d, f"s{i}")) + "\n" for i, d in enumerate(days)))
    Loader(engine).ingest([log])


def where(engine: Engine) -> dict[str, int]:
    """Rows per partition."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT tableoid::regclass::text, COUNT(*) FROM raw_events GROUP BY 1"
        ).all()
    return dict(rows)


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_sqlite_has_no_partitions(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, ["2024-01-31", "2024-02-01"])
    with engine.begin() as conn:
        ensure_month_partitions(conn, [date(2024, 1, 1)])
        assert month_partitions(conn) == []
        assert drop_months_before(conn, date(2030, 1, 1)) == []
        assert len(list(stored_events(conn))) == 2


@POSTGRESQL
def test_the_loader_creates_the_months_it_needs(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, ["2024-01-31", "2024-02-01", "2024-02-29", "1999-12-31"])
    with engine.connect() as conn:
        assert month_partitions(conn) == [
            (date(2024, 1, 1), "raw_events_p202401"),
            (date(2024, 2, 1), "raw_events_p202402"),
        ]
    # Before 2000 is outside the partition window: the default partition holds it.
    assert where(engine) == {
        "raw_events_p202401": 1,
        "raw_events_p202402": 2,
        "raw_events_default": 1,
    }


@POSTGRESQL
def test_events_in_the_default_partition_move_to_their_new_month(
    engine: Engine, tmp_path: Path
) -> None:
    load(engine, tmp_path, ["2024-03-05"])
    with engine.begin() as conn:  # an April event stored before April had a partition
        conn.exec_driver_sql(
            "INSERT INTO raw_events SELECT event_timestamp + interval '1 month', event_hash,"
            " session_id, sensor, event_type, src_ip, payload, source_id, source_offset,"
            " ingested_at, fallback_sensor FROM raw_events"
        )
    assert where(engine) == {"raw_events_p202403": 1, "raw_events_default": 1}
    partitions._known.clear()  # a new process
    with engine.begin() as conn:
        ensure_month_partitions(conn, [date(2024, 4, 30)])
    assert where(engine) == {"raw_events_p202403": 1, "raw_events_p202404": 1}


@POSTGRESQL
def test_concurrent_loaders_create_a_month_once(engine: Engine) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with engine.begin() as conn:
                ensure_month_partitions(conn, [date(2025, m, 1) for m in range(1, 13)])
        except BaseException as exc:
            errors.append(exc)

    partitions._known.clear()
    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as conn:
        assert [first.month for first, _ in month_partitions(conn)] == list(range(1, 13))


@POSTGRESQL
def test_drop_months_before_drops_whole_months_only(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path, ["2024-01-15", "2024-02-15", "2024-03-15"])
    with engine.begin() as conn:
        assert drop_months_before(conn, date(2024, 3, 1)) == [
            "raw_events_p202401",
            "raw_events_p202402",
        ]
        assert drop_months_before(conn, date(2024, 3, 31)) == []  # March is not over
    with engine.connect() as conn:
        assert [e["timestamp"][:10] for e in stored_events(conn)] == ["2024-03-15"]
    load(engine, tmp_path, ["2024-01-20"])  # January again: its partition comes back
    assert where(engine) == {"raw_events_p202401": 1, "raw_events_p202403": 1}


@POSTGRESQL
def test_a_load_that_grows_raw_events_analyzes_it(engine: Engine, tmp_path: Path) -> None:
    """Autovacuum never analyzes a partitioned parent: a load that adds a tenth of the
    events or more does, so the rollups' per-session lookups use the session index."""

    def estimate() -> float:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = 'raw_events'::regclass"
            ).scalar_one()

    assert estimate() < 0  # never analyzed
    load(engine, tmp_path, [f"2024-01-{d:02d}" for d in range(1, 29)] * 10)
    assert estimate() == 280
    load(engine, tmp_path, ["2024-02-01"] * 5)  # under a tenth: left to the next big load
    assert estimate() == 280
    with engine.begin() as conn:
        assert not partitions.analyze_if_grown(conn, 0)
        assert partitions.analyze_if_grown(conn, 28)
    assert estimate() == 285
