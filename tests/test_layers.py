"""Where each concern lives, checked on the imports (docs/architecture.md).

Command modules of ``cli/`` never import each other: what several share is in
``cli/common.py`` (and the Elasticsearch options in ``cli/es_options.py``). Rich appears
only where something is drawn.
"""

from __future__ import annotations

import ast
from pathlib import Path

import cowrieprocessor

PACKAGE = Path(cowrieprocessor.__file__).parent
#: CLI modules any command may import.
SHARED_CLI = {"cowrieprocessor.cli.common", "cowrieprocessor.cli.es_options"}
#: Modules that draw, and so may import Rich.
DRAWING = {"cowrieprocessor.monitor", "cowrieprocessor.reporting.render"}
#: Draws nothing, but escapes text with Rich's own escaper for the modules that do.
RICH_MARKUP = {"cowrieprocessor.reporting.safe_text"}


def _modules() -> dict[str, set[str]]:
    """Every module of the package -> the modules it imports (anywhere in it)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        found[name] = imported
    return found


def test_command_modules_do_not_import_each_other() -> None:
    modules = _modules()
    commands = [m for m in modules if m.startswith("cowrieprocessor.cli.")]
    assert "cowrieprocessor.cli.show" in commands
    for module in commands:
        if module in SHARED_CLI:
            continue
        others = {
            m for m in modules[module] if m.startswith("cowrieprocessor.cli.") and m != module
        }
        assert others <= SHARED_CLI, f"{module} imports {sorted(others - SHARED_CLI)}"


def test_only_what_draws_imports_rich() -> None:
    for module, imported in _modules().items():
        if module.startswith("cowrieprocessor.cli") or module in DRAWING | RICH_MARKUP:
            continue
        rich = {m for m in imported if m == "rich" or m.startswith("rich.")}
        assert not rich, f"{module} imports {sorted(rich)}"
