"""Engine set-up: the SQLite settings every connection gets, and URL errors."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from cowrieprocessor.db.engine import DatabaseURLError, create_engine_for_url
from cowrieprocessor.db.migrate import current_revision, ensure_schema, head_revision


def _pragma(engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()


def test_a_new_sqlite_database_gets_8k_pages_in_wal_mode(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'new.sqlite'}")
    try:
        ensure_schema(engine)
        assert _pragma(engine, "page_size") == 8192
        assert _pragma(engine, "journal_mode") == "wal"
        assert _pragma(engine, "auto_vacuum") == 2  # INCREMENTAL: prune frees pages
    finally:
        engine.dispose()


def test_an_existing_sqlite_database_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as old:  # a database made before 8k pages were asked for
        old.execute("PRAGMA page_size=4096")
        old.execute("CREATE TABLE made_before (x INTEGER)")
        old.commit()
    engine = create_engine_for_url(f"sqlite:///{path}")
    try:
        ensure_schema(engine)
        assert current_revision(engine) == head_revision()
        assert _pragma(engine, "page_size") == 4096
        assert _pragma(engine, "journal_mode") == "wal"
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["not a url", "mysql://localhost/x"])
def test_unusable_urls_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(DatabaseURLError):
        create_engine_for_url(url)
