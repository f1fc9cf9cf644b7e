"""The docs say what the code does (in the style of sqlite-utils' and datasette's doc tests):
every command and option in docs/cli.md, which is generated from the commands and must be
fresh, every rollup in docs/architecture.md, every report field in docs/report-schema.md,
and no link that leaves the repository."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
import pytest
from report_data import dirty_logs

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
from cowrieprocessor.db.migrate import upgrade
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.definitions import PERIOD_VALUES, ROLLUPS
from cowrieprocessor.rollups.refresh import refresh_dirty

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "scripts"))
import cli_reference  # noqa: E402


def _commands() -> list[tuple[str, click.Context, click.Command]]:
    """Every command and group with its path (``cowrie-report db upgrade``)."""
    found = []

    def walk(ctx: click.Context, command: click.Command, path: str) -> None:
        found.append((path, ctx, command))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(click.Context(sub, info_name=name, parent=ctx), sub, f"{path} {name}")

    walk(
        click.Context(cli, info_name="cowrie-report", **cli.context_settings), cli, "cowrie-report"
    )
    return found


def test_cli_reference_is_fresh() -> None:
    """docs/cli.md is what scripts/cli_reference.py writes from the commands now."""
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == cli_reference.render(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_reference.py"
    )


def test_every_command_and_option_is_documented() -> None:
    reference = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {path.split(" ", 1)[-1] for path, _, _ in commands} >= {"show", "ingest", "db upgrade"}
    for path, ctx, command in commands:
        assert f"## `{path}`" in reference, path
        assert command.help and command.help.strip(), f"{path} has no help text"
        for param in command.get_params(ctx):
            if isinstance(param, click.Argument):
                # Arguments are explained in the command's own text.
                assert param.name is not None and param.name.upper() in command.help, (
                    f"{path}: argument {param.name} is not explained"
                )
                continue
            record = param.get_help_record(ctx)
            assert record is not None and record[1].strip(), f"{path} {param.opts}: no help"
            for opt in (*param.opts, *param.secondary_opts):
                assert opt in reference, f"{path} {opt} missing from docs/cli.md"


def test_readme_commands_exist() -> None:
    """Every ``cowrie-report X`` the README shows is a command."""
    names = set(cli.list_commands(click.Context(cli)))
    shown = re.findall(r"cowrie-report ([a-z][a-z-]*)", (ROOT / "README.md").read_text())
    assert shown and set(shown) <= names, set(shown) - names


def _row(text: str, name: str) -> str:
    """The row of rollup ``name`` in the rollup table (the one headed ``| rollup |``)."""
    table = text[text.index("| rollup |") :].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if f"`{name}`" in line]
    assert rows, f"rollup {name} has no row in the rollup table of docs/architecture.md"
    return rows[0]


def test_every_rollup_is_in_architecture() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    for rollup in ROLLUPS:
        row = _row(text, rollup.name)
        for column in (*rollup.key[2:], *rollup.values):  # after (day, sensor)
            assert re.search(rf"\b{column}\b", row), f"{rollup.name}.{column} not in its row"
        assert any((ROOT / "sql" / "views").glob(f"{rollup.name}_v{rollup.version}.*sql"))
    assert f"### Per-period rollup `{PERIOD_VALUES.name}`" in text
    section = text[text.index(f"### Per-period rollup `{PERIOD_VALUES.name}`") :]
    for column in PERIOD_VALUES.columns:
        assert re.search(rf"\b{column}\b", section), f"{PERIOD_VALUES.name}.{column}"


def _keys(value: Any, path: str = "") -> set[tuple[str, str]]:
    """(path, key) of every object key of a document; maps keyed by data are skipped."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        data_keyed = path.endswith(("protocols", "alerts_summary"))
        for key, item in value.items():
            if not data_keyed:
                found.add((path, key))
            found |= _keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= _keys(item, f"{path}[]")
    return found


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Real documents of each type, with both kinds of alert."""
    tmp = tmp_path_factory.mktemp("docs")
    engine = create_engine_for_url(f"sqlite:///{tmp / 'cowrie.sqlite'}")
    try:
        upgrade(engine)
        Loader(engine).ingest(dirty_logs(tmp / "logs"))
        refresh_dirty(engine)
        docs = []
        for report_type in ("daily", "weekly", "monthly"):
            for day in (date(2024, 3, 1), date(2024, 3, 4), date(2024, 3, 6)):
                builder = builder_for(report_type)(create_session_maker(engine))
                docs.append(builder.build(Period.containing(report_type, day)))
    finally:
        engine.dispose()
    return docs


def test_every_report_field_is_in_the_schema(documents: list[dict[str, Any]]) -> None:
    alerts = {a["type"] for d in documents for a in d["alerts"]}
    assert alerts == {"ip_spike", "new_vt_classification"}, "the data must raise both alerts"
    text = (DOCS / "report-schema.md").read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # examples do not define fields
    missing = sorted(
        f"{path}.{key}".lstrip(".")
        for path, key in set().union(*(_keys(d) for d in documents))
        if f"`{key}`" not in text and f'"{key}"' not in text
    )
    assert not missing, f"fields not in docs/report-schema.md: {missing}"


def _links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=str)
def test_links_stay_in_the_repository(page: Path) -> None:
    for target in _links(page):
        if target.startswith(("http://", "https://", "#")):
            continue
        resolved = (page.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
    text = page.read_text(encoding="utf-8")
    assert "/work/" not in text and "../shared/" not in text, f"{page.name} points outside"
