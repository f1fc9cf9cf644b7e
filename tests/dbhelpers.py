"""Helpers for tests that read whole tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def table_rows(
    engine: Engine, table: str, order_by: str, exclude: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """All rows of a table as dicts (minus ``exclude`` columns), in a stable order."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {order_by}")).mappings().all()
    return [{k: v for k, v in row.items() if k not in exclude} for row in rows]
