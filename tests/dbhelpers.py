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
        "raw_events": raw_events(engine),
        "session_summaries": table_rows(
            engine, "session_summaries", "sensor, session_id", VOLATILE
        ),
        "command_stats": command_stats(engine),
        "files": table_rows(
            engine, "files", "sensor, session_id, direction, url, shasum, outfile", VOLATILE
        ),
    }


def raw_events(engine: Engine) -> list[dict[str, Any]]:
    """``raw_events`` with each instance uuid as its text, at any revision."""
    return _ids_as_texts(engine, "raw_events", "instance_id", "instance", "event_hash")


def command_stats(engine: Engine) -> list[dict[str, Any]]:
    """``command_stats`` with each command as its text, at any revision."""
    order = "sensor, session_id, command"
    return _ids_as_texts(engine, "command_stats", "command_id", "command", order)


def _ids_as_texts(
    engine: Engine, table: str, id_column: str, name: str, order_by: str
) -> list[dict[str, Any]]:
    """``table``'s rows with the ``strings`` id in ``id_column`` read back as the text
    ``name`` (ids depend on the load order); the rows as they are at a revision without it."""
    from sqlalchemy import inspect

    if id_column not in {c["name"] for c in inspect(engine).get_columns(table)}:
        return table_rows(engine, table, order_by, VOLATILE)
    texts = (
        f"(SELECT x.*, s.text AS {name} FROM {table} x LEFT JOIN strings s ON s.id = x.{id_column})"
    )
    return table_rows(engine, f"{texts} AS t", order_by, (*VOLATILE, id_column))


#: A rollup's string ids read back as texts (ids depend on the load order), and the order.
_AS_TEXT = {
    "daily_commands": (
        "SELECT r.*, s.text AS command FROM daily_commands r JOIN strings s ON s.id = r.command_id",
        "day, sensor, command",
    ),
    "period_values": (
        "SELECT r.*, COALESCE(s.text, r.value) AS text FROM period_values r"
        " LEFT JOIN strings s ON s.id = r.value_id",
        "kind, period_start, figure, sensor, text",
    ),
}


def rollup_snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every rollup table (what every report reads), in key order, with texts for ids."""
    from cowrieprocessor.rollups.definitions import ALL_ROLLUPS

    snap = {}
    for r in ALL_ROLLUPS:
        if r.name in _AS_TEXT:
            query, order = _AS_TEXT[r.name]
            ids = ("command_id", "value_id")
            snap[r.name] = table_rows(engine, f"({query}) AS t", order, ids)
        else:
            snap[r.name] = table_rows(engine, r.name, ", ".join(r.key))
    return snap


def store_at_0013(conn: Any, sessions: Any, known: Any, stamp: str) -> None:
    """Write session rows as the loader of revision 0013 did (commands as text): the
    migration's frozen copy of it."""
    import importlib.util

    from cowrieprocessor.resources import alembic_dir

    path = alembic_dir() / "versions" / "0013_reliable_ingest.py"
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._store(conn, sessions, known, stamp)


def refresh_at_old_revision(engine: Engine) -> None:
    """Refresh the dirty buckets of a database at an older revision, as that revision's
    code would: today's refresh writes today's schema (command ids, ``period_values`` v2).
    Each existing daily rollup's bucket is replaced by its live view's rows, then
    ``period_values`` by its live view."""
    from sqlalchemy import inspect

    from cowrieprocessor.rollups.definitions import ALL_ROLLUPS

    schema = inspect(engine)
    tables = set(schema.get_table_names())
    rollups = [r.name for r in ALL_ROLLUPS if r.name in tables]
    columns = {name: ", ".join(c["name"] for c in schema.get_columns(name)) for name in rollups}
    where = "WHERE day = :day AND sensor = :sensor"
    with engine.begin() as conn:
        buckets = conn.exec_driver_sql("SELECT day, sensor FROM rollup_dirty").all()
        for name in rollups:
            fill = f"INSERT INTO {name} ({columns[name]}) SELECT {columns[name]} FROM {name}_live"
            if name == "period_values":
                conn.exec_driver_sql(f"DELETE FROM {name}")
                conn.exec_driver_sql(fill)
                continue
            for day, sensor in buckets:
                bucket = {"day": day, "sensor": sensor}
                conn.execute(text(f"DELETE FROM {name} {where}"), bucket)
                conn.execute(text(f"{fill} {where}"), bucket)
        conn.exec_driver_sql("DELETE FROM rollup_dirty")


def rollups_as_defined(engine: Engine) -> list[Any]:
    """The rollups whose tables exist with today's columns (at an older revision, the
    others are absent or built differently: today's ``check`` cannot read them)."""
    from sqlalchemy import inspect

    from cowrieprocessor.rollups.definitions import ALL_ROLLUPS

    schema = inspect(engine)
    tables = set(schema.get_table_names())
    return [
        r
        for r in ALL_ROLLUPS
        if r.name in tables and tuple(c["name"] for c in schema.get_columns(r.name)) == r.columns
    ]
