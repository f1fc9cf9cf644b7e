"""Checkpoint a SQLite WAL from a helper thread while a bulk writer runs.

In WAL mode the committing connection normally copies the log back into the database file
and syncs both once the log passes ``wal_autocheckpoint`` pages: with batches of several
megabytes that is every commit, and it was half the writer's time. During a bulk load the
writer's own threshold is raised and a thread with its own connection runs passive
checkpoints instead. They never block the writer (SQLite lets one checkpointer run beside
one writer), and the thread sleeps in the database file's fsync without holding the GIL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection

from cowrieprocessor.db.engine import dbapi_connection, sqlite_file

#: Seconds between two passive checkpoints of the helper thread.
INTERVAL = 1.0
#: The writer still checkpoints by itself past this many WAL pages (the helper fell behind).
WRITER_LIMIT = 65_536
#: SQLite's default threshold, restored afterwards on the (pooled) connection.
DEFAULT_LIMIT = 1_000


@contextmanager
def background_checkpoints(conn: Connection) -> Iterator[None]:
    """While the block runs, checkpoint ``conn``'s SQLite database from a helper thread.

    Does nothing on PostgreSQL or an in-memory database.
    """
    path = sqlite_file(conn.engine)
    if path is None:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        try:
            helper = sqlite3.connect(path, isolation_level=None)
            try:
                while not stop.wait(INTERVAL):
                    helper.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                helper.close()
        except sqlite3.Error:
            pass  # the writer checkpoints by itself past WRITER_LIMIT

    # On the driver connection: SQLAlchemy would open a transaction for the statement.
    raw = dbapi_connection(conn)
    raw.execute(f"PRAGMA wal_autocheckpoint = {WRITER_LIMIT}")
    thread = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with suppress(sqlite3.Error):  # closed already if the block was interrupted
            raw.execute(f"PRAGMA wal_autocheckpoint = {DEFAULT_LIMIT}")
