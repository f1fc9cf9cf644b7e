"""Recompute per-session tables from a session's stored events.

Everything here is derived, never incremented: running it twice, or after late or
out-of-order events arrive, gives the same rows as one clean pass over all events.
The sessions to recompute are listed in the temporary table ``touched_sessions``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from cowrieprocessor.db.models import CommandStat, FileTransfer, RawEvent, SessionSummary

LOGIN_SUCCESS = "cowrie.login.success"
LOGIN_FAILED = "cowrie.login.failed"
COMMAND_INPUT = "cowrie.command.input"
FILE_DOWNLOAD = "cowrie.session.file_download"
FILE_UPLOAD = "cowrie.session.file_upload"
VT_SCANFILE = "cowrie.virustotal.scanfile"
CLIENT_VERSION = "cowrie.client.version"
CLIENT_KEX = "cowrie.client.kex"

touched_sessions = Table(
    "touched_sessions",
    MetaData(),
    Column("sensor", String(255), primary_key=True),
    Column("session_id", String(64), primary_key=True),
    prefixes=["TEMPORARY"],
)

_raw = RawEvent.__table__
_summaries = SessionSummary.__table__
_commands = CommandStat.__table__
_files = FileTransfer.__table__


def prepare(conn: Connection) -> None:
    """Create the connection's ``touched_sessions`` table if it does not exist yet."""
    touched_sessions.create(conn, checkfirst=True)


def mark(conn: Connection, sessions: Iterable[tuple[str, str]]) -> None:
    """Add sessions to ``touched_sessions``."""
    rows = [{"sensor": s, "session_id": i} for s, i in sessions]
    if rows:
        conn.execute(insert(touched_sessions), rows)


def clear(conn: Connection) -> None:
    """Empty ``touched_sessions`` once the batch is written."""
    conn.execute(delete(touched_sessions))


def _is_touched(table: Table) -> ColumnElement[bool]:
    return tuple_(table.c.sensor, table.c.session_id).in_(
        select(touched_sessions.c.sensor, touched_sessions.c.session_id)
    )


def _payload(key: str, table: Any = _raw) -> ColumnElement[Any]:
    # CAST keeps a JSON number (e.g. a numeric password) text on SQLite, as ->> does on PG.
    return cast(table.c.payload[key].as_string(), Text)


def _count(*event_types: str) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((_raw.c.event_type.in_(event_types), 1), else_=0)), 0)


def _duration(conn: Connection, first: Any, last: Any) -> ColumnElement[float]:
    """Seconds between two timestamps, exact to the microsecond on both dialects."""
    if conn.dialect.name == "postgresql":
        return cast(func.extract("epoch", last - first), postgresql.DOUBLE_PRECISION)
    seconds = func.strftime("%s", last) - func.strftime("%s", first)
    micros = cast(func.substr(last, 21, 6), sqlite.INTEGER) - cast(
        func.substr(first, 21, 6), sqlite.INTEGER
    )
    return (seconds * 1_000_000 + micros) / literal(1_000_000.0)


def _day(conn: Connection, timestamp: Any) -> ColumnElement[Any]:
    """UTC calendar day of a timestamp column (timestamps are stored in UTC)."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", timestamp), Date)
    return func.substr(timestamp, 1, 10)


def _first_success(key: str) -> Any:
    inner = _raw.alias("s")
    return (
        select(_payload(key, inner))
        .where(
            inner.c.sensor == _raw.c.sensor,
            inner.c.session_id == _raw.c.session_id,
            inner.c.event_type == LOGIN_SUCCESS,
        )
        .order_by(inner.c.event_timestamp, inner.c.event_hash)
        .limit(1)
        .scalar_subquery()
    )


def _client_version() -> ColumnElement[Any]:
    version = _payload("version")
    # 2019-21 logs hold a bytes repr such as "b'SSH-2.0-Go'".
    unwrapped = case(
        (
            and_(version.like("b'%'"), func.length(version) >= 3),
            func.substr(version, 3, func.length(version) - 3),
        ),
        else_=version,
    )
    return func.max(case((_raw.c.event_type == CLIENT_VERSION, unwrapped)))


def recompute_sessions(conn: Connection, now: datetime) -> None:
    """Recompute command stats, files and summaries of every touched session."""
    _recompute_commands(conn)
    _recompute_files(conn)
    _recompute_summaries(conn, now)


def _recompute_commands(conn: Connection) -> None:
    conn.execute(delete(_commands).where(_is_touched(_commands)))
    command = _payload("input")
    query = (
        select(
            _raw.c.sensor,
            _raw.c.session_id,
            command,
            func.count(),
            func.min(_raw.c.event_timestamp),
            func.max(_raw.c.event_timestamp),
        )
        .where(_is_touched(_raw), _raw.c.event_type == COMMAND_INPUT, command.is_not(None))
        .group_by(_raw.c.sensor, _raw.c.session_id, command)
    )
    conn.execute(
        insert(_commands).from_select(
            ["sensor", "session_id", "command", "occurrences", "first_seen", "last_seen"], query
        )
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _vt_label(scans: Any) -> str | None:
    """Most common detection name among engines that flagged the file."""
    if not isinstance(scans, dict):
        return None
    names = Counter(
        v["result"]
        for v in scans.values()
        if isinstance(v, dict) and v.get("detected") and isinstance(v.get("result"), str)
    )
    if not names:
        return None
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0]


def _recompute_files(conn: Connection) -> None:
    conn.execute(delete(_files).where(_is_touched(_files)))
    events = conn.execute(
        select(
            _raw.c.sensor,
            _raw.c.session_id,
            _raw.c.event_type,
            _raw.c.event_timestamp,
            _raw.c.payload,
        )
        .where(_is_touched(_raw), _raw.c.event_type.in_([FILE_DOWNLOAD, FILE_UPLOAD, VT_SCANFILE]))
        .order_by(_raw.c.event_timestamp, _raw.c.event_hash)
    )
    transfers: dict[tuple[Any, ...], dict[str, Any]] = {}
    verdicts: dict[tuple[str, str, str], tuple[int | None, int | None, str | None]] = {}
    for sensor, session_id, event_type, ts, payload in events:
        if event_type == VT_SCANFILE:
            sha = _text(payload.get("sha256"))
            if sha:  # events come in time order: the latest verdict wins
                verdicts[(sensor, session_id, sha)] = (
                    _int(payload.get("positives")),
                    _int(payload.get("total")),
                    _vt_label(payload.get("scans")),
                )
            continue
        direction = "download" if event_type == FILE_DOWNLOAD else "upload"
        url = (
            _text(payload.get("url")) if direction == "download" else _text(payload.get("filename"))
        )
        key = (
            sensor,
            session_id,
            direction,
            url,
            _text(payload.get("shasum")),
            _text(payload.get("outfile")),
        )
        row = transfers.get(key)
        if row is None:
            transfers[key] = {"occurrences": 1, "first_seen": ts}
        else:
            row["occurrences"] += 1
    rows = []
    for (sensor, session_id, direction, url, shasum, outfile), agg in transfers.items():
        positives, total, label = verdicts.get((sensor, session_id, shasum or ""), (None,) * 3)
        rows.append(
            {
                "sensor": sensor,
                "session_id": session_id,
                "direction": direction,
                "url": url,
                "shasum": shasum,
                "outfile": outfile,
                "occurrences": agg["occurrences"],
                "first_seen": agg["first_seen"],
                "vt_positives": positives,
                "vt_total": total,
                "vt_label": label,
            }
        )
    if rows:
        conn.execute(insert(_files), rows)


def _recompute_summaries(conn: Connection, now: datetime) -> None:
    first = func.min(_raw.c.event_timestamp)
    last = func.max(_raw.c.event_timestamp)
    vt_flagged = exists().where(
        _files.c.sensor == _raw.c.sensor,
        _files.c.session_id == _raw.c.session_id,
        _files.c.vt_positives > 0,
    )
    columns = {
        "sensor": _raw.c.sensor,
        "session_id": _raw.c.session_id,
        "src_ip": func.min(_raw.c.src_ip),
        "protocol": func.max(_payload("protocol")),
        "first_event_at": first,
        "first_day": _day(conn, first),
        "last_event_at": last,
        "duration_seconds": _duration(conn, first, last),
        "client_version": _client_version(),
        "hassh": func.max(case((_raw.c.event_type == CLIENT_KEX, _payload("hassh")))),
        "login_attempts": _count(LOGIN_SUCCESS, LOGIN_FAILED),
        "login_successes": _count(LOGIN_SUCCESS),
        "username": _first_success("username"),
        "password": _first_success("password"),
        "command_count": _count(COMMAND_INPUT),
        "file_downloads": _count(FILE_DOWNLOAD),
        "file_uploads": _count(FILE_UPLOAD),
        "vt_flagged": vt_flagged,
        "updated_at": literal(now, SessionSummary.updated_at.type),
    }
    query = (
        select(*[c.label(name) for name, c in columns.items()])
        .where(_is_touched(_raw))
        .group_by(_raw.c.sensor, _raw.c.session_id)
    )
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(_summaries).from_select(list(columns), query)
    computed = [name for name in columns if name not in ("sensor", "session_id")]
    stmt = stmt.on_conflict_do_update(
        index_elements=["sensor", "session_id"],
        set_={name: stmt.excluded[name] for name in computed},
    )
    conn.execute(stmt)


__all__ = ["clear", "mark", "prepare", "recompute_sessions", "touched_sessions"]
