"""Leaner raw_events: payload without what the columns hold, binary hashes, source ids,
primary key (event_timestamp, event_hash), monthly partitions on PostgreSQL.

raw_events is rebuilt in place:
- ``payload`` leaves out ``eventid``, ``session``, a ``src_ip`` string, the ``sensor`` of an
  event that names one and a ``timestamp`` in Cowrie's UTC form (``...123456Z``): the
  columns give them back exactly (``ingest/stored.py``; ``cowrie-report export events``).
  PostgreSQL stores it as ``json`` (text as written), no longer ``jsonb``.
- ``event_hash``: the 16 bytes of the BLAKE2b-128 digest, not 32 hex characters.
- ``source`` (the file path, on every row) becomes ``source_id`` into ``event_sources``.
- The ``id`` column and its index go; (event_timestamp, event_hash), unique already,
  becomes the primary key. No query looked events up by id.
- ``fallback_sensor`` is now set on every event that names no sensor (its fallback),
  so a stored event tells whether it named its sensor without its ``sensor`` field.
- PostgreSQL: the table is partitioned by month on ``event_timestamp`` (``raw_events_pYYYYMM``
  and ``raw_events_default``; ``db/partitions.py``).

The credential rollups read the payload: version 4 of their views (``json_typeof`` on
PostgreSQL; the same SQL as version 3 on SQLite). Their figures do not change.

Everything raw_events needs is frozen here (the payload rules, the partition DDL), so
later changes to the library cannot change what this migration does. On SQLite the space
the old table held is free pages afterwards: ``VACUUM`` returns it to the file system.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03
"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

from cowrieprocessor.rollups import ddl

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDENTIALS = ("daily_credentials", "daily_usernames", "daily_passwords")
LOGIN_EVENTS = "event_type IN ('cowrie.login.success', 'cowrie.login.failed')"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Rows copied per statement.
CHUNK = 5000


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for name in CREDENTIALS:
        ddl.drop_live_view(bind, name)
    op.create_table(
        "event_sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_sources"),
        sa.UniqueConstraint("path", name="uq_event_sources_path"),
    )
    bind.exec_driver_sql(
        "INSERT INTO event_sources (path) SELECT DISTINCT source FROM raw_events"
        " WHERE source IS NOT NULL ORDER BY source"
    )
    sources = dict(bind.exec_driver_sql("SELECT path, id FROM event_sources").all())
    _retire_old_table(bind, pk="pk_raw_events")
    op.create_table(
        "raw_events",
        sa.Column("event_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(16), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("src_ip", sa.String(64)),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("source_id", sa.Integer()),
        sa.Column("source_offset", sa.BigInteger()),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fallback_sensor", sa.String(255)),
        sa.PrimaryKeyConstraint("event_timestamp", "event_hash", name="pk_raw_events"),
        postgresql_partition_by="RANGE (event_timestamp)",
    )
    if pg:
        _create_partitions(bind)
    old = "SELECT event_hash, session_id, sensor, event_type, event_timestamp, src_ip,"
    old += " payload, source, source_offset, ingested_at, fallback_sensor FROM raw_events_old"
    columns = "event_timestamp, event_hash, session_id, sensor, event_type, src_ip, payload,"
    columns += " source_id, source_offset, ingested_at, fallback_sensor"
    for chunk in _chunks(bind, old, payload_at=6):
        rows = [_lean_row(row, sources) for row in chunk]
        _insert(bind, "raw_events", columns, rows)
    bind.exec_driver_sql("DROP TABLE raw_events_old")
    _create_indexes()
    for name in CREDENTIALS:
        ddl.create_live_view(bind, name, 4)


def downgrade() -> None:
    bind = op.get_bind()
    for name in CREDENTIALS:
        ddl.drop_live_view(bind, name)
    _retire_old_table(bind, pk="pk_raw_events")
    op.create_table(
        "raw_events",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("event_hash", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("event_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("src_ip", sa.String(64)),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
        sa.Column("source", sa.Text()),
        sa.Column("source_offset", sa.BigInteger()),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fallback_sensor", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_raw_events"),
        sa.UniqueConstraint(
            "event_timestamp", "event_hash", name="uq_raw_events_event_timestamp_event_hash"
        ),
    )
    paths = dict(bind.exec_driver_sql("SELECT id, path FROM event_sources").all())
    new = "SELECT event_hash, session_id, sensor, event_type, event_timestamp, src_ip,"
    new += " payload, source_id, source_offset, ingested_at, fallback_sensor FROM raw_events_old"
    new += " ORDER BY event_timestamp, event_hash"
    columns = "event_hash, session_id, sensor, event_type, event_timestamp, src_ip, payload,"
    columns += " source, source_offset, ingested_at, fallback_sensor"
    for chunk in _chunks(bind, new, payload_at=6):
        rows = [_whole_row(row, paths) for row in chunk]
        _insert(bind, "raw_events", columns, rows)
    bind.exec_driver_sql("DROP TABLE raw_events_old")  # its partitions with it
    _create_indexes()
    op.drop_table("event_sources")
    for name in CREDENTIALS:
        ddl.create_live_view(bind, name, 3)


# -- the table swap ---------------------------------------------------------------------


def _retire_old_table(bind: Connection, *, pk: str) -> None:
    """Rename raw_events to raw_events_old, freeing the names of its indexes."""
    for index in ("ix_raw_events_sensor_session_id", "ix_raw_events_logins"):
        bind.exec_driver_sql(f"DROP INDEX {index}")
    bind.exec_driver_sql("ALTER TABLE raw_events RENAME TO raw_events_old")
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE raw_events_old RENAME CONSTRAINT {pk} TO {pk}_old")
        bind.exec_driver_sql(
            "ALTER TABLE raw_events_old DROP CONSTRAINT IF EXISTS"
            " uq_raw_events_event_timestamp_event_hash"
        )


def _create_indexes() -> None:
    op.create_index("ix_raw_events_sensor_session_id", "raw_events", ["sensor", "session_id"])
    op.create_index(
        "ix_raw_events_logins",
        "raw_events",
        ["sensor", "session_id"],
        sqlite_where=sa.text(LOGIN_EVENTS),
        postgresql_where=sa.text(LOGIN_EVENTS),
    )


def _create_partitions(bind: Connection) -> None:
    """The default partition and one per month the stored events cover (2000 to a year
    ahead, as db/partitions.py does at this revision)."""
    bind.exec_driver_sql("CREATE TABLE raw_events_default PARTITION OF raw_events DEFAULT")
    months = bind.exec_driver_sql(
        "SELECT DISTINCT CAST(date_trunc('month', event_timestamp AT TIME ZONE 'UTC') AS date)"
        " FROM raw_events_old WHERE event_timestamp >= '2000-01-01 00:00:00+00'"
        " AND event_timestamp < now() + interval '13 months'"
    ).scalars()
    for first in months:
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        bind.exec_driver_sql(
            f"CREATE TABLE raw_events_p{first.year:04d}{first.month:02d} PARTITION OF raw_events"
            f" FOR VALUES FROM ('{first} 00:00:00+00') TO ('{after} 00:00:00+00')"
        )


def _chunks(bind: Connection, sql: str, *, payload_at: int) -> Iterator[list[list[Any]]]:
    """The rows of ``sql`` in chunks, the payload as text (streamed: no whole table in memory)."""
    if bind.dialect.name == "postgresql":
        sql = sql.replace(" payload,", " payload::text,", 1)
    streamed = {"stream_results": True, "yield_per": CHUNK}
    result = bind.exec_driver_sql(sql, execution_options=streamed)
    while chunk := result.fetchmany(CHUNK):
        yield [list(row) for row in chunk]


def _insert(bind: Connection, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if bind.dialect.name == "postgresql":
        raw = bind.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(rows[0]))
    bind.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


# -- the payload, as stored at this revision ----------------------------------------------


def _load(text: str) -> dict[str, Any]:
    return json.loads(text)  # integers of any size exactly


def _dump(value: dict[str, Any]) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _utc_text(value: datetime | str) -> str:
    """A stored timestamp as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLite stores it so)."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _cowrie_timestamp(utc: str) -> str:
    return f"{utc[:10]}T{utc[11:26]}Z"


def _lean_row(row: list[Any], sources: dict[str, int]) -> tuple[Any, ...]:
    digest, session_id, sensor, kind, ts, src_ip, text, source, offset, ingested, fallback = row
    event = _load(text)
    named = type(event.get("sensor")) is str and event["sensor"] != ""
    for key in ("eventid", "session"):
        event.pop(key, None)
    if named:
        del event["sensor"]
        fallback = None
    elif fallback is None:
        fallback = sensor  # it sat at its fallback
    if type(event.get("src_ip")) is str:
        del event["src_ip"]
    if event.get("timestamp") == _cowrie_timestamp(_utc_text(ts)):
        del event["timestamp"]
    source_id = None if source is None else sources[source]
    lean = (ts, bytes.fromhex(digest), session_id, sensor, kind, src_ip, _dump(event))
    return (*lean, source_id, offset, ingested, fallback)


def _whole_row(row: list[Any], paths: dict[int, str]) -> tuple[Any, ...]:
    digest, session_id, sensor, kind, ts, src_ip, text, source_id, offset, ingested, fallback = row
    event = _load(text)
    event["eventid"] = kind
    event["session"] = session_id
    if fallback is None:
        event["sensor"] = sensor
    if src_ip is not None:
        event["src_ip"] = src_ip
    if "timestamp" not in event:
        event["timestamp"] = _cowrie_timestamp(_utc_text(ts))
    source = None if source_id is None else paths[source_id]
    # Before 0016 the fallback was kept only for an event away from it.
    old_fallback = None if fallback in (None, sensor) else fallback
    whole = (bytes(digest).hex(), session_id, sensor, kind, ts, src_ip, _dump(event))
    return (*whole, source, offset, ingested, old_fallback)
