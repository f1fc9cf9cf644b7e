"""WAL checkpoints from a helper thread during a SQLite load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cowrieprocessor.db import checkpoints
from cowrieprocessor.db.engine import create_engine_for_url


def test_helper_thread_checkpoints_while_the_writer_only_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "INTERVAL", 0.01)
    path = tmp_path / "db.sqlite"
    engine = create_engine_for_url(f"sqlite:///{path}")
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        raw = conn.connection.driver_connection  # PRAGMAs outside SQLAlchemy's transactions
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size_before = path.stat().st_size
        with checkpoints.background_checkpoints(conn):
            limit = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            assert limit == checkpoints.WRITER_LIMIT  # the writer no longer checkpoints
            with conn.begin():  # about 2,000 pages: past SQLite's default threshold
                conn.exec_driver_sql(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                    " WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(2000)) FROM n"
                )
            deadline = time.monotonic() + 10
            while path.stat().st_size <= size_before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert path.stat().st_size > size_before, "no checkpoint copied the WAL back"
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == checkpoints.DEFAULT_LIMIT
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM t").scalar() == 2000
    engine.dispose()
