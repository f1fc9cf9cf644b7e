"""Turn one raw record into a normalized event, or say why it cannot be one.

Strings are made storable the same way on SQLite and PostgreSQL: invalid UTF-8 bytes,
NUL characters and lone surrogates become U+FFFD (the replacement character). The event
hash is taken over the canonical JSON (sorted keys) of that sanitized event, so the same
event read from two files, two runs or two key orders is stored once.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any, NamedTuple

import orjson

from cowrieprocessor.db import limits
from cowrieprocessor.ingest.stored import stored_payload
from cowrieprocessor.sensors import sensor_name_problem

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SORTED = orjson.OPT_SORT_KEYS
#: Deepest nesting of objects and arrays accepted (orjson's own limit when writing JSON).
MAX_DEPTH = 255


class BadRecord(Exception):
    """A record that is not a usable Cowrie event; ``reason`` is a short stable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Event(NamedTuple):
    """A parsed event ready to store. ``timestamp`` is UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``.

    ``event_hash`` is the BLAKE2b-128 digest of the whole event's canonical JSON;
    ``payload_json`` the canonical JSON of what the columns do not hold
    (:func:`~cowrieprocessor.ingest.stored.stored_payload`), ``payload`` the whole event.
    ``fallback_sensor`` is the sensor of an event that names none (else None);
    ``instance`` its ``uuid`` string (Cowrie's instance id; None if it has none).
    """

    event_hash: bytes
    session_id: str
    sensor: str
    event_type: str
    timestamp: str
    src_ip: str | None
    payload_json: str
    payload: dict[str, Any]
    fallback_sensor: str | None
    instance: str | None


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
        return _decode(data)
    except RecursionError:  # far deeper than MAX_DEPTH
        raise BadRecord("too_deep") from None


def _decode(data: bytes) -> Any:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        # Slow path: invalid UTF-8, lone surrogates, raw control characters; NaN, Infinity
        # and numbers beyond a double, which are set aside.
        try:
            obj = _exact(data.decode("utf-8", errors="replace"), strict=False)
        except json.JSONDecodeError:
            raise BadRecord("invalid_json") from None
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits())
            raise BadRecord("bad_number") from None
        return _clean(obj)
    if _may_hold_a_long_integer(data):
        obj = _exact_again(data)
    if b"\\u" in data:  # an escape may have produced NUL or a surrogate
        obj = _clean(obj)
    return obj


def load_json(text: bytes | str) -> Any:
    """Valid JSON text (a stored payload) as Python values, integers exactly."""
    data = text.encode() if isinstance(text, str) else text
    obj = orjson.loads(data)
    return _exact_again(data) if _may_hold_a_long_integer(data) else obj


#: Digits to ``0``, everything else to a space: a run of :data:`_LONG` zeros is a run of
#: that many digits.
_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
#: orjson reads an integer beyond 64 bits (19 digits or more) as a float: such text is read
#: again exactly (a string holding a long run of digits too; that costs only time).
_LONG = b"0" * 19


def _may_hold_a_long_integer(data: bytes) -> bool:
    return len(data) >= 19 and _LONG in data.translate(_DIGITS)


def _exact_again(data: bytes) -> Any:
    try:
        return _exact(data)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits())
        raise BadRecord("bad_number") from None


def _exact(text: bytes | str, *, strict: bool = True) -> Any:
    return json.loads(text, strict=strict, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(_name: str) -> Any:
    raise BadRecord("bad_number")  # NaN, Infinity or -Infinity: not JSON, no JSON column holds it


def _finite(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise BadRecord("bad_number")  # beyond a double (1e400): what would it be stored as?
    return value


_INF = float("inf")


def sorted_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: the one text form of a JSON value (events are hashed
    and stored in it, non-string fields shown in it)."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except TypeError:  # integers beyond 64 bits, or nested deeper than orjson writes
        pass
    if _depth(value) > MAX_DEPTH:
        raise BadRecord("too_deep")
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _depth(obj: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((item, depth) for item in value)
    return deepest


def normalize_timestamp(value: Any) -> str:
    """Cowrie timestamp (``Z``, ``+0000`` or any offset) -> UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if not isinstance(value, str):
        raise BadRecord("bad_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
        # Fast path: the two shapes Cowrie writes for UTC, already validated above.
        if (len(value) == 27 and value[26] == "Z") or (
            len(value) == 31 and value.endswith("+0000")
        ):
            return f"{value[:10]} {value[11:26]}"
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: out of range once shifted to UTC
        raise BadRecord("bad_timestamp") from None
    # A value without an offset is taken as UTC, which is what Cowrie logs.
    return parsed.isoformat(" ", "microseconds")


def parse_record(data: bytes, default_sensor: str | None = None) -> Event:
    """Parse one record (a line or a pretty-printed block); raise ``BadRecord`` if unusable."""
    return Event._make(parse_fields(data, default_sensor))


def parse_fields(data: bytes, default_sensor: str | None = None) -> tuple[Any, ...]:
    """:func:`parse_record` as a plain tuple in :class:`Event` order (the loader's hot path)."""
    obj = _load(data)
    if type(obj) is not dict:
        raise BadRecord("not_an_object")
    get = obj.get
    event_type = get("eventid")
    if type(event_type) is not str or not event_type.startswith("cowrie."):
        raise BadRecord("not_a_cowrie_event")
    if len(event_type) > limits.EVENT_TYPE:
        raise BadRecord("bad_eventid")
    if "timestamp" not in obj:
        raise BadRecord("missing_timestamp")
    timestamp = normalize_timestamp(obj["timestamp"])
    session_id = get("session")
    if type(session_id) is not str or not session_id:
        raise BadRecord("missing_session")
    if len(session_id) > limits.SESSION_ID:
        raise BadRecord("bad_session")
    sensor = get("sensor")
    fallback = None
    if type(sensor) is not str or not sensor:
        sensor = fallback = default_sensor or "unknown"
    elif (problem := sensor_name_problem(sensor)) is not None:
        raise BadRecord(problem)  # too long, or the aggregate report's reserved name
    src_ip = get("src_ip")
    if type(src_ip) is not str:
        src_ip = None
    elif len(src_ip) > limits.SRC_IP:
        raise BadRecord("bad_src_ip")
    instance = get("uuid")
    canonical = sorted_json(obj)
    return (
        blake2b(canonical, digest_size=16).digest(),
        session_id,
        sensor,
        event_type,
        timestamp,
        src_ip,
        sorted_json(stored_payload(obj, timestamp, named=fallback is None)).decode(),
        obj,
        fallback,
        instance if type(instance) is str else None,
    )
