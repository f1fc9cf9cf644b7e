"""Locate the Alembic scripts and view SQL in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the {name!r} directory next to {_PACKAGE_DIR}")


def alembic_dir() -> Path:
    """Directory holding ``env.py`` and ``versions/``."""
    return _find("alembic")


def views_dir() -> Path:
    """Directory holding one ``.sql`` file per rollup view."""
    return _find("sql") / "views"
