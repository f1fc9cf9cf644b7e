"""Shared fixtures: real SQLite files and real PostgreSQL databases, one per test.

PostgreSQL comes from ``COWRIE_TEST_PG_URL`` (default: the local server). Tests never skip
PostgreSQL silently: if the server is unreachable the PostgreSQL tests fail, unless
``COWRIE_TEST_SKIP_PG=1`` says to leave them out on purpose.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy_utils import create_database, database_exists, drop_database

from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import upgrade

PG_URL = os.environ.get("COWRIE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("COWRIE_TEST_SKIP_PG") == "1"
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_TEMPLATE = f"cowrie_tpl_{os.getpid()}"


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head, cloned by each test (fast)."""
    if SKIP_PG:
        pytest.skip("COWRIE_TEST_SKIP_PG=1")
    url = _pg_url(_TEMPLATE)
    if database_exists(url):
        drop_database(url)
    create_database(url)
    engine = create_engine_for_url(url)
    upgrade(engine)
    engine.dispose()
    yield _TEMPLATE
    drop_database(url)


def _new_pg_database(template: str | None) -> str:
    url = _pg_url(f"cowrie_t_{uuid.uuid4().hex[:12]}")
    create_database(url, template=template or "template1")
    return url


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def db_url(dialect: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh database at the newest schema revision."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'cowrie.sqlite'}"
        engine = create_engine_for_url(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    url = _new_pg_database(template)
    yield url
    drop_database(url)


@pytest.fixture
def empty_db_url(dialect: str, tmp_path) -> Iterator[str]:
    """URL of a fresh, empty database (no schema)."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    if SKIP_PG:
        pytest.skip("COWRIE_TEST_SKIP_PG=1")
    url = _new_pg_database(None)
    yield url
    drop_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on ``db_url``, disposed after the test."""
    eng = create_engine_for_url(db_url)
    yield eng
    eng.dispose()
