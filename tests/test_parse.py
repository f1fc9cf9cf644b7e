"""Parsing single records: every shape of real Cowrie logs, and every kind of bad input."""

from __future__ import annotations

import json

import orjson
import pytest

from cowrieprocessor.ingest.parse import BadRecord, Event, normalize_timestamp, parse_record
from cowrieprocessor.ingest.stored import original_event

BASE = {
    "eventid": "cowrie.login.failed",
    "username": "root",
    "password": "admin",
    "message": "login attempt [root/admin] failed",
    "sensor": "hp1",
    "src_ip": "203.0.113.7",
    "session": "0a1b2c3d4e5f",
    "timestamp": "2024-03-01T12:00:00.123456Z",
}


def line(**changes: object) -> bytes:
    event = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not None})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:00:00.123456Z", "2024-03-01 12:00:00.123456"),
        ("2024-03-01T12:00:00.123456+0000", "2024-03-01 12:00:00.123456"),
        ("2024-03-01T12:00:00.123456+00:00", "2024-03-01 12:00:00.123456"),
        ("2024-03-01T14:30:00.5+0230", "2024-03-01 12:00:00.500000"),
        ("2024-03-01T12:00:00Z", "2024-03-01 12:00:00.000000"),
        ("2024-03-01T12:00:00", "2024-03-01 12:00:00.000000"),
    ],
)
def test_timestamps_become_utc_text(value: str, expected: str) -> None:
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01T00:00:00Z",
        "",
        1709294400,
        None,
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    ],
)
def test_bad_timestamps_are_rejected(value: object) -> None:
    with pytest.raises(BadRecord) as info:
        normalize_timestamp(value)
    assert info.value.reason == "bad_timestamp"


def test_fields_are_extracted() -> None:
    event = parse_record(line())
    assert event.session_id == "0a1b2c3d4e5f"
    assert event.sensor == "hp1"
    assert event.event_type == "cowrie.login.failed"
    assert event.timestamp == "2024-03-01 12:00:00.123456"
    assert event.src_ip == "203.0.113.7"
    assert event.payload == BASE and event.fallback_sensor is None


def _back(event: Event) -> dict[str, object]:
    """The event put back together from what would be stored."""
    columns = (event.event_type, event.session_id, event.sensor, event.timestamp, event.src_ip)
    stored = json.loads(event.payload_json)
    return original_event(stored, *columns, event.fallback_sensor, event.instance)


def test_the_stored_payload_leaves_out_what_the_columns_hold() -> None:
    event = parse_record(line())
    stored = json.loads(event.payload_json)
    assert stored == {k: v for k, v in BASE.items() if k in ("username", "password", "message")}
    back = _back(event)
    assert back == BASE


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": "2024-03-01T12:00:00.123456+0000"},  # another form: kept
        {"timestamp": "2024-03-01T12:00:00Z"},
        {"sensor": ""},  # names no sensor: kept, the column holds the fallback
        {"sensor": None},
        {"src_ip": 7},
        {"src_ip": None},
        {"uuid": "795b929e-a02f-11ee-94b2-9b0810c67fd9"},  # Cowrie's instance id: a column
        {"uuid": ["not", "a", "string"]},  # kept in the payload
        {"uuid": ""},
    ],
)
def test_every_form_of_a_column_field_comes_back(changes: dict[str, object]) -> None:
    event = parse_record(line(**changes), default_sensor="fallback")
    back = _back(event)
    assert back == {k: v for k, v in {**BASE, **changes}.items() if v is not None}


def test_an_event_without_sensor_comes_back_without() -> None:
    whole = {k: v for k, v in BASE.items() if k != "sensor"}
    event = parse_record(orjson.dumps(whole))
    assert event.sensor == event.fallback_sensor == "unknown"
    back = _back(event)
    assert back == whole


def test_hash_ignores_key_order_and_separators() -> None:
    reordered = dict(reversed(list(BASE.items())))
    v1_style = json.dumps(reordered, separators=(", ", ": ")).encode()
    assert parse_record(v1_style).event_hash == parse_record(line()).event_hash
    assert parse_record(line(password="other")).event_hash != parse_record(line()).event_hash


def test_old_and_odd_shapes_are_accepted() -> None:
    assert parse_record(line(session="deadbeef")).session_id == "deadbeef"
    assert parse_record(line(src_ip="2001:db8::1")).src_ip == "2001:db8::1"
    assert parse_record(line(eventid="cowrie.session.params", arch="linux-x64")).event_type == (
        "cowrie.session.params"
    )
    assert parse_record(line(timestamp="2017-05-01T10:00:00.000001+0000")).timestamp == (
        "2017-05-01 10:00:00.000001"
    )
    for duration in (12.5, "12.5", None):
        closed = parse_record(line(eventid="cowrie.session.closed", duration=duration))
        assert closed.event_type == "cowrie.session.closed"
    assert parse_record(line(eventid="cowrie.session.closed", duration_ms=12500)).event_type


def test_missing_sensor_takes_the_default() -> None:
    assert parse_record(line(sensor=None), "fallback").sensor == "fallback"
    assert parse_record(line(sensor=""), "fallback").sensor == "fallback"
    assert parse_record(line(sensor=None)).sensor == "unknown"
    assert parse_record(line(), "fallback").sensor == "hp1"


def test_long_commands_are_kept_intact() -> None:
    command = "echo " + "A" * 100_000
    event = parse_record(line(eventid="cowrie.command.input", input=command))
    assert json.loads(event.payload_json)["input"] == command


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json at all", "invalid_json"),
        (b'{"eventid": "cowrie.login.failed", ', "invalid_json"),
        (b'["cowrie.login.failed"]', "not_an_object"),
        (b"42", "not_an_object"),
        (line(eventid="KIPP0011"), "not_a_cowrie_event"),
        (line(eventid=None), "not_a_cowrie_event"),
        (line(timestamp=None), "missing_timestamp"),
        (line(timestamp="garbage"), "bad_timestamp"),
        (line(session=None), "missing_session"),
        (line(session=""), "missing_session"),
        (line(session="x" * 200), "bad_session"),
        (line(eventid="cowrie." + "x" * 200), "bad_eventid"),
        (line(sensor="s" * 256), "bad_sensor"),
        (line(sensor="aggregate"), "reserved_sensor"),
        (line(src_ip="9" * 65), "bad_src_ip"),
    ],
)
def test_bad_records_have_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(BadRecord) as info:
        parse_record(data)
    assert info.value.reason == reason


def nested(depth: int, leaf: bytes) -> bytes:
    """An event whose ``x`` nests arrays so that the whole record is ``depth`` levels deep."""
    return line(x=None)[:-1] + b',"x":' + b"[" * (depth - 1) + leaf + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    "leaf", [b'"plain"', b'"\\u0000"', b'"\xff"', b"123456789012345678901234567890"]
)
def test_nesting_limit_is_the_same_on_every_path(leaf: bytes) -> None:
    """Fast path, escapes, invalid UTF-8 and huge integers take different routes through the
    parser; all accept 255 levels and set deeper records aside, however deep."""
    value, depth = json.loads(parse_record(nested(255, leaf)).payload_json)["x"], 1
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert depth == 255
    assert value in ("plain", "\ufffd") or value == int(leaf)  # exactly
    for depth in (256, 1024, 1025, 100_000):
        with pytest.raises(BadRecord) as info:
            parse_record(nested(depth, leaf))
        assert info.value.reason == "too_deep"


def test_nul_invalid_utf8_and_surrogates_become_replacement_characters() -> None:
    nul = parse_record(line(password="a\x00b"))
    assert json.loads(nul.payload_json)["password"] == "a\ufffdb"
    raw = (
        b'{"eventid":"cowrie.login.failed","session":"abcd1234","password":"a\xffb",'
        b'"timestamp":"2024-03-01T12:00:00.000000Z"}'
    )
    assert json.loads(parse_record(raw).payload_json)["password"] == "a\ufffdb"
    surrogate = (
        rb'{"eventid":"cowrie.login.failed","session":"abcd1234","password":"a\ud800b",'
        rb'"timestamp":"2024-03-01T12:00:00.000000Z"}'
    )
    assert json.loads(parse_record(surrogate).payload_json)["password"] == "a\ufffdb"
    key_nul = parse_record(line(**{"we\x00ird": 1}))
    assert "we\ufffdird" in json.loads(key_nul.payload_json)


def test_control_characters_and_markup_stay_data() -> None:
    hostile = "\x1b[2J[bold]:smile:\u202e"
    event = parse_record(line(username=hostile))
    assert json.loads(event.payload_json)["username"] == hostile


@pytest.mark.parametrize(
    "number",
    [2**64, -(2**63) - 1, 10**30, -(10**100), 2**64 - 1, 10**4000],
    ids=["2^64", "-2^63-1", "1e30", "-1e100", "2^64-1", "4001 digits"],
)
def test_integers_beyond_64_bits_are_kept_exactly(number: int) -> None:
    base = line(duration=None)[:-1]
    for data in (
        base + b',"n":%d}' % number,
        base + b',"n":[{"m":%d}],"x":"\xff"}' % number,  # the slow path (invalid UTF-8)
    ):
        event = parse_record(data)
        assert json.loads(event.payload_json)["n"] in (number, [{"m": number}])
        assert str(number) in event.payload_json
    # A string of digits stays a string.
    text = json.loads(parse_record(line(password=str(10**30))).payload_json)["password"]
    assert text == str(10**30)


@pytest.mark.parametrize(
    "token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999", b"[NaN]", b"9" * 5000]
)
def test_numbers_no_json_column_can_hold_are_set_aside(token: bytes) -> None:
    """NaN and Infinity are not JSON; 1e400 is beyond a double; 5000 digits are beyond what
    Python converts: stored as null or rounded they would be lost, so the record is set aside."""
    for data in (
        line()[:-1] + b',"n":' + token + b"}",
        line()[:-1] + b',"n":' + token + b',"x":"\xff"}',
    ):
        with pytest.raises(BadRecord) as info:
            parse_record(data)
        assert info.value.reason == "bad_number"


def test_the_instance_uuid_string_is_held_apart() -> None:
    uuid = "795b929e-a02f-11ee-94b2-9b0810c67fd9"
    event = parse_record(line(uuid=uuid))
    assert event.instance == uuid and "uuid" not in json.loads(event.payload_json)
    odd = parse_record(line(uuid=7))
    assert odd.instance is None and json.loads(odd.payload_json)["uuid"] == 7
