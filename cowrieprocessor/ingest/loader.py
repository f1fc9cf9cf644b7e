"""Load Cowrie logs into the database: incremental, atomic per batch, never losing input.

Each batch is one transaction holding its events, the recomputed summaries of the sessions
it touched, its dead letters and the file's new read position. A crash or Ctrl-C between
batches therefore loses nothing and duplicates nothing: the next run resumes at the
position of the last committed batch, and event hashes absorb any overlap.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from cowrieprocessor.db.bulk import insert_rows
from cowrieprocessor.db.checkpoints import background_checkpoints
from cowrieprocessor.db.models import DeadLetter, IngestSource
from cowrieprocessor.ingest import summaries
from cowrieprocessor.ingest.batches import (
    RAW_COLUMNS,
    EventRow,
    PreparedBatch,
    prepare_batches,
    session_rows,
)
from cowrieprocessor.ingest.child import ChildProcess
from cowrieprocessor.ingest.reader import first_line_hash, is_compressed, path_text
from cowrieprocessor.rollups.dirty import mark_touched_buckets

#: Raw text kept of a dead letter (characters).
DEAD_LETTER_TEXT = 4096
DEFAULT_BATCH_SIZE = 50_000
#: Reads at least this long are parsed in a child process while the loader writes.
CHILD_MIN_BYTES = 4 * 1024 * 1024
#: Advisory lock key serialising ingest batches on PostgreSQL ("cowrie" in ASCII).
_INGEST_LOCK = 0x636F77726965
# Settings of each batch transaction on PostgreSQL. The batch's statements join the few
# touched sessions to big tables; without statistics on the temporary table (and with stale
# ones on tables growing under this very load) the planner hash-joins whole tables, once per
# batch: index lookups per session are always right here. The costs that gives the plans
# would set off JIT compilation of every statement: off too. A batch lost to a server crash
# is lost with its cursor and read again by the next run, so commits need not wait for the
# WAL flush.
_PG_BATCH_SETTINGS = "SELECT " + ", ".join(
    f"set_config('{name}', 'off', true)"
    for name in (
        "enable_seqscan",
        "enable_hashjoin",
        "enable_mergejoin",
        "jit",
        "synchronous_commit",
    )
)


@dataclass
class IngestStats:
    """What a run did; ``dead_letters`` counts records set aside, by reason."""

    files: int = 0
    files_done: int = 0
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
    current_offset: int = 0

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
        self._started_at = datetime.now(UTC)

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, conn: Connection, path: Path) -> _FilePlan | None:
        st = path.stat()
        key = path_text(path)
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
        self._started_at = datetime.now(UTC)
        with _young_gc_only(), self.engine.connect() as conn:
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
            self.stats.files_done = self.stats.files_unchanged
            self.stats.bytes_total = sum(max(p.size - p.start, 0) for p in plans)
            with ChildProcess() as child:
                if any(_is_big(p) for p in plans):
                    child.start()  # its start-up overlaps the rest of the set-up
                summaries.prepare(conn)
                conn.commit()
                with background_checkpoints(conn):
                    self._ingest_files(conn, plans, started, child)
        self.stats.current_file = None
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _ingest_files(
        self, conn: Connection, plans: list[_FilePlan], started: float, child: ChildProcess
    ) -> None:
        for plan in plans:
            self.stats.current_file = plan.key
            self.stats.files_reread += plan.reread
            self._ingest_file(conn, plan, child)
            self.stats.files_done += 1
            self.stats.seconds = time.perf_counter() - started
            self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _ingest_file(self, conn: Connection, plan: _FilePlan, child: ChildProcess) -> None:
        compressed = is_compressed(plan.path)
        read_base = self.stats.bytes_read
        clear_dead_from: int | None = plan.start  # first batch: forget old dead letters
        produce = partial(
            prepare_batches,
            plan.path,
            plan.start,
            compressed=compressed,
            default_sensor=self.default_sensor,
            batch_size=self.batch_size,
            source=plan.key,
        )
        # A big read is parsed by the child process (the other core) while this one writes.
        if _is_big(plan):
            batches = child.run(produce, PreparedBatch.encode, PreparedBatch.decode)
        else:
            batches = produce()
        for batch in batches:
            self.stats.records += batch.records
            self._write_batch(conn, plan, batch, clear_dead_from)
            clear_dead_from = None
            self.stats.current_offset = batch.position
            done = plan.size if compressed else batch.position - plan.start
            self.stats.bytes_read = read_base + done
            del batch  # free the batch before collecting: nothing of it is garbage
            gc.collect(0)
            self._progress()

    # -- writing ----------------------------------------------------------------------------

    def _write_batch(
        self,
        conn: Connection,
        plan: _FilePlan,
        batch: PreparedBatch,
        clear_dead_from: int | None,
    ) -> None:
        now = datetime.fromisoformat(batch.stamp).replace(tzinfo=UTC)
        dead = batch.dead
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # One writer at a time: a batch must see every other batch's sessions whole.
                conn.execute(select(func.pg_advisory_xact_lock(_INGEST_LOCK)))
                conn.exec_driver_sql(_PG_BATCH_SETTINGS)
            new = self._store_events(conn, batch, now)
            self.stats.events_new += new
            self.stats.events_duplicate += batch.events - new
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
            _save_cursor(conn, plan, batch.position, now)

    def _store_events(self, conn: Connection, batch: PreparedBatch, now: datetime) -> int:
        """Insert the batch's new events, recompute the sessions they belong to; return how
        many events were new."""
        rows = batch.rows
        batch_keys = batch.sessions.keys()  # the sessions of ``rows``
        summaries.set_touched(conn, batch_keys)
        known = summaries.known_sessions(conn)
        if known:  # only events of sessions the database knows can be stored already
            stored = summaries.stored_hashes(conn)
            if stored:
                rows = [r for r in rows if r[0] not in stored]
        if not rows:
            return 0
        sessions = batch.sessions
        if _insert_events(conn, rows) < len(rows):
            # Stored already under another session key (an event without sensor loaded
            # earlier with another --sensor): keep only what this batch really added.
            ours = summaries.known_hashes(conn, rows, inserted_at=now)
            rows = [r for r in rows if r[0] in ours]
            fresh = summaries.facts_of(r for r in rows if (r[2], r[1]) not in known)
            sessions = {key: session_rows(facts) for key, facts in fresh.items()}
        touched = batch_keys if len(rows) == len(batch.rows) else {(r[2], r[1]) for r in rows}
        new_sessions = touched - known.keys()
        # Brand-new sessions: the batch holds all their events, its rows are theirs.
        computed = [sessions[key] for key in new_sessions]
        continuing = touched & known.keys()
        if continuing:
            summaries.set_touched(conn, continuing)
            computed.extend(session_rows(f) for f in summaries.load_facts(conn).values())
        if continuing or touched is not batch_keys:
            summaries.set_touched(conn, touched)
        mark_touched_buckets(conn)  # the days the known sessions belonged to so far
        summaries.store(conn, computed, known.keys(), batch.stamp)
        mark_touched_buckets(conn)  # the days they belong to now
        # Count each session once per run, without remembering them all: new ones are new
        # once; known ones count when this run had not written them yet.
        self.stats.sessions_touched += len(new_sessions) + sum(
            1 for key in continuing if known[key] < self._started_at
        )
        return len(rows)


def _is_big(plan: _FilePlan) -> bool:
    return plan.size - plan.start >= CHILD_MIN_BYTES


@contextmanager
def _young_gc_only() -> Iterator[None]:
    """Switch off automatic garbage collection while batches are in flight.

    Each batch keeps tens of thousands of parsed event dicts alive; automatic collections
    would traverse them again and again (a third of the parse time). Parsed events hold no
    reference cycles, so the loader collects the young generation after each batch instead.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _dialect_insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _insert_events(conn: Connection, rows: list[EventRow]) -> int:
    return insert_rows(
        conn,
        "raw_events",
        RAW_COLUMNS,
        rows,
        "ON CONFLICT (event_timestamp, event_hash) DO NOTHING",
    )


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
