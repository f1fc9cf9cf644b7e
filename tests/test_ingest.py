"""Loading logs end to end on SQLite and PostgreSQL: correctness, idempotence, incrementality."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from dbhelpers import snapshot
from reference import load_events, session_summaries
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from cowrieprocessor.db.models import (
    CommandStat,
    DeadLetter,
    EventSource,
    FileTransfer,
    IngestSource,
    RawEvent,
    SessionSummary,
)
from cowrieprocessor.db.strings import strings
from cowrieprocessor.ingest import batches
from cowrieprocessor.ingest.loader import IngestStats, Loader
from cowrieprocessor.ingest.reader import discover
from cowrieprocessor.reporting.events import stored_events
from cowrieprocessor.samples import SampleConfig, generate_sessions, write_sample_logs

SMALL = SampleConfig(seed=7, days=3, sessions_per_day=40, compress="gz")


def ingest(engine: Engine, *paths: Path, **options: object) -> IngestStats:
    return Loader(engine, **options).ingest(discover([str(p) for p in paths]))


def write_lines(path: Path, events: list[dict]) -> None:
    path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in events))


def clean_events(config: SampleConfig) -> list[dict]:
    return [event for session in generate_sessions(config.clean()) for event in session]


def test_sample_logs_load_exactly(engine: Engine, tmp_path: Path) -> None:
    summary = write_sample_logs(tmp_path / "logs", SMALL)
    stats = ingest(engine, tmp_path / "logs")
    expected = session_summaries(load_events(summary.files))

    assert stats.events_new == summary.unique_events
    assert stats.events_duplicate == summary.duplicates
    assert sum(stats.dead_letters.values()) == sum(summary.bad_lines.values())
    assert stats.sessions_touched == len(expected)
    with Session(engine) as session:
        rows = session.scalars(select(SessionSummary)).all()
        assert session.scalar(select(func.count()).select_from(RawEvent)) == summary.unique_events
    got = {(r.sensor, r.session_id): r for r in rows}
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        row = got[key]
        for column, value in want.items():
            assert getattr(row, column) == value, (key, column)


def dead_letter_rows(engine: Engine) -> list[tuple]:
    d = DeadLetter
    query = select(d.source, d.source_offset, d.reason, d.first_seen)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(d.source, d.source_offset)).all())


def test_reingest_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    write_sample_logs(tmp_path / "logs", SMALL)
    ingest(engine, tmp_path / "logs")
    before = snapshot(engine)
    letters = dead_letter_rows(engine)
    assert "truncated_line" in {row.reason for row in letters}
    again = ingest(engine, tmp_path / "logs")
    # Even the live file, whose unfinished last line has not grown, is not read again.
    assert again.files_unchanged == again.files and again.records == 0
    assert not again.dead_letters and again.bytes_read == 0
    assert dead_letter_rows(engine) == letters  # first_seen too
    full = ingest(engine, tmp_path / "logs", full=True)
    assert full.events_new == 0 and full.events_duplicate > 0
    assert snapshot(engine) == before
    assert dead_letter_rows(engine) == letters  # found again where they were: first seen then


def test_split_files_in_any_order_give_the_same_tables(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    events = clean_events(SMALL)
    random.Random(3).shuffle(events)  # out of order, sessions spread over all files
    parts = [events[i::3] for i in range(3)]
    for i, part in enumerate(parts):
        write_lines(tmp_path / f"part{i}.json", part)
    files = [tmp_path / f"part{i}.json" for i in range(3)]

    from cowrieprocessor.db.engine import create_engine_for_url

    engine = create_engine_for_url(db_url)
    ingest(engine, files[2], files[0], files[1], batch_size=97)
    first = snapshot(engine)
    engine.dispose()

    other = request.getfixturevalue("empty_db_url")
    engine2 = create_engine_for_url(other)
    from cowrieprocessor.db.migrate import upgrade

    upgrade(engine2)
    write_lines(tmp_path / "whole.json", sorted(events, key=lambda e: e["timestamp"]))
    ingest(engine2, tmp_path / "whole.json")
    second = snapshot(engine2)
    engine2.dispose()
    assert first == second
    assert len(first["session_summaries"]) == len(session_summaries(load_events(files)))


def test_appended_bytes_only_are_read(engine: Engine, tmp_path: Path) -> None:
    events = clean_events(SMALL)
    log = tmp_path / "cowrie.json"
    write_lines(log, events[:500])
    assert ingest(engine, log).events_new == 500
    with log.open("ab") as fh:
        fh.write(b"".join(json.dumps(e).encode() + b"\n" for e in events[500:]))
    stats = ingest(engine, log)
    assert stats.records == len(events) - 500
    assert stats.events_new == len(events) - 500
    write_lines(tmp_path / "whole.json", events)
    assert session_summaries(load_events([tmp_path / "whole.json"])).keys() == {
        (r["sensor"], r["session_id"]) for r in snapshot(engine)["session_summaries"]
    }


def test_rotated_replaced_and_truncated_files_are_read_again(
    engine: Engine, tmp_path: Path
) -> None:
    events = clean_events(SMALL)
    log = tmp_path / "cowrie.json"
    write_lines(log, events[:300])
    ingest(engine, log)

    # Rotation: the old file moves away, a new one with other content takes the name.
    log.rename(tmp_path / "cowrie.json.1")
    write_lines(log, events[300:400])
    stats = ingest(engine, log)
    assert stats.files_reread == 1 and stats.events_new == 100

    # Replaced in place with a longer file that starts differently (same name, new content).
    tmp = tmp_path / "new.json"
    write_lines(tmp, events[400:700])
    os.replace(tmp, log)
    stats = ingest(engine, log)
    assert stats.files_reread == 1 and stats.events_new == 300

    # copytruncate: same inode, shorter content.
    with log.open("r+b") as fh:
        fh.truncate(0)
        fh.write(b"".join(json.dumps(e).encode() + b"\n" for e in events[700:710]))
    stats = ingest(engine, log)
    assert stats.files_reread == 1 and stats.records == 10 and stats.events_new == 10


def test_truncated_last_line_waits_for_its_end(engine: Engine, tmp_path: Path) -> None:
    events = clean_events(SMALL)[:20]
    log = tmp_path / "cowrie.json"
    whole = json.dumps(events[10]).encode()
    write_lines(log, events[:10])
    with log.open("ab") as fh:
        fh.write(whole[:25])
    stats = ingest(engine, log)
    assert stats.events_new == 10 and stats.dead_letters == {"truncated_line": 1}
    with log.open("ab") as fh:
        fh.write(whole[25:] + b"\n")
    stats = ingest(engine, log)
    assert stats.events_new == 1 and not stats.dead_letters
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeadLetter)) == 0
        assert conn.scalar(select(IngestSource.offset)) == log.stat().st_size


def test_compressed_files_are_read_once(engine: Engine, tmp_path: Path) -> None:
    summary = write_sample_logs(tmp_path / "logs", replace(SMALL, truncated_last_line=False))
    assert any(p.suffix == ".gz" for p in summary.files)
    first = ingest(engine, tmp_path / "logs")
    again = ingest(engine, tmp_path / "logs")
    assert first.events_new > 0 and again.files_unchanged == again.files


PACK = {"": bytes, ".gz": gzip.compress, ".bz2": bz2.compress}


class StopAfter:
    """An ``on_progress`` that stops the run (like Ctrl-C) once ``batches`` have committed."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def __call__(self, _stats: IngestStats) -> None:
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def clean_snapshot(request: pytest.FixtureRequest, tmp_path: Path, data: bytes) -> dict:
    """The tables a clean run over ``data`` (one plain file) gives, in a fresh database."""
    from cowrieprocessor.db.engine import create_engine_for_url
    from cowrieprocessor.db.migrate import upgrade

    clean = create_engine_for_url(request.getfixturevalue("empty_db_url"))
    try:
        upgrade(clean)
        (tmp_path / "clean").mkdir(exist_ok=True)
        (tmp_path / "clean/cowrie.json").write_bytes(data)
        ingest(clean, tmp_path / "clean/cowrie.json")
        return snapshot(clean)
    finally:
        clean.dispose()


@pytest.mark.parametrize("suffix", PACK)
def test_a_file_left_part_way_is_finished_by_the_next_run(
    engine: Engine, tmp_path: Path, request: pytest.FixtureRequest, suffix: str
) -> None:
    events = clean_events(SMALL)
    data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    log = tmp_path / f"cowrie.json.2024-03-01{suffix}"
    log.write_bytes(PACK[suffix](data))
    loader = Loader(engine, batch_size=100, on_progress=StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        loader.ingest([log])
    assert loader.stats.events_new == 200
    again = ingest(engine, log, batch_size=100)
    assert again.files_unchanged == 0 and again.files_reread == 0  # resumed at the cursor
    assert again.records == len(events) - 200 and again.events_new == len(events) - 200
    assert ingest(engine, log).files_unchanged == 1  # and now it is done
    assert snapshot(engine) == clean_snapshot(request, tmp_path, data)


@pytest.mark.parametrize("suffix", PACK)
def test_a_read_error_is_retried_by_the_next_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    from cowrieprocessor.ingest import batches
    from cowrieprocessor.ingest.reader import Record, read_records

    def failing_after(count: int) -> object:
        def read(path: Path, start: int = 0) -> object:
            for n, record in enumerate(read_records(path, start)):
                if n == count:
                    yield Record(record.offset, record.offset, b"OSError: EIO", True, "read_error")
                    return
                yield record

        return read

    events = clean_events(SMALL)
    data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    log = tmp_path / f"cowrie.json{suffix}"
    log.write_bytes(PACK[suffix](data))
    monkeypatch.setattr(batches, "read_records", failing_after(150))  # a disk error
    first = ingest(engine, log, batch_size=100)
    assert first.events_new == 150 and first.dead_letters == {"read_error": 1}
    monkeypatch.undo()
    again = ingest(engine, log, batch_size=100)
    assert again.events_new == len(events) - 150 and not again.dead_letters
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeadLetter)) == 0
        assert conn.scalar(select(func.count()).select_from(RawEvent)) == len(events)


def test_a_copytruncate_that_starts_with_the_same_line_is_read_again(
    engine: Engine, tmp_path: Path
) -> None:
    events = clean_events(SMALL)
    log = tmp_path / "cowrie.json"
    write_lines(log, events[:300])
    ingest(engine, log)
    # copytruncate, then the sensor wrote the same first event again and more after it,
    # past the old cursor: same inode, same first line, bigger than the cursor.
    with log.open("r+b") as fh:
        fh.truncate(0)
        fh.write(b"".join(json.dumps(e).encode() + b"\n" for e in events[:1] + events[300:700]))
    stats = ingest(engine, log)
    assert stats.files_reread == 1 and stats.records == 401
    assert (stats.events_new, stats.events_duplicate) == (400, 1)


def test_a_damaged_file_is_set_aside_and_the_run_goes_on(engine: Engine, tmp_path: Path) -> None:
    events = clean_events(SMALL)
    logs = tmp_path / "logs"
    logs.mkdir()
    write_lines(logs / "a.json", events[:100])
    (logs / "b.json.gz").write_bytes(b"this is not gzip data\n")
    write_lines(logs / "c.json", events[100:200])
    stats = ingest(engine, logs)
    assert stats.files_done == 3 and stats.events_new == 200
    assert stats.dead_letters == {"read_error": 1}
    with engine.connect() as conn:
        letter = conn.execute(select(DeadLetter.source, DeadLetter.raw)).one()
    assert letter.source.endswith("b.json.gz") and "Not a gzipped file" in letter.raw
    letters = dead_letter_rows(engine)
    again = ingest(engine, logs)  # tried again: the error may have been the disk's
    assert again.files_unchanged == 2 and again.records == 1 and again.events_new == 0
    assert again.dead_letters == {"read_error": 1}
    assert dead_letter_rows(engine) == letters  # the same dead letter, first seen then


def test_values_longer_than_their_columns_behave_alike(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL would refuse them and SQLite store them: both set them aside the same way."""
    base = {"eventid": "cowrie.session.closed", "timestamp": "2024-03-01T10:00:00.000000Z"}
    base |= {"src_ip": "10.0.0.1", "sensor": "edge-1"}
    sessions = iter(f"{n:08x}" for n in range(100))

    def event(**fields: object) -> dict:
        return {**base, "session": next(sessions), **fields}

    events = [
        event(eventid="cowrie." + "x" * 129),
        event(sensor="S" * 256),
        event(src_ip="9" * 65),
        event(eventid="cowrie.session.connect", protocol="p" * 17),
        event(eventid="cowrie.client.kex", hassh="h" * 65),
        event(eventid="cowrie.session.file_download", url="http://x/", shasum="a" * 129),
        event(sensor="S" * 255, src_ip="9" * 64, eventid="cowrie.session.connect", protocol="ssh"),
    ]
    write_lines(tmp_path / "cowrie.json", events)
    stats = ingest(engine, tmp_path / "cowrie.json")
    assert stats.dead_letters == {"bad_eventid": 1, "bad_sensor": 1, "bad_src_ip": 1}
    assert stats.events_new == 4
    with engine.connect() as conn:
        summaries = conn.execute(
            select(SessionSummary.sensor, SessionSummary.protocol, SessionSummary.hassh)
        ).all()
        shasums = conn.scalars(select(FileTransfer.shasum)).all()
        payloads = conn.scalars(select(RawEvent.payload)).all()
    # Too long for its column: absent in the derived rows, whole in the stored event.
    assert sorted(summaries, key=str) == sorted(
        [(base["sensor"], None, None)] * 3 + [("S" * 255, "ssh", None)], key=str
    )
    assert shasums == [None]
    assert {p.get("protocol") for p in payloads} >= {"p" * 17}


#: The commands of ``command_stats`` as their texts (``strings``).
_command_texts = select(strings.c.text).join_from(
    CommandStat, strings, strings.c.id == CommandStat.command_id
)


def test_values_that_are_not_strings_give_the_same_rows_in_any_batch(
    engine: Engine, tmp_path: Path
) -> None:
    """Read back from the database (jsonb reorders keys) or from the log, alike."""

    def event(second: int, eventid: str, **fields: object) -> dict:
        ts = f"2024-03-01T10:00:{second:02d}Z"
        return {"eventid": eventid, "timestamp": ts, "session": "abcdef01", "sensor": "s", **fields}

    events = [
        event(0, "cowrie.login.success", username={"b": 1, "a": 2}, password=True),
        event(1, "cowrie.command.input", input={"zz": [1, {"y": 1, "x": 2}], "a": None}),
    ] + [event(2 + i, "cowrie.command.input", input="ls") for i in range(150)]
    write_lines(tmp_path / "cowrie.json", events)
    ingest(engine, tmp_path / "cowrie.json", batch_size=100)  # the session spans 2 batches
    with engine.connect() as conn:
        summary = conn.execute(select(SessionSummary.username, SessionSummary.password)).one()
        commands = set(conn.scalars(_command_texts))
    assert tuple(summary) == (None, None)
    assert commands == {'{"a":null,"zz":[1,{"x":2,"y":1}]}', "ls"}


def test_numbers_are_stored_exactly_and_unstorable_ones_set_aside(
    engine: Engine, tmp_path: Path
) -> None:
    big = 10**30

    def event(second: int, eventid: str, session: str = "big00001", **fields: object) -> dict:
        ts = f"2024-03-01T10:{second // 60:02d}:{second % 60:02d}Z"
        return {"eventid": eventid, "timestamp": ts, "session": session, "sensor": "s", **fields}

    sha = "f" * 64
    events = [
        event(0, "cowrie.session.connect", src_port=big, count=-(2**63) - 1),
        *[event(1 + i, "cowrie.command.input", input="ls") for i in range(150)],
        event(200, "cowrie.command.input", input={"n": big}),  # in the second batch
        event(201, "cowrie.session.file_download", url="http://x/", shasum=sha),
        event(202, "cowrie.virustotal.scanfile", sha256=sha, positives=10**12, total=big),
    ]
    log = tmp_path / "cowrie.json"
    lines = [json.dumps(e).encode() for e in events]
    lines.append(json.dumps(event(203, "cowrie.session.closed", duration=1.5)).encode()[:-1])
    lines[-1] += b',"n":NaN}'
    log.write_bytes(b"\n".join(lines) + b"\n")
    stats = ingest(engine, log, batch_size=100)  # the session spans 2 batches
    assert stats.events_new == len(events) and stats.dead_letters == {"bad_number": 1}
    with engine.connect() as conn:
        connect = conn.scalar(
            select(RawEvent.payload).where(RawEvent.event_type == "cowrie.session.connect")
        )
        commands = set(conn.scalars(_command_texts))
        files = conn.execute(select(FileTransfer.vt_positives, FileTransfer.vt_total)).all()
        letter = conn.execute(select(DeadLetter.reason, DeadLetter.raw)).one()
    assert (connect["src_port"], connect["count"]) == (big, -(2**63) - 1)  # not floats
    assert commands == {"ls", f'{{"n":{big}}}'}  # the same from the log and read back
    assert files == [(None, None)]  # counts no integer column holds: unknown, not a crash
    assert letter.reason == "bad_number" and letter.raw.endswith('"n":NaN}\n')


def test_credentials_count_when_strings_alike_in_summaries_and_rollups(
    engine: Engine, tmp_path: Path
) -> None:
    from cowrieprocessor.rollups.refresh import check, refresh_dirty

    def login(second: int, eventid: str, user: object, password: object) -> dict:
        ts = f"2024-03-01T10:00:{second:02d}Z"
        return {"eventid": eventid, "timestamp": ts, "session": "cred0001", "sensor": "s"} | {
            "username": user,
            "password": password,
        }

    success = "cowrie.login.success"
    failed = "cowrie.login.failed"
    write_lines(
        tmp_path / "cowrie.json",
        [
            login(0, success, "admin", 123),  # a number: left out, even of the summary
            login(1, failed, True, "x"),
            login(2, failed, None, "x"),  # null: counts as ''
            login(3, success, "root", "toor"),
            login(4, failed, "", ""),
        ],
    )
    ingest(engine, tmp_path / "cowrie.json")
    refresh_dirty(engine)
    assert check(engine) == []
    with engine.connect() as conn:
        summary = conn.execute(
            select(
                SessionSummary.username,
                SessionSummary.password,
                SessionSummary.login_attempts,
                SessionSummary.login_successes,
            )
        ).one()
        usernames = conn.execute(
            text("SELECT username, attempts, successes FROM daily_usernames ORDER BY 1")
        ).all()
        pairs = conn.execute(
            text("SELECT username, password, attempts FROM daily_credentials ORDER BY 1, 2")
        ).all()
    assert tuple(summary) == ("root", "toor", 5, 2)  # every login is an attempt
    assert [tuple(r) for r in usernames] == [("", 2, 0), ("root", 1, 1)]
    assert [tuple(r) for r in pairs] == [("", "", 1), ("", "x", 1), ("root", "toor", 1)]


def test_a_file_name_that_is_not_utf8_is_stored_escaped(engine: Engine, tmp_path: Path) -> None:
    name = os.fsdecode(b"cowrie-\xff.json")  # how Python hands such a name over
    write_lines(tmp_path / name, clean_events(SMALL)[:20])
    first = ingest(engine, tmp_path)
    again = ingest(engine, tmp_path)
    assert first.events_new == 20 and again.files_unchanged == 1
    with engine.connect() as conn:
        sources = set(conn.scalars(select(EventSource.path))) | set(
            conn.scalars(select(IngestSource.path))
        )
    assert sources == {str(tmp_path / "cowrie-\\xff.json")}


def test_missing_sensor_is_filled_from_the_option(engine: Engine, tmp_path: Path) -> None:
    events = clean_events(SMALL)[:50]
    for event in events:
        event.pop("sensor", None)
    write_lines(tmp_path / "cowrie.json", events)
    ingest(engine, tmp_path / "cowrie.json", default_sensor="edge-7")
    with engine.connect() as conn:
        sensors = set(conn.scalars(select(SessionSummary.sensor)))
    assert sensors == {"edge-7"}


def test_unstorable_strings_are_handled_alike(engine: Engine, tmp_path: Path) -> None:
    base = clean_events(SMALL)[0]
    event = {
        **base,
        "eventid": "cowrie.login.failed",
        "username": "ro\x00ot",
        "password": "PLACEHOLDER",
        "message": "m",
    }
    line = json.dumps(event).encode().replace(b"PLACEHOLDER", b"pa\xffss")
    long_cmd = {**base, "eventid": "cowrie.command.input", "input": "echo " + "B" * 100_000}
    (tmp_path / "cowrie.json").write_bytes(line + b"\n" + json.dumps(long_cmd).encode() + b"\n")
    stats = ingest(engine, tmp_path / "cowrie.json")
    assert stats.events_new == 2 and not stats.dead_letters
    with engine.connect() as conn:
        payloads = {e["eventid"]: e for e in stored_events(conn)}
    assert payloads["cowrie.login.failed"]["username"] == "ro\ufffdot"
    assert payloads["cowrie.login.failed"]["password"] == "pa\ufffdss"
    assert payloads["cowrie.command.input"]["input"] == long_cmd["input"]


def test_dead_letters_keep_reason_and_text(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "cowrie.json").write_bytes(
        b'garbage\n{"eventid":"KIPP0011","session":"x"}\n'
        + b'{"eventid":"cowrie.login.failed","timestamp":"2024-01-01T00:00:00Z"}\n'
    )
    stats = ingest(engine, tmp_path / "cowrie.json")
    assert stats.dead_letters == {"invalid_json": 1, "not_a_cowrie_event": 1, "missing_session": 1}
    with engine.connect() as conn:
        rows = conn.execute(
            select(DeadLetter.reason, DeadLetter.raw, DeadLetter.source_offset).order_by(
                DeadLetter.source_offset
            )
        ).all()
    assert rows[0] == ("invalid_json", "garbage\n", 0)
    ingest(engine, tmp_path / "cowrie.json", full=True)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeadLetter)) == 3


def test_same_sensorless_event_under_two_sensor_names_is_stored_once(
    engine: Engine, tmp_path: Path
) -> None:
    events = clean_events(SMALL)[:40]
    for event in events:
        event.pop("sensor", None)
    write_lines(tmp_path / "a.json", events)
    write_lines(tmp_path / "b.json", events)
    first = ingest(engine, tmp_path / "a.json", default_sensor="edge-a")
    before = snapshot(engine)
    second = ingest(engine, tmp_path / "b.json", default_sensor="edge-b")
    assert first.events_new == 40
    assert second.events_new == 0 and second.events_duplicate == 40
    assert snapshot(engine) == before  # no session appears under edge-b


def login(session: str, second: int, sensor: str | None, **fields: object) -> dict:
    event = {
        "eventid": "cowrie.login.failed",
        "timestamp": f"2024-03-01T10:00:{second:02d}Z",
        "session": session,
        "src_ip": "192.0.2.1",
        "username": "root",
        "password": str(second),
        **fields,
    }
    if sensor is not None:
        event["sensor"] = sensor
    return event


def test_an_event_without_sensor_joins_the_session_that_names_one(
    engine: Engine, tmp_path: Path
) -> None:
    connect = login("abc1", 0, "edge", eventid="cowrie.session.connect", protocol="ssh")
    closed = login("abc1", 10, "edge", eventid="cowrie.session.closed")
    write_lines(tmp_path / "cowrie.json", [connect, login("abc1", 5, None), closed])
    ingest(engine, tmp_path / "cowrie.json")
    with engine.connect() as conn:
        sessions = conn.execute(
            select(
                SessionSummary.sensor,
                SessionSummary.session_id,
                SessionSummary.duration_seconds,
                SessionSummary.login_attempts,
            )
        ).all()
        placed = conn.execute(select(RawEvent.sensor, RawEvent.fallback_sensor)).all()
    assert sessions == [("edge", "abc1", 10.0, 1)]  # one session, not two
    assert Counter(map(tuple, placed)) == {("edge", None): 2, ("edge", "unknown"): 1}


def sensorless_parts() -> list[list[dict]]:
    """Three files whose sessions' sensors depend on each other.

    ``s1``: sensor-less events first, the event naming ``alpha`` in another file.
    ``s2``: named ``alpha`` in one file, then by ``beta`` in another: its sensor-less
    events go back to their fallback. ``s3``: no event names a sensor. ``s4``: events
    without sensor or with an empty one, across midnight, named in the last file.
    """
    return [
        [
            login("s1", 1, None),
            login("s1", 2, ""),
            login("s2", 3, None),
            login("s3", 4, None),
            login("s4", 59, None, timestamp="2024-02-29T23:59:59Z"),
        ],
        [login("s1", 5, "alpha"), login("s2", 6, "alpha"), login("s3", 7, "")],
        [login("s2", 8, "beta"), login("s4", 9, "gamma"), login("s4", 10, "")],
    ]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_sensorless_events_give_the_same_tables_in_any_order(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest, order: tuple[int, ...]
) -> None:
    from dbhelpers import rollup_snapshot

    from cowrieprocessor.db.engine import create_engine_for_url
    from cowrieprocessor.db.migrate import upgrade
    from cowrieprocessor.rollups.refresh import check, refresh_dirty

    parts = sensorless_parts()
    for n, part in enumerate(parts):
        write_lines(tmp_path / f"part{n}.json", part)

    def tables(url: str, *files: Path, batch_size: int) -> dict:
        engine = create_engine_for_url(url)
        try:
            upgrade(engine)
            for path in files:  # one run each
                ingest(engine, path, batch_size=batch_size)
                refresh_dirty(engine)
            assert check(engine) == []
            return snapshot(engine) | rollup_snapshot(engine)
        finally:
            engine.dispose()

    got = tables(db_url, *(tmp_path / f"part{n}.json" for n in order), batch_size=100)
    write_lines(tmp_path / "whole.json", [e for part in parts for e in part])
    want = tables(request.getfixturevalue("empty_db_url"), tmp_path / "whole.json", batch_size=2)
    assert got == want
    sessions = {(r["sensor"], r["session_id"]): r for r in got["session_summaries"]}
    assert sessions.keys() == {
        ("alpha", "s1"),
        ("alpha", "s2"),
        ("beta", "s2"),
        ("unknown", "s2"),
        ("unknown", "s3"),
        ("gamma", "s4"),
    }
    assert sessions["alpha", "s1"]["login_attempts"] == 3
    assert sessions["unknown", "s2"]["login_attempts"] == 1  # two sensors name s2
    assert str(sessions["gamma", "s4"]["first_day"]) == "2024-02-29"


def test_parsing_in_a_child_process_gives_the_same_tables(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cowrieprocessor.db.engine import create_engine_for_url
    from cowrieprocessor.db.migrate import upgrade
    from cowrieprocessor.ingest import loader

    summary = write_sample_logs(tmp_path / "logs", SMALL)
    engine = create_engine_for_url(db_url)
    in_process = ingest(engine, tmp_path / "logs", batch_size=97)
    expected = snapshot(engine)
    engine.dispose()

    monkeypatch.setattr(loader, "CHILD_MIN_BYTES", 0)  # every file parsed by a child
    engine2 = create_engine_for_url(request.getfixturevalue("empty_db_url"))
    upgrade(engine2)
    in_child = ingest(engine2, tmp_path / "logs", batch_size=97)
    assert snapshot(engine2) == expected
    assert replace(in_child, seconds=0) == replace(in_process, seconds=0)
    assert in_child.events_new == summary.unique_events
    engine2.dispose()


def broken_batches(*_args: object, **_kwargs: object) -> object:
    raise OSError("disk on fire")


def test_a_failing_child_process_fails_the_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cowrieprocessor.ingest import loader

    write_lines(tmp_path / "a.json", clean_events(SMALL)[:10])
    monkeypatch.setattr(loader, "CHILD_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "prepare_batches", broken_batches)  # run by the child
    with pytest.raises(OSError, match="disk on fire"):
        ingest(engine, tmp_path / "a.json")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RawEvent)) == 0


def test_event_row_positions_name_their_columns() -> None:
    """The loader reads event rows by these names; they must point at those columns."""
    named = {
        batches.HASH: "event_hash",
        batches.SESSION_ID: "session_id",
        batches.SENSOR: "sensor",
        batches.TIMESTAMP: "event_timestamp",
        batches.OFFSET: "source_offset",
        batches.FALLBACK_SENSOR: "fallback_sensor",
        batches.INSTANCE: "instance_id",
    }
    assert {position: batches.RAW_COLUMNS[position] for position in named} == named
