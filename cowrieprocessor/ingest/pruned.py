"""Events for pruned days: set aside as ``pruned_day`` dead letters, never folded in.

After ``cowrie-report prune --raw-before DAY`` the sessions of days before DAY keep their
summaries and rollups but lose their raw events, so nothing can be added to them any more:
a session would be recomputed from the new events alone. In each batch transaction (the
watermark row locked ``FOR SHARE`` on PostgreSQL, so a prune cannot move it meanwhile) the
loader therefore sets aside:

- an event whose UTC day is before DAY (it would start or extend a session of a pruned day);
- an event of a stored session of a pruned day (a late event of a session that straddles
  DAY: the whole session belongs to the pruned day of its first event);
- an event without a sensor whose session id a pruned session holds (it would join it).

Pruned sessions are then invisible to the batch: a new session on another sensor that
happens to reuse a pruned session's id is stored as usual and leaves the pruned one alone.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, text

from cowrieprocessor.db.retention import PRUNED_DAY
from cowrieprocessor.ingest import summaries, touched
from cowrieprocessor.ingest.batches import (
    FALLBACK_SENSOR,
    OFFSET,
    TIMESTAMP,
    EventRow,
    PreparedBatch,
    SessionKey,
    session_key,
    session_rows,
)
from cowrieprocessor.ingest.parse import load_json, sorted_json
from cowrieprocessor.ingest.stored import original_event

_PRUNED_SESSIONS = text(
    f"SELECT s.sensor, s.session_id FROM {touched.NAME} t CROSS JOIN session_summaries s"
    " WHERE s.session_id = t.session_id AND s.first_day < :before"
)


def set_aside(
    conn: Connection, batch: PreparedBatch, before: date
) -> tuple[PreparedBatch, set[SessionKey]]:
    """``batch`` without its events for pruned days (now dead letters of the batch), and the
    stored sessions of pruned days sharing a session id with it."""
    touched.replace(conn, batch.sessions.keys())
    day = before.isoformat()
    param = before if conn.dialect.name == "postgresql" else day
    pruned = {(s, i) for s, i in conn.execute(_PRUNED_SESSIONS, {"before": param})}
    pruned_ids = {session_id for _, session_id in pruned}
    kept, aside = [], []
    for row in batch.rows:
        key = session_key(row)
        if (
            row[TIMESTAMP] < day  # the timestamp text starts with its ISO day
            or key in pruned
            or (key[1] in pruned_ids and row[FALLBACK_SENSOR] is not None)  # names no sensor
        ):
            aside.append(row)
        else:
            kept.append(row)
    if not aside:
        return batch, pruned
    changed = {session_key(r) for r in aside}
    sessions = {k: v for k, v in batch.sessions.items() if k not in changed}
    facts = summaries.facts_of(r for r in kept if session_key(r) in changed)
    sessions.update((key, session_rows(f)) for key, f in facts.items())
    dead = [*batch.dead, *((r[OFFSET], PRUNED_DAY, _logged(r)) for r in aside)]
    events = batch.events - len(aside)
    return batch._replace(rows=kept, sessions=sessions, dead=dead, events=events), pruned


def _logged(row: EventRow) -> bytes:
    """The event of ``row`` as logged (up to key order), for its dead letter."""
    _, session_id, sensor, event_type, ts, src_ip, payload, _, _, _, fallback, instance = row
    event = original_event(
        load_json(payload), event_type, session_id, sensor, ts, src_ip, fallback, instance
    )
    return sorted_json(event)
