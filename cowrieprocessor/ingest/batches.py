"""Cut a log file into batches ready to write, each ending at a byte position.

:func:`prepare_batches` turns each stretch of records into what the loader writes:
insert-ready event rows and the per-session rows of the batch's sessions. It needs no
database, so the loader can run it in a child process (``ingest/child.py``) while it
writes the previous batch.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from cowrieprocessor.ingest.parse import BadRecord, parse_fields
from cowrieprocessor.ingest.reader import END, read_records, tail_hash
from cowrieprocessor.ingest.sessions import FILE_COLUMNS, SessionFacts

SessionKey = tuple[str, str]
#: Columns of ``raw_events`` the loader writes, in the order of an :data:`EventRow`.
RAW_COLUMNS = (
    "event_hash",
    "session_id",
    "sensor",
    "event_type",
    "event_timestamp",
    "src_ip",
    "payload",
    "source_id",
    "source_offset",
    "ingested_at",
    "fallback_sensor",
    "instance_id",
)
#: An event as the loader writes it; its last field is the instance uuid's text, which
#: becomes its id in ``strings`` on insert (``instance_id``).
EventRow = tuple[
    bytes, str, str, str, str, "str | None", str, int, int, str, "str | None", "str | None"
]
#: Positions in an :data:`EventRow` of the columns read back from it.
HASH: Final = 0
SESSION_ID: Final = 1
SENSOR: Final = 2
TIMESTAMP: Final = 4
OFFSET: Final = 8
FALLBACK_SENSOR: Final = 10
INSTANCE: Final = 11
#: (summary row without its ``updated_at``, command rows, file rows) of one session.
SessionRows = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]


class PreparedBatch(NamedTuple):
    """A stretch of a file ready to write, from byte ``start`` to byte ``position``.

    ``rows`` holds each distinct event of the batch once (its first occurrence), stamped
    ``ingested_at`` = ``stamp``; ``sessions`` the rows of every session of the batch
    computed from those events alone, which is the whole session when the database does
    not know it yet. Only plain values inside, so it crosses processes as :mod:`marshal`.

    The last batch of a read says how it ``ended``: :data:`ENDED` (the end of the file was
    reached; a plain file may still wait there for the rest of an unfinished last line,
    which ends at ``seen``) or ``"read_error"``. Other batches have ``ended`` None: the read
    goes on. ``tail`` is :func:`~cowrieprocessor.ingest.reader.tail_hash` of the bytes
    before ``position`` (None when unknown), to check later that they are still there.
    """

    rows: list[EventRow]
    sessions: dict[SessionKey, SessionRows]
    events: int  # parsed events, duplicates within the batch included
    dead: list[tuple[int, str, bytes]]  # (offset, reason, raw record)
    records: int
    start: int
    position: int
    seen: int
    stamp: str
    tail: str | None
    ended: str | None

    def encode(self) -> bytes:
        """The batch as bytes, to cross from the child process."""
        return marshal.dumps(tuple(self))

    @classmethod
    def decode(cls, data: bytes) -> PreparedBatch:
        """The batch back from :meth:`encode`."""
        return cls._make(marshal.loads(data))


#: Where a parsed event (:func:`parse_fields`) holds its timestamp.
_TIMESTAMP = 4
#: Where a file row (:data:`~cowrieprocessor.ingest.sessions.FILE_COLUMNS`) holds its
#: VirusTotal detections.
_VT_POSITIVES = FILE_COLUMNS.index("vt_positives")


def session_key(row: EventRow) -> SessionKey:
    """The (sensor, session id) of an event row."""
    return row[SENSOR], row[SESSION_ID]


def session_rows(session: SessionFacts) -> SessionRows:
    """A session's rows; the summary's last column (``updated_at``) is left for the writer."""
    files = session.file_rows()
    flagged = any((f[_VT_POSITIVES] or 0) > 0 for f in files)
    return session.summary_row(flagged, None), session.command_rows(), files


def prepare_batches(
    path: Path,
    start: int,
    *,
    compressed: bool,
    default_sensor: str | None,
    batch_size: int,
    source: int,
    pruned_before: str | None = None,
) -> Iterator[PreparedBatch]:
    """Read ``path`` from byte ``start`` in batches of at most ``batch_size`` records (the last
    may be empty), each parsed and folded into per-session rows.

    A last line without newline in a plain file is being written: if it does not parse yet,
    it is reported as ``truncated_line`` and the position stays before it, so the next run
    reads it whole. In a compressed file it is simply a bad record.

    An event of a day before ``pruned_before`` (ISO day: raw events before it were pruned)
    is a ``pruned_day`` dead letter with its raw text (``ingest/pruned.py``).
    """
    rows: dict[bytes, EventRow] = {}
    facts: dict[SessionKey, SessionFacts] = {}
    dead: list[tuple[int, str, bytes]] = []
    events = records = 0
    position = batch_start = seen = start
    tail: bytes | None = None  # the last record before position, if its bytes are known
    ended: str | None = None
    stamp = _now()

    def finish() -> PreparedBatch:
        sessions = {key: session_rows(session) for key, session in facts.items()}
        return PreparedBatch(
            list(rows.values()),
            sessions,
            events,
            dead,
            records,
            batch_start,
            position,
            seen,
            stamp,
            None if tail is None else tail_hash(tail),
            ended,
        )

    for offset, end, data, complete, problem in read_records(path, start):
        seen = end
        if problem == END:
            position = end  # past any blank lines
            ended = END
            break
        records += 1
        if problem is not None:
            dead.append((offset, problem, data))
            if problem == "read_error":
                ended = problem
                break
            # Of an oversized record only the start is kept, so its last line is unknown.
            tail = None if problem == "oversized_record" else data
        else:
            try:
                fields = parse_fields(data, default_sensor)
            except BadRecord as bad:
                if not complete:
                    dead.append((offset, "truncated_line", data))
                    if not compressed:
                        ended = END  # read to the end; waits there for the rest of the line
                        break
                else:
                    dead.append((offset, bad.reason, data))
            else:
                if pruned_before is not None and fields[_TIMESTAMP] < pruned_before:
                    dead.append((offset, "pruned_day", data))
                else:
                    events += 1
                    _fold_event(rows, facts, fields, source, offset, stamp)
            tail = data
        position = end
        if events + len(dead) >= batch_size:
            # Hand the batch over holding no reference to it here, so the consumer
            # frees it (and collects garbage cheaply) before asking for the next one.
            full = [finish()]
            rows, facts, dead = {}, {}, []
            events = records = 0
            batch_start = position
            stamp = _now()
            yield full.pop()
    yield finish()


def _fold_event(
    rows: dict[bytes, EventRow],
    facts: dict[SessionKey, SessionFacts],
    fields: tuple[Any, ...],
    source: int,
    offset: int,
    stamp: str,
) -> None:
    """Keep a parsed event (:func:`parse_fields`) as the batch's row of its hash, unless the
    batch has that event already, and fold it into its session's facts."""
    h, session_id, sensor, kind, ts, src_ip, text, payload, fallback, instance = fields
    if h in rows:
        return
    rows[h] = (
        h, session_id, sensor, kind, ts, src_ip, text, source, offset, stamp, fallback, instance
    )  # fmt: skip
    session = facts.get((sensor, session_id))
    if session is None:
        session = facts[sensor, session_id] = SessionFacts(sensor, session_id)
    session.add(kind, ts, h, src_ip, payload)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
