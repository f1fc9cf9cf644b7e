"""Developer tasks: `nox -s tests`, `nox -s lint`, `nox -s typecheck`, `nox -s bench`,
`nox -s bench_refresh`, `nox -s bench_reports`, `nox -s bench_storage` (docs/benchmarks.md),
`nox -s bench_scale` (docs/scaling.md)."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.default_venv_backend = "venv"


def _install(session: nox.Session, group: str) -> None:
    session.install("--upgrade", "pip>=25.1")
    session.install("--group", group, "-e", ".[html,postgresql,elasticsearch]")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite on SQLite and PostgreSQL (tests/conftest.py says which server)."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    _install(session, "lint")
    paths = ["cowrieprocessor", "tests", "alembic", "scripts", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over what `[tool.mypy]` in pyproject.toml names."""
    _install(session, "dev")  # the test group too: the package's testing helpers import it
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Ingest benchmark: events/s and peak RSS on SQLite and PostgreSQL (args pass through)."""
    _install(session, "test")
    session.run("python", "scripts/bench_ingest.py", *session.posargs)


@nox.session
def bench_refresh(session: nox.Session) -> None:
    """Rollup refresh benchmark, 1 and N days of history (args pass through)."""
    _install(session, "test")
    session.run("python", "scripts/bench_refresh.py", *session.posargs)


@nox.session
def bench_reports(session: nox.Session) -> None:
    """Report benchmark: `show` end to end against the same document from the base tables."""
    _install(session, "test")
    session.run("python", "scripts/bench_reports.py", *session.posargs)


@nox.session
def bench_storage(session: nox.Session) -> None:
    """Storage benchmark: database size / uncompressed input, awkward and real-log shapes."""
    _install(session, "test")
    session.run("python", "scripts/bench_storage.py", *session.posargs)


@nox.session
def bench_scale(session: nox.Session) -> None:
    """Scale-out benchmark: `ingest --jobs` 1, 2 and 4 on PostgreSQL, with CPU per event."""
    _install(session, "test")
    session.run("python", "scripts/bench_scale.py", *session.posargs)


@nox.session
def bench_rerun(session: nox.Session) -> None:
    """Unchanged re-run benchmark: an ingest's work beyond imports (--db URL PATHS)."""
    _install(session, "test")
    session.run("python", "scripts/bench_rerun.py", *session.posargs)
