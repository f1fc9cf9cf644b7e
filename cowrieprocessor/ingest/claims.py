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
* **Retries:** a batch that PostgreSQL aborts anyway (a deadlock through other locks, or
  a serialization failure) is written again (``db/retry.py``).

SQLite has one writer at a time (``BEGIN IMMEDIATE``): none of this applies there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection


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
