"""The stored form of an event: its payload without what the columns of ``raw_events`` hold.

``raw_events.payload`` leaves out the fields whose value a column gives back exactly:
``eventid`` (``event_type``), ``session`` (``session_id``), a ``src_ip`` string
(``src_ip``), the ``sensor`` of an event that names one (``sensor``; an event that names
none has ``fallback_sensor`` set and keeps its own ``sensor`` field, if any), and a
``timestamp`` written the way Cowrie writes UTC (``2024-05-01T10:00:00.123456Z``, which
``event_timestamp`` gives back; any other form stays) and a ``uuid`` string (Cowrie's
instance id, the same on every event of a sensor: ``instance_id``, its id in ``strings``).
:func:`original_event` puts the
event back together, equal to the logged one (after the clean-up of unstorable
characters, docs/ingest.md) up to key order.
"""

from __future__ import annotations

from typing import Any

#: Fields every stored event leaves out of its payload.
_ALWAYS = ("eventid", "session")


def event_columns(dialect: str) -> str:
    """The columns of ``raw_events r`` an event is read back with: sensor, session id, type,
    timestamp (stored UTC text), hash, source IP, payload text and fallback sensor (not its
    instance: :data:`INSTANCE_TEXT` is that)."""
    if dialect == "postgresql":
        ts = "to_char(r.event_timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        payload = "r.payload::text"
    else:
        ts, payload = "r.event_timestamp", "r.payload"
    return (
        f"r.sensor, r.session_id, r.event_type, {ts}, r.event_hash, r.src_ip, {payload},"
        " r.fallback_sensor"
    )


#: The instance uuid of the event of ``raw_events r`` (or NULL): one index lookup a row, so
#: a long export never joins the whole string dictionary.
INSTANCE_TEXT = "(SELECT s.text FROM strings s WHERE s.id = r.instance_id)"


def cowrie_timestamp(timestamp: str) -> str:
    """Stored UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``) as Cowrie writes it."""
    return f"{timestamp[:10]}T{timestamp[11:]}Z"


def stored_payload(event: dict[str, Any], timestamp: str, *, named: bool) -> dict[str, Any]:
    """``event`` without the fields its columns hold (``timestamp``: the stored UTC text;
    ``named``: the event names its sensor)."""
    payload = {k: v for k, v in event.items() if k not in _ALWAYS}
    if named:
        del payload["sensor"]
    if type(payload.get("src_ip")) is str:
        del payload["src_ip"]
    if payload["timestamp"] == cowrie_timestamp(timestamp):
        del payload["timestamp"]
    if type(payload.get("uuid")) is str:
        del payload["uuid"]
    return payload


def original_event(
    payload: dict[str, Any],
    event_type: str,
    session_id: str,
    sensor: str,
    timestamp: str,
    src_ip: str | None,
    fallback_sensor: str | None,
    instance: str | None,
) -> dict[str, Any]:
    """The logged event back from a stored payload (modified in place) and its columns
    (``instance``: the text of its ``instance_id``)."""
    payload["eventid"] = event_type
    payload["session"] = session_id
    if fallback_sensor is None:
        payload["sensor"] = sensor
    if src_ip is not None:
        payload["src_ip"] = src_ip
    if "timestamp" not in payload:
        payload["timestamp"] = cowrie_timestamp(timestamp)
    if instance is not None:
        payload["uuid"] = instance
    return payload
