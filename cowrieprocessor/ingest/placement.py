"""Which session an event without a sensor belongs to.

An event names its sensor when its ``sensor`` field is a non-empty string. One that does
not (missing, empty, not a string) belongs to the session of the same session id whose
events name a sensor, when exactly one sensor is named for that session id among all
stored events, whichever file or run brought them. Otherwise (no event of the session id
names a sensor, or two sensors do: a session id that recurs on another sensor) it stays
with its *fallback*: the ``--sensor`` of the run that first stored it, or ``unknown``.

That depends only on which events are stored, never on their order: when a named event
arrives after the sensor-less ones (another batch, file or run), the sensor-less events
move to its session; when a second sensor names the session id, they move back to their
fallbacks. ``raw_events.fallback_sensor`` holds the fallback of every event that names no
sensor (it is NULL for an event that names its sensor).

The loader calls :func:`place` for the session ids that more than one session shares
(in its batch or stored), after inserting the batch's events: it moves the events that
belong elsewhere and recomputes every session of those ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, text

from cowrieprocessor.db.types import UTCDateTime
from cowrieprocessor.ingest import summaries
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.sessions import SessionFacts

SessionKey = tuple[str, str]


def shared_ids(keys: Iterable[SessionKey]) -> set[str]:
    """Session ids held by more than one of ``keys``."""
    seen: set[str] = set()
    shared: set[str] = set()
    for _, session_id in keys:
        (shared if session_id in seen else seen).add(session_id)
    return shared


_MOVE = text(
    "UPDATE raw_events SET sensor = :to WHERE event_timestamp = :ts AND event_hash = :hash"
).bindparams(bindparam("ts", type_=UTCDateTime()))


class Placed(NamedTuple):
    """Every session of some session ids after :func:`place`: ``facts`` of those holding
    events, the keys left ``empty``, and the keys ``changed`` (that gained or lost events)."""

    facts: dict[SessionKey, SessionFacts]
    empty: set[SessionKey]
    changed: set[SessionKey]


class _StoredEvent(NamedTuple):
    """A row of :func:`summaries.session_events` (``stored.event_columns``); ``payload``
    parsed. ``fallback_sensor`` is set exactly when the event names no sensor."""

    sensor: str
    session_id: str
    event_type: str
    timestamp: str
    event_hash: bytes
    src_ip: str | None
    payload: Any
    fallback_sensor: str | None


def place(conn: Connection, keys: Iterable[SessionKey]) -> Placed:
    """Put every sensor-less event of the sessions ``keys`` where it belongs.

    ``keys`` must hold every stored session of their session ids. Moves the events that
    belong elsewhere (in ``conn``'s transaction).
    """
    keys = set(keys)
    by_id: dict[str, list[_StoredEvent]] = defaultdict(list)
    for row in summaries.session_events(conn, keys):
        event = _StoredEvent._make(row)
        by_id[event.session_id].append(event._replace(payload=load_json(event.payload)))
    moves = []
    changed: set[SessionKey] = set()
    facts: dict[SessionKey, SessionFacts] = {}
    for session_id, events in by_id.items():
        named = {e.sensor for e in events if e.fallback_sensor is None}
        target = next(iter(named)) if len(named) == 1 else None
        for event in events:
            sensor, _, kind, ts, event_hash, src_ip, payload, fallback = event
            if fallback is not None:  # names no sensor
                want = target or fallback
                if want != sensor:
                    moves.append({"ts": datetime.fromisoformat(ts), "hash": event_hash, "to": want})
                    changed.update(((sensor, session_id), (want, session_id)))
                    sensor = want
            session = facts.get((sensor, session_id))
            if session is None:
                session = facts[sensor, session_id] = SessionFacts(sensor, session_id)
            session.add(kind, ts, event_hash, src_ip, payload)
    if moves:
        conn.execute(_MOVE, moves)
    return Placed(facts, keys - facts.keys(), changed)
