"""The stored events back as logged: ``cowrie-report export events``.

Each event of ``raw_events`` is put back together from its payload and columns
(``ingest/stored.py``) and written as one line of compact JSON with sorted keys: equal to
the logged event up to key order (after the clean-up of unstorable characters,
docs/ingest.md), and hashing to its ``event_hash``. Streamed oldest first, in pages, so
memory stays flat whatever the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from sqlalchemy import Connection, bindparam, text

from cowrieprocessor.db.types import UTCDateTime
from cowrieprocessor.ingest.parse import load_json, sorted_json
from cowrieprocessor.ingest.stored import INSTANCE_TEXT, event_columns, original_event

#: Events fetched per round trip.
PAGE = 2000


def stored_events(
    conn: Connection,
    *,
    start: date | None = None,
    end: date | None = None,
    sensor: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every stored event from day ``start`` to day ``end`` (UTC, inclusive; None: no
    bound) of ``sensor`` (None: all), as logged, in (timestamp, hash) order."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if start is not None:
        where.append("r.event_timestamp >= :low")
        params["low"] = datetime.combine(start, time(), UTC)
    if end is not None:
        where.append("r.event_timestamp < :high")
        params["high"] = datetime.combine(end + timedelta(days=1), time(), UTC)
    if sensor is not None:
        where.append("r.sensor = :sensor")
        params["sensor"] = sensor
    sql = f"SELECT {event_columns(conn.dialect.name)}, {INSTANCE_TEXT} FROM raw_events r"
    if where:
        sql += " WHERE " + " AND ".join(where)
    query = text(sql + " ORDER BY r.event_timestamp, r.event_hash").bindparams(
        *(bindparam(name, type_=UTCDateTime()) for name in ("low", "high") if name in params)
    )
    streamed = {"stream_results": True, "yield_per": PAGE}
    rows = conn.execute(query, params, execution_options=streamed)
    for sensor_, session_id, kind, ts, _, src_ip, payload, fallback, instance in rows:
        yield original_event(
            load_json(payload), kind, session_id, sensor_, ts, src_ip, fallback, instance
        )


def write_events(
    conn: Connection,
    out: IO[str],
    *,
    start: date | None = None,
    end: date | None = None,
    sensor: str | None = None,
) -> int:
    """Write :func:`stored_events` to ``out`` as NDJSON; the number of events written."""
    written = 0
    for event in stored_events(conn, start=start, end=end, sensor=sensor):
        out.write(sorted_json(event).decode())
        out.write("\n")
        written += 1
    return written
