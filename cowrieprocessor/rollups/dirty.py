"""Dirty marks: the (day, sensor) buckets whose rollups a load has made stale."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

Bucket = tuple[Any, str]

_MARK = text(
    "INSERT INTO rollup_dirty (day, sensor, generation) VALUES (:day, :sensor, 1)"
    " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
)


def mark_buckets(conn: Connection, buckets: Iterable[Bucket]) -> None:
    """Mark ``buckets`` dirty in ``conn``'s transaction: insert each or bump its generation.

    In sorted order, so that concurrent writers lock the marks they share in one order.
    """
    rows = [{"day": day, "sensor": sensor} for day, sensor in sorted(set(buckets))]
    if rows:
        conn.execute(_MARK, rows)
