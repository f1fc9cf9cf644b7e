"""Write a PostgreSQL transaction again when the server aborts it to break a deadlock or a
serialization failure.

Concurrent loaders, enrichment runs and refreshes can wait on each other in a cycle that
no lock order rules out (a batch waiting for a claimed session id while another loader
creates a partition, for instance). PostgreSQL then aborts one of them; whichever it is,
the aborted transaction is written again after a short, growing, jittered pause, up to
:data:`ATTEMPTS` times. SQLite has one writer at a time and never raises these errors.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

#: Writes of one transaction before its error is given up on.
ATTEMPTS = 8
#: First pause before writing again (seconds); doubles each time, up to MAX_PAUSE.
FIRST_PAUSE = 0.05
MAX_PAUSE = 2.0
#: SQLSTATEs of errors that another transaction caused and a new attempt can avoid:
#: serialization_failure, deadlock_detected.
RETRYABLE = frozenset({"40001", "40P01"})


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
