"""Reliable ingest: cursors that know whether a file was read to its end; events without a
sensor in the session that names one; credential rollups v3.

ingest_sources gets ``complete`` (the last read reached the end of the file) and
``tail_hash`` (the last line before the cursor, checked before resuming there). Before,
a compressed file of unchanged size counted as read whatever its cursor said, so one
interrupted part-way was never finished. Existing cursors of compressed files are marked
incomplete: the next ingest resumes each at its cursor (decompressing up to there), which
finishes those left part-way and reads nothing new from the others. A plain file counts as
complete when its cursor reached its size.

An event without a sensor now belongs to the session of its session id whose events name
one (ingest/placement.py; docs/report-schema.md). raw_events gets ``fallback_sensor`` (the
sensor such an event would otherwise have) and session_summaries an index on session_id
(the sessions of one id on every sensor). Databases loaded before held each such event in
a session of its own, ``(unknown or --sensor, session id)``: their sessions of a shared
session id are placed again here, by the placement rule as it stood at this revision
(frozen below: ``raw_events`` changes shape later) and SessionFacts (this migration must
therefore run with the code whose session_summaries columns it creates);
the buckets concerned are marked dirty and the next refresh recomputes them. Downgrading
keeps the merged sessions as they are (older code reads them fine).

Credential rollups v3 (daily_credentials, daily_usernames, daily_passwords): a login event
whose username or password is a JSON value other than a string is left out of them;
version 2 counted such a value as '', merged with real empty ones. For strings, null or a
missing value both versions agree, so only the buckets of sessions holding another kind of
value are marked dirty (both ways), as 0009 did. A session summary's username and password
are now those of its first successful login that the credential rollups count: the
sessions with a successful login holding another kind of value are recomputed.

The sessions are written with this revision's ``command_stats`` (the command as text):
``_store`` and the two functions calling it are frozen here, since the library's
``summaries.store`` writes a later schema (0014: the command's id in ``strings``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

from cowrieprocessor.db.bulk import insert_rows
from cowrieprocessor.ingest import summaries, touched
from cowrieprocessor.ingest.batches import session_rows
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.sessions import SessionFacts
from cowrieprocessor.rollups import ddl
from cowrieprocessor.rollups.dirty import mark_buckets

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREDENTIALS = ("daily_credentials", "daily_usernames", "daily_passwords")
#: JSON types of a username or password on which versions 2 and 3 agree, per dialect.
_AGREED = {
    "postgresql": ("jsonb_typeof(r.payload -> '{field}')", "('string', 'null')"),
    "sqlite": ("json_type(r.payload, '$.{field}')", "('text', 'null')"),
}

_sources = sa.table(
    "ingest_sources",
    sa.column("path", sa.Text()),
    sa.column("size", sa.BigInteger()),
    sa.column("offset", sa.BigInteger()),
    sa.column("complete", sa.Boolean()),
)


def upgrade() -> None:
    op.add_column(
        "ingest_sources",
        sa.Column("complete", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("ingest_sources", sa.Column("tail_hash", sa.String(32)))
    compressed = _sources.c.path.like("%.gz") | _sources.c.path.like("%.bz2")
    op.execute(
        _sources.update()
        .where(_sources.c.offset >= _sources.c.size, ~compressed)
        .values(complete=True)
    )
    op.add_column("raw_events", sa.Column("fallback_sensor", sa.String(255)))
    op.create_index("ix_session_summaries_session_id", "session_summaries", ["session_id"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    _place_shared_ids(op.get_bind(), stamp)
    _install_credentials(3)
    bind = op.get_bind()
    uncounted = bind.exec_driver_sql(
        "SELECT DISTINCT r.sensor, r.session_id FROM raw_events AS r"
        " WHERE r.event_type IN ('cowrie.login.success', 'cowrie.login.failed')"
        f" AND r.event_type = 'cowrie.login.success' AND ({_disagree(bind.dialect.name)})"
    )
    _recompute(bind, {(sensor, session_id) for sensor, session_id in uncounted}, stamp)


def downgrade() -> None:
    _install_credentials(2)
    op.drop_index("ix_session_summaries_session_id", table_name="session_summaries")
    op.drop_column("raw_events", "fallback_sensor")
    op.drop_column("ingest_sources", "tail_hash")
    op.drop_column("ingest_sources", "complete")


def _install_credentials(version: int) -> None:
    bind = op.get_bind()
    for name in CREDENTIALS:
        ddl.drop_live_view(bind, name)
        ddl.create_live_view(bind, name, version)
    bind.exec_driver_sql(
        "INSERT INTO rollup_dirty (day, sensor, generation)"
        " SELECT DISTINCT s.first_day, s.sensor, 1"
        # The login events first (SQLite keeps a CROSS JOIN's order): one pass over the
        # partial index of login events, a summary looked up only for a disagreeing event.
        " FROM raw_events AS r CROSS JOIN session_summaries AS s"
        " WHERE r.event_type IN ('cowrie.login.success', 'cowrie.login.failed')"
        " AND s.sensor = r.sensor AND s.session_id = r.session_id"
        f" AND ({_disagree(bind.dialect.name)})"
        " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
    )


def _disagree(dialect: str) -> str:
    """A login event whose username or password versions 2 and 3 read differently."""
    type_of, agreed = _AGREED[dialect]
    return " OR ".join(
        f"{type_of.format(field=field)} NOT IN {agreed}" for field in ("username", "password")
    )


SessionKey = tuple[str, str]
_COMMANDS = ("sensor", "session_id", "command", "occurrences", "first_seen", "last_seen")
_FILES = (
    "sensor",
    "session_id",
    "direction",
    "url",
    "shasum",
    "outfile",
    "occurrences",
    "first_seen",
    "vt_positives",
    "vt_total",
    "vt_label",
)
_SUMMARIES = (
    "sensor",
    "session_id",
    "src_ip",
    "protocol",
    "first_event_at",
    "first_day",
    "last_event_at",
    "duration_seconds",
    "client_version",
    "hassh",
    "login_attempts",
    "login_successes",
    "username",
    "password",
    "command_count",
    "file_downloads",
    "file_uploads",
    "vt_flagged",
    "updated_at",
)
_UPDATED = ", ".join(f"{c} = excluded.{c}" for c in _SUMMARIES[2:])


# -- the placement of sensor-less events, as of this revision ----------------------------
# raw_events had an ``id``, a hex ``event_hash`` and whole events as payload here.


def _touched_events(conn: Connection) -> list[list[Any]]:
    """Every event of the touched sessions: id, sensor, session id, type, timestamp (stored
    UTC text), hash, source IP and the event."""
    events = []
    for row in conn.exec_driver_sql(
        "SELECT r.id, r.sensor, r.session_id, r.event_type, r.event_timestamp, r.event_hash,"
        f" r.src_ip, r.payload FROM {touched.NAME} t CROSS JOIN raw_events r"
        " WHERE r.sensor = t.sensor AND r.session_id = t.session_id"
    ):
        event = list(row)
        if not isinstance(event[4], str):  # PostgreSQL: as stored UTC text
            event[4] = event[4].astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(event[7], (str, bytes)):
            event[7] = load_json(event[7])
        events.append(event)
    return events


def _recompute(conn: Connection, keys: set[tuple[str, str]], stamp: str) -> None:
    """Recompute the derived rows of the stored sessions ``keys``, marking their buckets."""
    if not keys:
        return
    touched.create(conn)
    touched.replace(conn, keys)
    mark_buckets(conn, touched.buckets(conn))
    facts: dict[tuple[str, str], SessionFacts] = {}
    for _, sensor, session_id, kind, ts, event_hash, src_ip, payload in _touched_events(conn):
        session = facts.get((sensor, session_id))
        if session is None:
            session = facts[sensor, session_id] = SessionFacts(sensor, session_id)
        session.add(kind, ts, event_hash, src_ip, payload)
    _store(conn, [session_rows(f) for f in facts.values()], keys, stamp)
    mark_buckets(conn, touched.buckets(conn))


def _names_sensor(payload: dict[str, Any]) -> bool:
    sensor = payload.get("sensor")
    return type(sensor) is str and sensor != ""


def _place_shared_ids(conn: Connection, stamp: str) -> None:
    """Place the sensor-less events of every session id that several stored sessions
    share, recompute those sessions and mark their buckets dirty."""
    touched.create(conn)
    keys = {
        (sensor, session_id)
        for sensor, session_id in conn.exec_driver_sql(
            "SELECT s.sensor, s.session_id FROM session_summaries s WHERE s.session_id IN"
            " (SELECT session_id FROM session_summaries GROUP BY session_id HAVING COUNT(*) > 1)"
        )
    }
    touched.replace(conn, keys)
    by_id: dict[str, list[list[Any]]] = defaultdict(list)
    for event in _touched_events(conn):
        by_id[event[2]].append(event)
    moves = []
    changed: set[tuple[str, str]] = set()
    facts: dict[tuple[str, str], SessionFacts] = {}
    for session_id, events in by_id.items():
        named = {e[1] for e in events if _names_sensor(e[-1])}
        target = next(iter(named)) if len(named) == 1 else None
        for event_id, sensor, _, kind, ts, event_hash, src_ip, payload in events:
            if not _names_sensor(payload) and target and target != sensor:
                moves.append({"row": event_id, "to": target, "home": sensor})
                changed.update(((sensor, session_id), (target, session_id)))
                sensor = target
            session = facts.get((sensor, session_id))
            if session is None:
                session = facts[sensor, session_id] = SessionFacts(sensor, session_id)
            session.add(kind, ts, event_hash, src_ip, payload)
    if not changed:
        return
    conn.execute(
        sa.text("UPDATE raw_events SET sensor = :to, fallback_sensor = :home WHERE id = :row"),
        moves,
    )
    touched.replace(conn, changed)
    mark_buckets(conn, touched.buckets(conn))
    empty = keys - facts.keys()
    rows = [session_rows(facts[key]) for key in changed - empty]
    _store(conn, rows, keys, stamp)
    summaries.delete_sessions(conn, empty)
    mark_buckets(conn, touched.buckets(conn))


def _store(
    conn: sa.Connection,
    sessions: Iterable[tuple[Any, list[Any], list[Any]]],
    known: Collection[SessionKey],
    stamp: str,
) -> None:
    """``summaries.store`` as of this revision: commands as text in ``command_stats``."""
    new_rows, known_rows, command_rows, file_rows = [], [], [], []
    for summary, commands, files in sessions:
        row = (*summary[:-1], stamp)
        (known_rows if (row[0], row[1]) in known else new_rows).append(row)
        command_rows.extend(commands)
        file_rows.extend(files)
    listed = f"(sensor, session_id) IN (SELECT sensor, session_id FROM {touched.NAME})"
    conn.exec_driver_sql(f"DELETE FROM command_stats WHERE {listed}")
    conn.exec_driver_sql(f"DELETE FROM files WHERE {listed}")
    insert_rows(conn, "command_stats", _COMMANDS, command_rows)
    insert_rows(conn, "files", _FILES, file_rows)
    insert_rows(conn, "session_summaries", _SUMMARIES, new_rows)
    insert_rows(
        conn,
        "session_summaries",
        _SUMMARIES,
        known_rows,
        f"ON CONFLICT (sensor, session_id) DO UPDATE SET {_UPDATED}",
        expect_conflicts=True,
    )
