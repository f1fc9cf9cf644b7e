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
fallbacks. ``raw_events.fallback_sensor`` remembers the fallback of an event stored away
from it (it is NULL for an event that names its sensor or sits at its fallback).

The loader calls :func:`place` for the session ids that more than one session shares
(in its batch or stored), after inserting the batch's events: it moves the events that
belong elsewhere and recomputes every session of those ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, update

from cowrieprocessor.db.models import RawEvent
from cowrieprocessor.ingest import summaries
from cowrieprocessor.ingest.batches import session_rows
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.sessions import SessionFacts
from cowrieprocessor.rollups.dirty import mark_touched_buckets

SessionKey = tuple[str, str]


def names_sensor(payload: dict[str, Any]) -> bool:
    """Whether an event names its sensor (the loader uses that name as the sensor)."""
    sensor = payload.get("sensor")
    return type(sensor) is str and sensor != ""


def shared_ids(keys: Iterable[SessionKey]) -> set[str]:
    """Session ids held by more than one of ``keys``."""
    seen: set[str] = set()
    shared: set[str] = set()
    for _, session_id in keys:
        (shared if session_id in seen else seen).add(session_id)
    return shared


class Placed(NamedTuple):
    """Every session of some session ids after :func:`place`: ``facts`` of those holding
    events, the keys left ``empty``, and the keys ``changed`` (that gained or lost events)."""

    facts: dict[SessionKey, SessionFacts]
    empty: set[SessionKey]
    changed: set[SessionKey]


class _StoredEvent(NamedTuple):
    """A row of :func:`summaries.session_events` ``with_placement``; ``payload`` parsed."""

    id: int
    sensor: str
    session_id: str
    event_type: str
    timestamp: str
    event_hash: str
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
    for row in summaries.session_events(conn, keys, with_placement=True):
        event = _StoredEvent._make(row)
        by_id[event.session_id].append(event._replace(payload=load_json(event.payload)))
    moves = []
    changed: set[SessionKey] = set()
    facts: dict[SessionKey, SessionFacts] = {}
    for session_id, events in by_id.items():
        named = {e.sensor for e in events if names_sensor(e.payload)}
        target = next(iter(named)) if len(named) == 1 else None
        for event in events:
            event_id, sensor, _, kind, ts, event_hash, src_ip, payload, fallback = event
            if not names_sensor(payload):
                home = fallback or sensor
                want = target or home
                if want != sensor:
                    moves.append(
                        {"row": event_id, "to": want, "home": None if want == home else home}
                    )
                    changed.update(((sensor, session_id), (want, session_id)))
                    sensor = want
            session = facts.get((sensor, session_id))
            if session is None:
                session = facts[sensor, session_id] = SessionFacts(sensor, session_id)
            session.add(kind, ts, event_hash, src_ip, payload)
    if moves:
        conn.execute(
            update(RawEvent)
            .where(RawEvent.id == bindparam("row"))
            .values(sensor=bindparam("to"), fallback_sensor=bindparam("home")),
            moves,
        )
    return Placed(facts, keys - facts.keys(), changed)


def place_shared_ids(conn: Connection, stamp: str) -> int:
    """Place the sensor-less events of every session id that several stored sessions share,
    recompute those sessions and mark their buckets dirty; return how many sessions were
    left without events (merged into the one that names the sensor).

    For a database loaded before this rule, where each sensor-less event had a session of
    its own (migration ``0013``). ``stamp`` is the ``updated_at`` of the rewritten summaries.
    """
    summaries.prepare(conn)
    keys = {
        (sensor, session_id)
        for sensor, session_id in conn.exec_driver_sql(
            "SELECT s.sensor, s.session_id FROM session_summaries s WHERE s.session_id IN"
            " (SELECT session_id FROM session_summaries GROUP BY session_id HAVING COUNT(*) > 1)"
        )
    }
    placed = place(conn, keys)
    if not placed.changed:
        return 0
    summaries.set_touched(conn, placed.changed)
    mark_touched_buckets(conn)
    rows = [session_rows(placed.facts[key]) for key in placed.changed - placed.empty]
    summaries.store(conn, rows, keys, stamp)
    summaries.delete_sessions(conn, placed.empty)
    mark_touched_buckets(conn)
    return len(placed.empty)
