"""Cut a log file into parsed batches of records, each ending at a byte position.

:func:`prepare_batches` turns each batch into what the loader writes: insert-ready event
rows and the per-session rows of the batch's sessions. It needs no database, so the loader
can run it in a child process (:func:`in_child`) while it writes the previous batch.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cowrieprocessor.ingest.parse import BadRecord, Event, parse_record
from cowrieprocessor.ingest.reader import iter_records, open_log
from cowrieprocessor.ingest.sessions import SessionFacts

SessionKey = tuple[str, str]
#: (event_hash, session_id, sensor, event_type, timestamp, src_ip, payload_json, offset)
EventRow = tuple[str, str, str, str, str, "str | None", str, int]
#: (summary row without its ``updated_at``, command rows, file rows) of one session.
SessionRows = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]


@dataclass
class Batch:
    """Parsed records of one stretch of a file, ending at byte ``position``."""

    events: list[tuple[Event, int]] = field(default_factory=list)  # (event, offset)
    dead: list[tuple[int, str, bytes]] = field(default_factory=list)  # (offset, reason, raw)
    records: int = 0
    position: int = 0


@dataclass
class PreparedBatch:
    """A batch ready to write.

    ``rows`` holds each distinct event of the batch once (its first occurrence);
    ``sessions`` the rows of every session of the batch computed from those events alone,
    which is the whole session when the database does not know it yet.
    """

    rows: list[EventRow]
    sessions: dict[SessionKey, SessionRows]
    events: int  # parsed events, duplicates within the batch included
    dead: list[tuple[int, str, bytes]]
    records: int
    position: int


def read_batches(
    path: Path,
    start: int,
    *,
    compressed: bool,
    default_sensor: str | None,
    batch_size: int,
) -> Iterator[Batch]:
    """Yield batches of at most ``batch_size`` records from byte ``start``; the last may be empty.

    A last line without newline in a plain file is being written: if it does not parse yet,
    it is reported as ``truncated_line`` and the position stays before it, so the next run
    reads it whole. In a compressed file it is simply a bad record.
    """
    batch = Batch(position=start)
    with open_log(path) as fh:
        if start:
            fh.seek(start)
        for record in iter_records(fh, start):
            batch.records += 1
            if record.problem is not None:
                batch.dead.append((record.offset, record.problem, record.data))
            else:
                try:
                    batch.events.append((parse_record(record.data, default_sensor), record.offset))
                except BadRecord as bad:
                    if not record.complete:
                        batch.dead.append((record.offset, "truncated_line", record.data))
                        if not compressed:
                            break
                    else:
                        batch.dead.append((record.offset, bad.reason, record.data))
            batch.position = record.end
            if len(batch.events) + len(batch.dead) >= batch_size:
                # Hand the batch over without keeping a reference in this frame, so the
                # consumer can free it (and collect garbage cheaply) before asking for more.
                full = [batch]
                batch = Batch(position=batch.position)
                yield full.pop()
    yield batch


def session_rows(session: SessionFacts) -> SessionRows:
    """A session's rows; the summary's last column (``updated_at``) is left for the writer."""
    files = session.file_rows()
    flagged = any((f[8] or 0) > 0 for f in files)
    return session.summary_row(flagged, None), session.command_rows(), files  # type: ignore[arg-type]


def prepare(batch: Batch) -> PreparedBatch:
    """Distinct event rows and per-session rows of one parsed batch."""
    rows: dict[str, EventRow] = {}
    facts: dict[SessionKey, SessionFacts] = {}
    for e, offset in batch.events:
        if e.event_hash in rows:
            continue
        rows[e.event_hash] = (
            e.event_hash,
            e.session_id,
            e.sensor,
            e.event_type,
            e.timestamp,
            e.src_ip,
            e.payload_json,
            offset,
        )
        key = (e.sensor, e.session_id)
        session = facts.get(key)
        if session is None:
            session = facts[key] = SessionFacts(*key)
        session.add(e.event_type, e.timestamp, e.event_hash, e.src_ip, e.payload)
    return PreparedBatch(
        list(rows.values()),
        {key: session_rows(session) for key, session in facts.items()},
        len(batch.events),
        batch.dead,
        batch.records,
        batch.position,
    )


def prepare_batches(
    path: Path,
    start: int,
    *,
    compressed: bool,
    default_sensor: str | None,
    batch_size: int,
) -> Iterator[PreparedBatch]:
    """:func:`read_batches`, each batch :func:`prepare`\\ d."""
    for batch in read_batches(
        path, start, compressed=compressed, default_sensor=default_sensor, batch_size=batch_size
    ):
        parsed = [batch]
        del batch  # keep no reference while suspended (see read_batches)
        yield prepare(parsed.pop())


T = TypeVar("T")


class ChildFailed(RuntimeError):
    """The child process producing batches ended without saying why."""


def in_child(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Run ``produce`` in a forked child process and yield its items here, in order.

    The child works at most one item ahead (a pipe between the two), so memory stays
    bounded. An exception in the child is raised here; leaving the loop early, or this
    process dying, ends the child (its next write fails on the closed pipe).
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_fd)
            with open(write_fd, "wb") as out:
                try:
                    for item in produce():
                        data = pickle.dumps([True, item], pickle.HIGHEST_PROTOCOL)
                        del item
                        out.write(data)
                        out.flush()
                        del data
                        gc.collect(0)  # automatic collection may be off (see the loader)
                except BrokenPipeError:
                    raise
                except Exception as exc:
                    out.write(pickle.dumps([False, exc], pickle.HIGHEST_PROTOCOL))
                    out.flush()
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    finished = False
    try:
        with open(read_fd, "rb") as inp:
            while True:
                try:
                    message = pickle.load(inp)  # [ok, item]
                except EOFError:
                    break
                if not message[0]:
                    finished = True
                    raise message[1]
                yield message.pop()  # keep no reference while suspended
        finished = True
    finally:
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ChildFailed(f"batch reader process failed (status {status})")
