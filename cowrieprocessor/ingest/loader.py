"""Load Cowrie logs into the database: incremental, atomic per batch, never losing input.

Each batch is one transaction holding its events, the recomputed summaries of the sessions
it touched, its dead letters and the file's new read position. A crash or Ctrl-C between
batches therefore loses nothing and duplicates nothing: the next run resumes at the
position of the last committed batch, and event hashes absorb any overlap.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from cowrieprocessor.db.models import DeadLetter, IngestSource
from cowrieprocessor.ingest import summaries
from cowrieprocessor.ingest.parse import BadRecord, Event, parse_record
from cowrieprocessor.ingest.reader import (
    Record,
    first_line_hash,
    is_compressed,
    iter_records,
    open_log,
)
from cowrieprocessor.rollups.dirty import mark_touched_buckets

#: Raw text kept of a dead letter (characters).
DEAD_LETTER_TEXT = 4096
DEFAULT_BATCH_SIZE = 20_000


@dataclass
class IngestStats:
    """What a run did; ``dead_letters`` counts records set aside, by reason."""

    files: int = 0
    files_unchanged: int = 0
    files_reread: int = 0
    records: int = 0
    events_new: int = 0
    events_duplicate: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    sessions_touched: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    seconds: float = 0.0
    current_file: str | None = None

    @property
    def events_per_second(self) -> float:
        """Events (new and duplicate) handled per second of wall time."""
        handled = self.events_new + self.events_duplicate
        return handled / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _FilePlan:
    path: Path
    key: str
    start: int
    size: int
    inode: int
    device: int
    first_line_hash: str | None
    reread: bool


ProgressCallback = Callable[[IngestStats], None]


class Loader:
    """Ingest Cowrie log files into a migrated database."""

    def __init__(
        self,
        engine: Engine,
        *,
        default_sensor: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        full: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.engine = engine
        self.default_sensor = default_sensor
        self.batch_size = batch_size
        self.full = full
        self.on_progress = on_progress
        self.stats = IngestStats()
        self._touched_total: set[tuple[str, str]] = set()

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, conn: Connection, path: Path) -> _FilePlan | None:
        st = path.stat()
        key = str(path)
        query = select(IngestSource.__table__).where(IngestSource.path == key)
        state = conn.execute(query).first()
        fl_hash = first_line_hash(path)
        plan = _FilePlan(path, key, 0, st.st_size, st.st_ino, st.st_dev, fl_hash, reread=False)
        if state is None or self.full:
            plan.reread = state is not None
            return plan
        replaced = (state.inode, state.device) != (st.st_ino, st.st_dev) or (
            state.first_line_hash != fl_hash
        )
        if is_compressed(path):
            if not replaced and state.size == st.st_size:
                return None  # compressed logs are immutable: nothing new
            plan.reread = True
            return plan
        if replaced or st.st_size < state.offset:  # rotated, replaced or truncated
            plan.reread = True
            return plan
        if st.st_size == state.offset:
            return None
        plan.start = state.offset
        return plan

    # -- running ----------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path]) -> IngestStats:
        """Read every path (already expanded) and return the run's statistics."""
        started = time.perf_counter()
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            plans = []
            for path in paths:
                plan = self._plan(conn, path)
                conn.rollback()
                if plan is None:
                    self.stats.files_unchanged += 1
                else:
                    plans.append(plan)
            self.stats.files = len(paths)
            self.stats.bytes_total = sum(max(p.size - p.start, 0) for p in plans)
            summaries.prepare(conn)
            conn.commit()
            for plan in plans:
                self.stats.current_file = plan.key
                self.stats.files_reread += plan.reread
                self._ingest_file(conn, plan)
                self.stats.seconds = time.perf_counter() - started
                self._progress()
        self.stats.current_file = None
        self.stats.sessions_touched = len(self._touched_total)
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _ingest_file(self, conn: Connection, plan: _FilePlan) -> None:
        compressed = is_compressed(plan.path)
        events: list[tuple[Event, int]] = []
        dead: list[tuple[int, str, bytes]] = []
        cursor = plan.start
        first_batch = True
        read_base = self.stats.bytes_read

        def flush(position: int) -> None:
            nonlocal first_batch, events, dead
            self._write_batch(
                conn,
                plan,
                events,
                dead,
                position,
                clear_dead_from=(plan.start if first_batch else None),
            )
            first_batch = False
            events, dead = [], []
            self.stats.bytes_read = read_base + (position - plan.start if not compressed else 0)
            self._progress()

        with open_log(plan.path) as fh:
            if plan.start:
                fh.seek(plan.start)
            for record in iter_records(fh, plan.start):
                self.stats.records += 1
                if not record.complete and not compressed:
                    # A last line still being written: keep the cursor before it so the
                    # next run reads it whole; note it meanwhile.
                    if not self._accept(record, events, dead, truncated_reason=True):
                        break
                else:
                    self._accept(record, events, dead)
                cursor = record.end
                if len(events) + len(dead) >= self.batch_size:
                    flush(cursor)
        if compressed:
            read_base += plan.size
        flush(cursor)
        if compressed:
            self.stats.bytes_read = read_base

    def _accept(
        self,
        record: Record,
        events: list[tuple[Event, int]],
        dead: list[tuple[int, str, bytes]],
        truncated_reason: bool = False,
    ) -> bool:
        if record.problem is not None:
            dead.append((record.offset, record.problem, record.data))
            return True
        try:
            events.append((parse_record(record.data, self.default_sensor), record.offset))
            return True
        except BadRecord as bad:
            reason = "truncated_line" if truncated_reason or not record.complete else bad.reason
            dead.append((record.offset, reason, record.data))
            return not truncated_reason

    # -- writing ----------------------------------------------------------------------------

    def _write_batch(
        self,
        conn: Connection,
        plan: _FilePlan,
        events: list[tuple[Event, int]],
        dead: list[tuple[int, str, bytes]],
        position: int,
        clear_dead_from: int | None,
    ) -> None:
        now = datetime.now(UTC)
        unique: dict[str, tuple[Event, int]] = {}
        for item in events:
            unique.setdefault(item[0].event_hash, item)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                touched = _insert_events_postgres(conn, plan.key, unique.values(), now)
            else:
                touched = _insert_events_sqlite(conn, plan.key, unique.values(), now)
            new_events = sum(touched.values())
            self.stats.events_new += new_events
            self.stats.events_duplicate += len(events) - new_events
            if touched:
                summaries.mark(conn, touched)
                mark_touched_buckets(conn)  # the days the sessions belonged to so far
                summaries.recompute_sessions(conn, now)
                mark_touched_buckets(conn)  # the days they belong to now
                summaries.clear(conn)
                self._touched_total.update(touched)
            if clear_dead_from is not None:
                conn.execute(
                    delete(DeadLetter).where(
                        DeadLetter.source == plan.key, DeadLetter.source_offset >= clear_dead_from
                    )
                )
            if dead:
                _insert_dead_letters(conn, plan.key, dead, now)
                for _, reason, _ in dead:
                    self.stats.dead_letters[reason] += 1
            _save_cursor(conn, plan, position, now)


def _dialect_insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _insert_events_sqlite(
    conn: Connection, source: str, events: Iterable[tuple[Event, int]], now: datetime
) -> Counter[tuple[str, str]]:
    batch = list(events)
    hashes = [e.event_hash for e, _ in batch]
    known: set[str] = set()
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        marks = ",".join("?" * len(chunk))
        known.update(
            row[0]
            for row in conn.exec_driver_sql(
                f"SELECT event_hash FROM raw_events WHERE event_hash IN ({marks})", tuple(chunk)
            )
        )
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        (
            e.event_hash,
            e.session_id,
            e.sensor,
            e.event_type,
            e.timestamp,
            e.src_ip,
            e.payload_json,
            source,
            offset,
            stamp,
        )
        for e, offset in batch
        if e.event_hash not in known
    ]
    touched: Counter[tuple[str, str]] = Counter()
    if rows:
        conn.exec_driver_sql(
            "INSERT INTO raw_events (event_hash, session_id, sensor, event_type, event_timestamp,"
            " src_ip, payload, source, source_offset, ingested_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (event_hash) DO NOTHING",
            rows,
        )
        for row in rows:
            touched[(row[2], row[1])] += 1
    return touched


def _insert_events_postgres(
    conn: Connection, source: str, events: Iterable[tuple[Event, int]], now: datetime
) -> Counter[tuple[str, str]]:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staging_events (event_hash text, session_id text,"
            " sensor text, event_type text, event_timestamp timestamptz, src_ip text,"
            " payload jsonb, source text, source_offset bigint, ingested_at timestamptz)"
            " ON COMMIT DELETE ROWS"
        )
        with cur.copy(
            "COPY staging_events (event_hash, session_id, sensor, event_type, event_timestamp,"
            " src_ip, payload, source, source_offset, ingested_at) FROM STDIN"
        ) as copy:
            stamp = now.isoformat()
            for e, offset in events:
                copy.write_row(
                    (
                        e.event_hash,
                        e.session_id,
                        e.sensor,
                        e.event_type,
                        e.timestamp + "+00",
                        e.src_ip,
                        e.payload_json,
                        source,
                        offset,
                        stamp,
                    )
                )
        cur.execute(
            "INSERT INTO raw_events (event_hash, session_id, sensor, event_type, event_timestamp,"
            " src_ip, payload, source, source_offset, ingested_at)"
            " SELECT event_hash, session_id, sensor, event_type, event_timestamp, src_ip, payload,"
            " source, source_offset, ingested_at FROM staging_events"
            " ON CONFLICT (event_hash) DO NOTHING RETURNING sensor, session_id"
        )
        return Counter((sensor, session_id) for sensor, session_id in cur.fetchall())


def _insert_dead_letters(
    conn: Connection, source: str, dead: list[tuple[int, str, bytes]], now: datetime
) -> None:
    rows = [
        {
            "source": source,
            "source_offset": offset,
            "reason": reason,
            "raw": _printable(data),
            "first_seen": now,
        }
        for offset, reason, data in dead
    ]
    stmt = _dialect_insert(conn)(DeadLetter).on_conflict_do_nothing(
        index_elements=["source", "source_offset"]
    )
    conn.execute(stmt, rows)


def _printable(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:DEAD_LETTER_TEXT]


def _save_cursor(conn: Connection, plan: _FilePlan, position: int, now: datetime) -> None:
    values = {
        "path": plan.key,
        "inode": plan.inode,
        "device": plan.device,
        "size": plan.size,
        "offset": position,
        "first_line_hash": plan.first_line_hash,
        "last_run_at": now,
    }
    stmt = _dialect_insert(conn)(IngestSource).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["path"], set_={k: stmt.excluded[k] for k in values if k != "path"}
    )
    conn.execute(stmt)
