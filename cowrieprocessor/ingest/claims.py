"""Let several loaders write one PostgreSQL database at once, with exact results.

No lock is held across a whole batch. Instead:

* **Per session id:** a batch first claims every session id it touches (rows of
  ``session_claims`` inserted in sorted order, deleted again before it commits). A second
  batch touching one of those ids waits on the unique index until the first commits, and
  then reads that session's events whole. Batches of other sessions (another sensor's
  files) never wait for each other. Sorted claims cannot deadlock among themselves.
* **Per file:** a loader reads a file only while it holds a session-level advisory lock
  on the file's path, and plans the read (its cursor) after taking it; a loader finding
  the file taken reads its other files first and then waits, so the file is read once and
  its cursor only moves forward.
* **Retries:** a batch that PostgreSQL aborts to break a deadlock or a serialization
  failure (an interleaving with other writers) is rolled back and written again, after a
  short, growing, jittered pause, up to :data:`ATTEMPTS` times.

SQLite has one writer at a time (``BEGIN IMMEDIATE``): none of this applies there.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

#: Writes of one batch before its error is given up on.
ATTEMPTS = 8
#: First pause before writing a batch again (seconds); doubles each time, up to MAX_PAUSE.
FIRST_PAUSE = 0.05
MAX_PAUSE = 2.0
#: SQLSTATEs of errors that another transaction caused and a new attempt can avoid:
#: serialization_failure, deadlock_detected.
RETRYABLE = frozenset({"40001", "40P01"})


def is_postgresql(conn: Connection) -> bool:
    """Whether ``conn`` is on PostgreSQL (the only dialect with concurrent writers)."""
    return conn.dialect.name == "postgresql"


def claim_sessions(conn: Connection, session_ids: Iterable[str]) -> None:
    """Claim ``session_ids`` for the transaction of ``conn`` (PostgreSQL), waiting for any
    other transaction holding one of them; :func:`release_sessions` before committing."""
    ids = sorted(set(session_ids))
    if ids and is_postgresql(conn):
        conn.exec_driver_sql(
            "INSERT INTO session_claims (session_id)"
            " SELECT id FROM unnest(%(ids)s::text[]) AS u(id) ORDER BY id",
            {"ids": ids},
        )


def release_sessions(conn: Connection) -> None:
    """Delete the transaction's claims (the others' are invisible to it): the rows go with
    the commit, and a transaction waiting for one of them goes on."""
    if is_postgresql(conn):
        conn.exec_driver_sql("DELETE FROM session_claims")


def file_lock_key(path_key: str) -> int:
    """The advisory lock key of a file's cursor (a signed 64-bit hash of its path text)."""
    digest = hashlib.blake2b(b"cowrie-file:" + path_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_lock_file(conn: Connection, path_key: str) -> bool:
    """Take the file's lock for the session of ``conn`` if no other loader holds it
    (always True on SQLite). Outside a transaction, which it leaves closed."""
    if not is_postgresql(conn):
        return True
    got = conn.exec_driver_sql(
        "SELECT pg_try_advisory_lock(%(key)s)", {"key": file_lock_key(path_key)}
    ).scalar_one()
    conn.commit()
    return bool(got)


def lock_file(conn: Connection, path_key: str) -> None:
    """Take the file's lock, waiting for the loader holding it (PostgreSQL)."""
    if is_postgresql(conn):
        conn.exec_driver_sql("SELECT pg_advisory_lock(%(key)s)", {"key": file_lock_key(path_key)})
        conn.commit()


def unlock_file(conn: Connection, path_key: str) -> None:
    """Give the file's lock back (PostgreSQL)."""
    if is_postgresql(conn):
        conn.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": file_lock_key(path_key)})
        conn.commit()


def retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or serialization failure (raised by SQLAlchemy or, from
    the COPY paths, by psycopg itself)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) in RETRYABLE


def with_retries(
    write: Callable[[], T],
    *,
    on_retry: Callable[[BaseException], None] | None = None,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``write`` (one whole transaction, rolled back when it raises) until it does not
    fail with a deadlock or serialization failure, at most ``attempts`` times."""
    pause = FIRST_PAUSE
    attempt = 1
    while True:
        try:
            return write()
        except Exception as exc:
            if attempt >= attempts or not retryable(exc):
                raise
            if on_retry is not None:
                on_retry(exc)
        sleep(pause * (0.5 + random.random()))  # jitter: the two victims do not meet again
        pause = min(pause * 2, MAX_PAUSE)
        attempt += 1
