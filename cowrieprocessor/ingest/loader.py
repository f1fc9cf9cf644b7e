"""Load Cowrie logs into the database: incremental, atomic per batch, never losing input.

Each batch is one transaction holding its events, the recomputed summaries of the sessions
it touched, its dead letters and the file's new read position. A crash or Ctrl-C between
batches therefore loses nothing and duplicates nothing: the next run resumes at the
position of the last committed batch, and event hashes absorb any overlap. On PostgreSQL
several loaders may run at once (``ingest/claims.py`` says how they stay exact).
"""

from __future__ import annotations

import gc
import itertools
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from cowrieprocessor.db import retention
from cowrieprocessor.db.bulk import insert_rows
from cowrieprocessor.db.checkpoints import background_checkpoints
from cowrieprocessor.db.models import DeadLetter, EventSource, IngestSource
from cowrieprocessor.db.partitions import analyze_if_grown, ensure_month_partitions
from cowrieprocessor.db.retry import with_retries
from cowrieprocessor.db.strings import intern
from cowrieprocessor.ingest import claims, placement, pruned, summaries, touched
from cowrieprocessor.ingest.batches import (
    HASH,
    INSTANCE,
    RAW_COLUMNS,
    TIMESTAMP,
    EventRow,
    PreparedBatch,
    SessionKey,
    SessionRows,
    prepare_batches,
    session_key,
    session_rows,
)
from cowrieprocessor.ingest.child import ChildProcess
from cowrieprocessor.ingest.reader import (
    END,
    first_line_hash,
    is_compressed,
    path_text,
    tail_hash_at,
)
from cowrieprocessor.rollups.dirty import mark_buckets

#: Raw text kept of a dead letter (characters).
DEAD_LETTER_TEXT = 4096
DEFAULT_BATCH_SIZE = 50_000
#: Reads at least this long are parsed in a child process while the loader writes.
CHILD_MIN_BYTES = 4 * 1024 * 1024
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
    #: Batch writes and partition creations PostgreSQL aborted (deadlock, serialization
    #: failure) and that were done again.
    retries: int = 0
    current_file: str | None = None
    current_offset: int = 0

    @property
    def events_per_second(self) -> float:
        """Events (new and duplicate) handled per second of wall time."""
        handled = self.events_new + self.events_duplicate
        return handled / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The run summary as plain data (for ``--json`` and status files)."""
        return {
            "files": self.files,
            "files_unchanged": self.files_unchanged,
            "files_reread": self.files_reread,
            "records": self.records,
            "events_new": self.events_new,
            "events_duplicate": self.events_duplicate,
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "sessions_touched": self.sessions_touched,
            "bytes_read": self.bytes_read,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
        }

    def counters(self) -> dict[str, int]:
        """The counters of the ``ingest`` status file."""
        return {
            "files_done": self.files_done,
            "records": self.records,
            "events_new": self.events_new,
            "events_duplicate": self.events_duplicate,
            "dead_letters": sum(self.dead_letters.values()),
            "bytes_read": self.bytes_read,
            "bytes_total": self.bytes_total,
        }


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
    compressed: bool
    tail: str | None = None  # tail_hash before ``start`` (then before each committed batch)


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
        self._pruned_before: str | None = None

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, conn: Connection, path: Path) -> _FilePlan | None:
        """Where to read ``path`` from, or None when nothing of it is new.

        A file is unchanged only when its last read reached its end and it has the same
        identity (device and inode, first line), size and last line before the cursor.
        A file left part-way (crash, Ctrl-C, read error) is resumed at its cursor, a
        compressed one too (decompressing up to there). A rotated, replaced or truncated
        file, or one whose bytes before the cursor changed, is read again from the start.
        """
        st = path.stat()
        key = path_text(path)
        query = select(IngestSource.__table__).where(IngestSource.path == key)
        state = conn.execute(query).first()
        compressed = is_compressed(path)
        plan = _FilePlan(
            path, key, 0, st.st_size, st.st_ino, st.st_dev, first_line_hash(path), False, compressed
        )
        if state is None or self.full:
            plan.reread = state is not None
            return plan
        same = (state.inode, state.device) == (st.st_ino, st.st_dev) and (
            state.first_line_hash == plan.first_line_hash
        )
        # A compressed file is written once: another size is another file.
        same = same and (st.st_size == state.size if compressed else st.st_size >= state.offset)
        unchanged = state.complete and st.st_size == state.size
        if same and state.offset and state.tail_hash and not (compressed and unchanged):
            same = tail_hash_at(path, state.offset) == state.tail_hash
        if not same:
            plan.reread = True
            return plan
        if unchanged:
            return None
        plan.start = state.offset
        plan.tail = state.tail_hash
        return plan

    # -- running ----------------------------------------------------------------------------

    def ingest(self, paths: Sequence[Path]) -> IngestStats:
        """Read every path (already expanded) and return the run's statistics.

        ``stats`` holds what was done so far when the run stops early (an exception from
        ``on_progress``, such as Ctrl-C at a safe point, or a failure).
        """
        started = time.perf_counter()
        self._started_at = datetime.now(UTC)
        try:
            with _young_gc_only(), self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="IMMEDIATE")
                before = retention.pruned_before(conn)
                self._pruned_before = None if before is None else before.isoformat()
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
                self.stats.bytes_total = sum(_to_read(p) for p in plans)
                with ChildProcess() as child:
                    if any(_is_big(p) for p in plans):
                        child.start()  # its start-up overlaps the rest of the set-up
                    touched.create(conn)
                    conn.commit()
                    with background_checkpoints(conn):
                        self._ingest_files(conn, plans, started, child)
                with_retries(partial(self._analyze_if_grown, conn))
        finally:
            self.stats.current_file = None
            self.stats.seconds = time.perf_counter() - started
        return self.stats

    def _ingest_files(
        self, conn: Connection, plans: list[_FilePlan], started: float, child: ChildProcess
    ) -> None:
        # A file another loader is reading waits until this loader's other files are done.
        taken = []
        for plan in plans:
            if claims.try_lock_file(conn, plan.key):
                self._ingest_locked(conn, plan, started, child)
            else:
                taken.append(plan)
        for plan in taken:
            claims.lock_file(conn, plan.key)
            self._ingest_locked(conn, plan, started, child)

    def _ingest_locked(
        self, conn: Connection, planned: _FilePlan, started: float, child: ChildProcess
    ) -> None:
        """Read a file whose lock this loader holds, then give the lock back."""
        try:
            plan: _FilePlan | None = planned
            if claims.is_postgresql(conn):  # another loader may have read it since planning
                plan = self._plan(conn, planned.path)
                conn.rollback()
            self.stats.current_file = planned.key
            if plan is None:
                self.stats.files_unchanged += 1
                self.stats.bytes_total -= _to_read(planned)
            else:
                self.stats.bytes_total += _to_read(plan) - _to_read(planned)
                self.stats.files_reread += plan.reread
                self._ingest_file(conn, plan, child)
        except BaseException:
            with suppress(DBAPIError):  # a dead connection takes its lock along
                claims.unlock_file(conn, planned.key)
            raise
        claims.unlock_file(conn, planned.key)
        self.stats.files_done += 1
        self.stats.seconds = time.perf_counter() - started
        self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _ingest_file(self, conn: Connection, plan: _FilePlan, child: ChildProcess) -> None:
        read_base = self.stats.bytes_read
        with conn.begin():
            source = _source_id(conn, plan.key)
        produce = partial(
            prepare_batches,
            plan.path,
            plan.start,
            compressed=plan.compressed,
            default_sensor=self.default_sensor,
            batch_size=self.batch_size,
            source=source,
            pruned_before=self._pruned_before,
        )
        # A big read is parsed by the child process (the other core) while this one writes.
        if _is_big(plan):
            batches = child.run(produce, PreparedBatch.encode, PreparedBatch.decode)
        else:
            batches = produce()
        for batch in batches:
            self.stats.records += batch.records
            self._write_batch(conn, plan, batch)
            self.stats.current_offset = batch.position
            done = plan.size if plan.compressed else batch.position - plan.start
            self.stats.bytes_read = read_base + done
            del batch  # free the batch before collecting: nothing of it is garbage
            gc.collect(0)
            self._progress()

    # -- writing ----------------------------------------------------------------------------

    def _write_batch(self, conn: Connection, plan: _FilePlan, batch: PreparedBatch) -> None:
        now = datetime.fromisoformat(batch.stamp).replace(tzinfo=UTC)
        tail = batch.tail if batch.position != batch.start else plan.tail
        if claims.is_postgresql(conn) and batch.rows:
            # In a transaction of its own: creating a partition locks raw_events briefly.
            # It waits for other loaders' batches, which may wait for a third loader that
            # waits for it: PostgreSQL aborts one of them to break the cycle; done again.
            months = _months(batch.rows)
            with_retries(partial(self._ensure_partitions, conn, months), on_retry=self._retried)

        def write() -> tuple[PreparedBatch, int, int]:
            with conn.begin():
                if claims.is_postgresql(conn):
                    conn.exec_driver_sql(_PG_BATCH_SETTINGS)
                    # Other loaders' batches wait here only for the session ids they share.
                    claims.claim_sessions(conn, (session_id for _, session_id in batch.sessions))
                kept, hidden = batch, set[SessionKey]()
                before = retention.read(conn, lock="share").raw_before
                if before is not None:
                    kept, hidden = pruned.set_aside(conn, batch, before)
                new, sessions = self._store_events(conn, kept, now, hidden)
                _replace_dead_letters(conn, plan.key, kept, now)
                _save_cursor(conn, plan, kept, now, tail)
                claims.release_sessions(conn)
            return kept, new, sessions

        # The statistics change only once the batch is committed.
        kept, new, sessions = with_retries(write, on_retry=self._retried)
        self.stats.events_new += new
        self.stats.events_duplicate += kept.events - new
        self.stats.sessions_touched += sessions
        for _, reason, _ in kept.dead:
            self.stats.dead_letters[reason] += 1
        plan.tail = tail

    def _retried(self, _exc: BaseException) -> None:
        self.stats.retries += 1

    @staticmethod
    def _ensure_partitions(conn: Connection, months: set[date]) -> None:
        with conn.begin():
            ensure_month_partitions(conn, months)

    def _analyze_if_grown(self, conn: Connection) -> None:
        with conn.begin():
            analyze_if_grown(conn, self.stats.events_new)

    def _store_events(
        self, conn: Connection, batch: PreparedBatch, now: datetime, hidden: set[SessionKey]
    ) -> tuple[int, int]:
        """Insert the batch's new events, recompute the sessions they belong to; return how
        many events were new and how many sessions count as touched by this run.
        ``hidden``: stored sessions of pruned days, left alone."""
        stored, rows = _unstored(conn, batch, hidden)
        if not rows:
            return 0, 0
        sessions = batch.sessions
        if _insert_events(conn, rows) < len(rows):
            rows, sessions = _really_inserted(conn, rows, stored, now)
        if len(rows) == len(batch.rows):  # the touched list holds the batch's sessions
            keys: Collection[SessionKey] = batch.sessions.keys()
            counted = self._recompute(conn, keys, stored, sessions, batch.stamp, listed=True)
        else:
            keys = {session_key(r) for r in rows}
            counted = self._recompute(conn, keys, stored, sessions, batch.stamp, listed=False)
        return len(rows), counted

    def _recompute(
        self,
        conn: Connection,
        keys: Collection[SessionKey],
        stored: dict[SessionKey, datetime],
        batch_sessions: dict[SessionKey, SessionRows],
        stamp: str,
        *,
        listed: bool,
    ) -> int:
        """Replace the derived rows of the sessions ``keys`` (their events stored) and of any
        session a sensor-less event leaves or joins; mark their buckets dirty. Return how
        many of them count as touched by this run.

        ``listed``: the touched list holds ``keys`` already.
        """
        ids = {session_id for _, session_id in keys}
        related = {*keys, *(key for key in stored if key[1] in ids)}
        # A session id held by several sessions: its sensor-less events may belong elsewhere.
        shared = placement.shared_ids(related)
        group = {key for key in related if key[1] in shared}
        placed = placement.place(conn, group) if group else placement.Placed({}, set(), set())
        # Brand-new sessions: the batch holds all their events, its rows are theirs.
        new_sessions = [key for key in keys if key not in stored and key not in group]
        computed = [batch_sessions[key] for key in new_sessions]
        continuing = [key for key in keys if key in stored and key not in group]
        if continuing:
            touched.replace(conn, continuing)
            computed.extend(session_rows(f) for f in summaries.load_facts(conn).values())
        computed.extend(session_rows(f) for f in placed.facts.values())
        if continuing or group or not listed:
            # Events may have moved to sessions new here (back to their fallback sensor).
            touched.replace(conn, {*keys, *group, *placed.facts})
        buckets = touched.buckets(conn)  # the days the known sessions belonged to so far
        summaries.store(conn, computed, stored.keys(), stamp)
        summaries.delete_sessions(conn, placed.empty)
        # With the days they belong to now, marked in one sorted pass: concurrent loaders
        # lock the marks they share in the same order, so they cannot deadlock on them.
        mark_buckets(conn, buckets | touched.buckets(conn))
        # Count each session once per run, without remembering them all: new ones are new
        # once; known ones count when this run had not written them yet.
        written = [*new_sessions, *continuing, *placed.facts]
        return sum(1 for key in written if key not in stored or stored[key] < self._started_at)


def _unstored(
    conn: Connection, batch: PreparedBatch, hidden: set[SessionKey]
) -> tuple[dict[SessionKey, datetime], list[EventRow]]:
    """List the batch's sessions as touched; return the stored sessions sharing a session id
    with one of them (with when each was written; ``hidden`` ones left out) and the batch's
    rows that are not stored yet."""
    keys = batch.sessions.keys()
    touched.replace(conn, keys)
    stored = summaries.stored_sessions(conn)
    for key in hidden:
        stored.pop(key, None)
    rows = batch.rows
    if any(key in stored for key in keys):
        # Only events of sessions the database knows can be stored already.
        hashes = summaries.stored_hashes(conn)
        if hashes:
            rows = [r for r in rows if r[HASH] not in hashes]
    return stored, rows


def _really_inserted(
    conn: Connection, rows: list[EventRow], stored: dict[SessionKey, datetime], now: datetime
) -> tuple[list[EventRow], dict[SessionKey, SessionRows]]:
    """The ``rows`` the insert of ``now`` added, and the rows of their sessions new here.

    The others were stored already under another session key (an event without sensor
    stored with another --sensor, or placed in the session that names its sensor)."""
    ours = summaries.known_hashes(conn, rows, inserted_at=now)
    rows = [r for r in rows if r[HASH] in ours]
    fresh = summaries.facts_of(r for r in rows if session_key(r) not in stored)
    return rows, {key: session_rows(facts) for key, facts in fresh.items()}


def _to_read(plan: _FilePlan) -> int:
    """Bytes of the file the plan reads (all of a compressed one: its stream is unknown)."""
    return plan.size if plan.compressed else max(plan.size - plan.start, 0)


def _is_big(plan: _FilePlan) -> bool:
    return _to_read(plan) >= CHILD_MIN_BYTES


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


def _months(rows: list[EventRow]) -> set[date]:
    """The months (first days) of the events' timestamps (stored UTC text)."""
    return {date(int(m[:4]), int(m[5:7]), 1) for m in {row[TIMESTAMP][:7] for row in rows}}


def _source_id(conn: Connection, path: str) -> int:
    """The ``event_sources`` id of ``path``, added if new (concurrent loaders agree)."""
    stmt = _dialect_insert(conn)(EventSource).values(path=path).on_conflict_do_nothing()
    conn.execute(stmt)
    return conn.execute(select(EventSource.id).where(EventSource.path == path)).scalar_one()


def _dialect_insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _insert_events(conn: Connection, rows: list[EventRow]) -> int:
    """Insert the rows not stored yet, each instance uuid as its id in ``strings``; return
    how many went in."""
    ids = intern(conn, {r[INSTANCE] for r in rows if r[INSTANCE] is not None})
    return insert_rows(
        conn,
        "raw_events",
        RAW_COLUMNS,
        [(*r[:INSTANCE], None if r[INSTANCE] is None else ids[r[INSTANCE]]) for r in rows],
        "ON CONFLICT (event_timestamp, event_hash) DO NOTHING",
    )


def _replace_dead_letters(
    conn: Connection, source: str, batch: PreparedBatch, now: datetime
) -> None:
    """Make the dead letters of the batch's stretch of the file the batch's own.

    Dead letters of the stretch that the batch did not find again go (the last batch of a
    read owns the rest of the file too). One found again at the same offset for the same
    reason keeps its ``first_seen``: a record set aside run after run (a last line that
    never ends) is one dead letter, first seen once.
    """
    after = (DeadLetter.source == source) & (DeadLetter.source_offset > bindparam("low"))
    lows = [batch.start - 1, *sorted({offset for offset, _, _ in batch.dead})]
    gaps = [{"low": low, "high": high} for low, high in itertools.pairwise(lows) if high > low + 1]
    if batch.ended is None:
        gaps.append({"low": lows[-1], "high": batch.position})
    else:
        conn.execute(delete(DeadLetter).where(after), {"low": lows[-1]})
    if gaps:
        below = DeadLetter.source_offset < bindparam("high")
        conn.execute(delete(DeadLetter).where(after, below), gaps)
    if not batch.dead:
        return
    rows = [
        {
            "source": source,
            "source_offset": offset,
            "reason": reason,
            "raw": _printable(data),
            "first_seen": now,
        }
        for offset, reason, data in batch.dead
    ]
    stmt = _dialect_insert(conn)(DeadLetter)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "source_offset"],
        set_={
            "reason": stmt.excluded.reason,
            "raw": stmt.excluded.raw,
            "first_seen": case(
                (DeadLetter.reason == stmt.excluded.reason, DeadLetter.first_seen),
                else_=stmt.excluded.first_seen,
            ),
        },
    )
    conn.execute(stmt, rows)


def _printable(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:DEAD_LETTER_TEXT]


def _save_cursor(
    conn: Connection, plan: _FilePlan, batch: PreparedBatch, now: datetime, tail: str | None
) -> None:
    complete = batch.ended == END
    # A plain file read to its end had ``seen`` bytes (more than at planning if it grew).
    size = batch.seen if complete and not plan.compressed else plan.size
    values = {
        "path": plan.key,
        "inode": plan.inode,
        "device": plan.device,
        "size": size,
        "offset": batch.position,
        "first_line_hash": plan.first_line_hash,
        "last_run_at": now,
        "complete": complete,
        "tail_hash": tail,
    }
    stmt = _dialect_insert(conn)(IngestSource).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["path"], set_={k: stmt.excluded[k] for k in values if k != "path"}
    )
    conn.execute(stmt)
