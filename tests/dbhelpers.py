"""Helpers for tests that read whole tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

#: Columns that record when something was written rather than what the data says.
VOLATILE = (
    "id",
    "updated_at",
    "ingested_at",
    "last_run_at",
    "first_seen",
    "source",
    "source_id",
    "source_offset",
)


def table_rows(
    engine: Engine, table: str, order_by: str, exclude: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """All rows of a table as dicts (minus ``exclude`` columns), in a stable order."""
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {order_by}")).mappings().all()
    return [{k: v for k, v in row.items() if k not in exclude} for row in rows]


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every derived table, minus bookkeeping columns, for equality checks."""
    return {
        "raw_events": table_rows(engine, "raw_events", "event_hash", VOLATILE),
        "session_summaries": table_rows(
            engine, "session_summaries", "sensor, session_id", VOLATILE
        ),
        "command_stats": table_rows(
            engine, "command_stats", "sensor, session_id, command", VOLATILE
        ),
        "files": table_rows(
            engine, "files", "sensor, session_id, direction, url, shasum, outfile", VOLATILE
        ),
    }


def rollup_snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every rollup table (what every report reads), in key order."""
    from cowrieprocessor.rollups.definitions import ALL_ROLLUPS

    return {r.name: table_rows(engine, r.name, ", ".join(r.key)) for r in ALL_ROLLUPS}
