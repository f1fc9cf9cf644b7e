"""The string dictionary: each distinct command stored once, on both dialects, and the
migration that converts a populated database in place."""

from __future__ import annotations

import io
import json
import threading
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text

from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.db.migrate import downgrade, upgrade
from cowrieprocessor.db.strings import digest, intern
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.dal import ReportingDAL, Window
from cowrieprocessor.reporting.export import write_export
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import check, refresh_dirty


def test_intern_stores_each_text_once(engine: Engine) -> None:
    long = "echo " + "x" * 100_000  # longer than a PostgreSQL btree entry
    with engine.begin() as conn:
        first = intern(conn, ["id", long, "id", ""])
    with engine.begin() as conn:
        again = intern(conn, [long, "uname -a"])
        count = conn.exec_driver_sql("SELECT COUNT(*) FROM strings").scalar_one()
        stored = conn.execute(
            text("SELECT text FROM strings WHERE digest = :d"), {"d": digest(long)}
        ).scalar_one()
    assert set(first) == {"id", long, ""} and again[long] == first[long]
    assert count == 4 and stored == long


def test_concurrent_interns_agree(engine: Engine) -> None:
    """A text interned by a transaction not yet committed: the other one waits for it
    (PostgreSQL) or for the write lock (SQLite), then reads the same id."""
    got: dict[str, int] = {}
    with engine.connect() as first:
        first.execution_options(sqlite_begin="IMMEDIATE")
        first.begin()
        mine = intern(first, ["wget http://a/b", "shared"])

        def other() -> None:
            with engine.connect() as conn:
                conn.execution_options(sqlite_begin="IMMEDIATE")  # as loaders write
                with conn.begin():
                    got.update(intern(conn, ["shared", "only-other"]))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the first transaction
        first.commit()
    thread.join(30)
    assert got["shared"] == mine["shared"] and got["only-other"] not in mine.values()


def _reports(engine: Engine) -> dict[str, object]:
    """Every report type of the sample data's first week and month, and the command export."""
    maker = create_session_maker(engine)
    docs: dict[str, object] = {}
    days = {"daily": date(2024, 3, 2), "weekly": date(2024, 3, 1), "monthly": date(2024, 3, 1)}
    for kind, day in days.items():
        period = Period.containing(kind, day)
        for sensor in (None, "honeypot-a"):
            doc = builder_for(kind)(maker).build(period, sensor=sensor)
            doc.pop("generated_at")
            docs[f"{kind}:{sensor}"] = doc
    with maker() as session:
        out = io.StringIO()
        write_export(
            ReportingDAL(session),
            "commands",
            Window(date(2024, 1, 1), date(2024, 12, 31)),
            "csv",
            out,
        )
        docs["export"] = out.getvalue()
    return docs


def test_migration_converts_a_populated_database(empty_db_url: str, tmp_path: Path) -> None:
    """Loaded at the head, taken back to 0013 (commands as text everywhere) and up again:
    every report and the export are the same, and the rollups equal their views."""
    from report_data import dirty_logs

    engine = create_engine_for_url(empty_db_url)
    try:
        upgrade(engine)
        extra = tmp_path / "unicode.json"  # a long non-ASCII command: digests of UTF-8
        command = "echo ünïcödé ✓ 🐍 " + "x" * 5000
        event = {"eventid": "cowrie.command.input", "session": "u1", "sensor": "honeypot-a"}
        event |= {"timestamp": "2024-03-02T10:00:00Z", "input": command}
        extra.write_text(json.dumps(event) + "\n", encoding="utf-8")
        Loader(engine).ingest([*dirty_logs(tmp_path / "logs"), extra])
        refresh_dirty(engine)
        before = _reports(engine)
        assert any(d["commands"]["top_commands"] for d in before.values() if isinstance(d, dict))
        downgrade(engine, "0013")
        with engine.connect() as conn:
            columns = conn.exec_driver_sql("SELECT * FROM command_stats").keys()
        assert "command" in columns and "command_id" not in columns
        upgrade(engine)
        assert check(engine) == []
        assert _reports(engine) == before
        with engine.connect() as conn:  # the migration's SQL digest is the library's
            stored = conn.exec_driver_sql("SELECT digest, text FROM strings").all()
        assert command in {t for _, t in stored}
        assert all(bytes(d) == digest(t) for d, t in stored)
    finally:
        engine.dispose()
