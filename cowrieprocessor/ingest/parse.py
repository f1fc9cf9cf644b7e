"""Turn one raw record into a normalized event, or say why it cannot be one.

Strings are made storable the same way on SQLite and PostgreSQL: invalid UTF-8 bytes,
NUL characters and lone surrogates become U+FFFD (the replacement character). The event
hash is taken over the canonical JSON (sorted keys) of that sanitized event, so the same
event read from two files, two runs or two key orders is stored once.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SORTED = orjson.OPT_SORT_KEYS
MAX_SESSION_ID = 64


class BadRecord(Exception):
    """A record that is not a usable Cowrie event; ``reason`` is a short stable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Event(NamedTuple):
    """A parsed event ready to store. ``timestamp`` is UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``."""

    event_hash: str
    session_id: str
    sensor: str
    event_type: str
    timestamp: str
    src_ip: str | None
    payload_json: str
    payload: dict[str, Any]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _load(data: bytes) -> Any:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        # Slow path: invalid UTF-8, lone surrogates, raw control characters.
        try:
            obj = json.loads(data.decode("utf-8", errors="replace"), strict=False)
        except ValueError:
            raise BadRecord("invalid_json") from None
        return _clean(obj)
    if b"\\u" in data:  # an escape may have produced NUL or a surrogate
        obj = _clean(obj)
    return obj


def _canonical(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=_SORTED)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def normalize_timestamp(value: Any) -> str:
    """Cowrie timestamp (``Z``, ``+0000`` or any offset) -> UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if not isinstance(value, str):
        raise BadRecord("bad_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRecord("bad_timestamp") from None
    # Fast path: the two shapes Cowrie writes for UTC, already validated above.
    if (len(value) == 27 and value[26] == "Z") or (len(value) == 31 and value.endswith("+0000")):
        return f"{value[:10]} {value[11:26]}"
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    # A value without an offset is taken as UTC, which is what Cowrie logs.
    return parsed.isoformat(" ", "microseconds")


def parse_record(data: bytes, default_sensor: str | None = None) -> Event:
    """Parse one record (a line or a pretty-printed block); raise ``BadRecord`` if unusable."""
    obj = _load(data)
    if not isinstance(obj, dict):
        raise BadRecord("not_an_object")
    event_type = obj.get("eventid")
    if not isinstance(event_type, str) or not event_type.startswith("cowrie."):
        raise BadRecord("not_a_cowrie_event")
    if "timestamp" not in obj:
        raise BadRecord("missing_timestamp")
    timestamp = normalize_timestamp(obj["timestamp"])
    session_id = obj.get("session")
    if not isinstance(session_id, str) or not session_id:
        raise BadRecord("missing_session")
    if len(session_id) > MAX_SESSION_ID:
        raise BadRecord("bad_session")
    sensor = obj.get("sensor")
    if not isinstance(sensor, str) or not sensor:
        sensor = default_sensor or "unknown"
    src_ip = obj.get("src_ip")
    if not isinstance(src_ip, str):
        src_ip = None
    canonical = _canonical(obj)
    return Event(
        hashlib.blake2b(canonical, digest_size=16).hexdigest(),
        session_id,
        sensor,
        event_type,
        timestamp,
        src_ip,
        canonical.decode(),
        obj,
    )
