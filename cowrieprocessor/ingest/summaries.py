"""Store per-session tables (summaries, command stats, files) for the sessions a batch touched.

The loader lists the batch's sessions in ``touched`` (a temporary table); this
module finds which of them the database already knows, reads back all events of those,
and replaces their derived rows with what :class:`SessionFacts` computes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select, tuple_

from cowrieprocessor.db.bulk import insert_rows
from cowrieprocessor.db.models import CommandStat, FileTransfer, RawEvent, SessionSummary
from cowrieprocessor.db.strings import intern
from cowrieprocessor.ingest import touched
from cowrieprocessor.ingest.batches import HASH, TIMESTAMP, EventRow, SessionKey, SessionRows
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.sessions import (
    COMMAND_COLUMNS,
    FILE_COLUMNS,
    SUMMARY_COLUMNS,
    SessionFacts,
)
from cowrieprocessor.ingest.stored import event_columns

_summaries = SessionSummary.__table__
_commands = CommandStat.__table__
_files = FileTransfer.__table__
_raw = RawEvent.__table__
_COMPUTED = [
    c.name
    for c in _summaries.columns
    if c.name not in ("sensor", "session_id", "dshield_flagged", "enrichment")
]


def stored_sessions(conn: Connection) -> dict[SessionKey, datetime]:
    """Stored sessions that share a session id with a touched one (the touched ones that are
    stored among them), with when each summary was last written.

    Looked up per touched session through the session id index, never by a scan.
    """
    rows = conn.exec_driver_sql(
        "SELECT s.sensor, s.session_id, s.updated_at"
        f" FROM {touched.NAME} t CROSS JOIN session_summaries s"
        " WHERE s.session_id = t.session_id"
    )
    return {(sensor, session_id): _as_datetime(updated) for sensor, session_id, updated in rows}


def _as_datetime(value: datetime | str) -> datetime:
    """A stored UTC timestamp (SQLite returns its text) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def stored_hashes(conn: Connection) -> set[bytes]:
    """Hashes of every stored event of the touched sessions.

    An event's hash covers its session and sensor, so a stored copy of a batch's event is
    among these. Looked up per session (its index), never by scanning ``raw_events``.
    """
    return set(
        conn.exec_driver_sql(
            f"SELECT r.event_hash FROM {touched.NAME} t CROSS JOIN raw_events r"
            " WHERE r.sensor = t.sensor AND r.session_id = t.session_id"
        ).scalars()
    )


def known_hashes(
    conn: Connection, events: Sequence[EventRow], *, inserted_at: datetime | None = None
) -> set[bytes]:
    """Hashes of those ``events`` that are stored (by the batch of ``inserted_at``, if given).

    Looked up by (timestamp, hash), the leading columns of the unique index; meant for a
    handful of events (SQLite scans the index for such a list).
    """
    found: set[bytes] = set()
    key = tuple_(_raw.c.event_timestamp, _raw.c.event_hash)
    for i in range(0, len(events), 400):
        pairs = [(datetime.fromisoformat(e[TIMESTAMP]), e[HASH]) for e in events[i : i + 400]]
        query = select(_raw.c.event_hash).where(key.in_(pairs))
        if inserted_at is not None:
            query = query.where(_raw.c.ingested_at == inserted_at)
        found.update(conn.scalars(query))
    return found


def _events_sql(dialect: str) -> str:
    """Every stored event of the touched sessions (:func:`~cowrieprocessor.ingest.stored.
    event_columns`)."""
    # The touched sessions first (CROSS JOIN fixes SQLite's join order): index lookups per
    # session, never a scan of raw_events.
    return (
        f"SELECT {event_columns(dialect)} FROM {touched.NAME} t CROSS JOIN raw_events r"
        " WHERE r.sensor = t.sensor AND r.session_id = t.session_id"
    )


def load_facts(conn: Connection) -> dict[SessionKey, SessionFacts]:
    """Every stored event of the touched sessions, folded into :class:`SessionFacts`."""
    facts: dict[SessionKey, SessionFacts] = {}
    sql = _events_sql(conn.dialect.name)
    for sensor, session_id, event_type, ts, event_hash, src_ip, payload, _ in conn.exec_driver_sql(
        sql
    ):
        key = (sensor, session_id)
        session = facts.get(key)
        if session is None:
            session = facts[key] = SessionFacts(sensor, session_id)
        session.add(event_type, ts, event_hash, src_ip, load_json(payload))
    return facts


def session_events(conn: Connection, keys: Iterable[SessionKey]) -> Sequence[Row[Any]]:
    """Every stored event of the sessions ``keys`` (rows as ``stored.event_columns`` says);
    the touched list holds ``keys`` afterwards."""
    touched.replace(conn, keys)
    return conn.exec_driver_sql(_events_sql(conn.dialect.name)).all()


def delete_sessions(conn: Connection, keys: Collection[SessionKey]) -> None:
    """Delete the summaries of ``keys`` (sessions left without events)."""
    if keys:
        key = tuple_(SessionSummary.sensor, SessionSummary.session_id)
        conn.execute(delete(SessionSummary).where(key.in_(list(keys))))


_UPSERT = "ON CONFLICT (sensor, session_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in SUMMARY_COLUMNS if c not in ("sensor", "session_id")
)


def facts_of(rows: Iterable[EventRow]) -> dict[SessionKey, SessionFacts]:
    """Event rows folded into :class:`SessionFacts`, per session."""
    facts: dict[SessionKey, SessionFacts] = {}
    for event_hash, session_id, sensor, event_type, ts, src_ip, payload, *_ in rows:
        key = (sensor, session_id)
        session = facts.get(key)
        if session is None:
            session = facts[key] = SessionFacts(sensor, session_id)
        session.add(event_type, ts, event_hash, src_ip, load_json(payload))
    return facts


def store(
    conn: Connection,
    sessions: Iterable[SessionRows],
    known: Collection[SessionKey],
    stamp: str,
) -> None:
    """Replace the derived rows of the touched sessions with the recomputed ones.

    ``sessions`` come from :func:`~cowrieprocessor.ingest.batches.session_rows`; ``known``
    are those that have a summary already. Enrichment columns of a summary
    (``dshield_flagged``, ``enrichment``) are left as they are; ``updated_at`` becomes
    ``stamp`` (stored UTC text).
    """
    new_rows: list[tuple[Any, ...]] = []
    known_rows: list[tuple[Any, ...]] = []
    command_rows: list[tuple[Any, ...]] = []
    file_rows: list[tuple[Any, ...]] = []
    for summary, commands, files in sessions:
        sensor, session_id, *computed, _ = summary  # SUMMARY_COLUMNS; updated_at is last
        row = (sensor, session_id, *computed, stamp)
        (known_rows if (sensor, session_id) in known else new_rows).append(row)
        command_rows.extend(commands)
        file_rows.extend(files)
    conn.execute(delete(_commands).where(touched.contains(_commands)))
    conn.execute(delete(_files).where(touched.contains(_files)))
    insert_rows(conn, "command_stats", COMMAND_COLUMNS, _interned(conn, command_rows))
    insert_rows(conn, "files", FILE_COLUMNS, file_rows)
    # New sessions go in plainly (a straight COPY on PostgreSQL), known ones are updated.
    insert_rows(conn, "session_summaries", SUMMARY_COLUMNS, new_rows)
    insert_rows(
        conn, "session_summaries", SUMMARY_COLUMNS, known_rows, _UPSERT, expect_conflicts=True
    )


def _interned(conn: Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Command rows with the command's text replaced by its id in ``strings``."""
    ids = intern(conn, (command for _, _, command, *_ in rows))
    return [(sensor, sid, ids[command], *rest) for sensor, sid, command, *rest in rows]
