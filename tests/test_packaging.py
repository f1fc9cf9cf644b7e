"""Packaging: one version, the license file, type information, and clear errors when an
optional extra (PostgreSQL, Elasticsearch) is not installed."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import cowrieprocessor

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert importlib.metadata.version("cowrieprocessor") == cowrieprocessor.__version__


def test_license_file_matches_the_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "BSD-3-Clause"
    text = (ROOT / project["license-files"][0]).read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License\n")
    assert "Copyright (c) 2026, the cowrieprocessor authors" in text
    assert (Path(cowrieprocessor.__file__).parent / "py.typed").is_file()


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "\n## [Unreleased]\n" in text


def _without(package: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``cowrie-report ARGS`` in a fresh interpreter in which ``package`` cannot be
    imported, as on an install without its extra."""
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"
        "from cowrieprocessor.cli.main import main\n"
        f"sys.argv = ['cowrie-report', *{list(args)!r}]\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args", [["publish", "daily", "--dry-run"], ["es-setup", "--es-host", "http://x"]]
)
def test_elasticsearch_commands_without_the_extra(args: list[str]) -> None:
    result = _without("elasticsearch", *args)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"Error: '{args[0]}' needs the elasticsearch extra:"
        " pip install 'cowrieprocessor[elasticsearch]'\n"
    )
    listing = _without("elasticsearch", "--help")
    assert (
        listing.returncode == 0
        and "show " in listing.stdout
        and "(not installed)" in (listing.stdout)
    )


def test_a_postgresql_url_without_the_extra(tmp_path: Path) -> None:
    result = _without("psycopg", "--db", "postgresql://nobody@127.0.0.1:9/none", "show", "daily")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "Error: PostgreSQL support is not installed: pip install 'cowrieprocessor[postgresql]'\n"
    )
    sqlite = _without("psycopg", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "db", "upgrade")
    assert sqlite.returncode == 0, sqlite.stderr  # the SQLite core needs neither extra
