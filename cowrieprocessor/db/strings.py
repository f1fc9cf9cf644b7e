"""The string dictionary: each distinct attacker-chosen text (commands, ...) stored once.

``strings`` maps a text to a small integer id; tables and rollups hold the id and reports
join the text back only for the rows they print. A text is found by its ``digest`` (the
first 16 bytes of its UTF-8 SHA-256, unique), never by the text itself, which may be
100 KB long. Ids are never reused or changed, so loaders on several connections can intern
at the same time: a text inserted by another transaction is skipped (``ON CONFLICT DO
NOTHING`` waits for that transaction on PostgreSQL) and then read back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Column, Connection, Integer, LargeBinary, Table, Text, select

from cowrieprocessor.db.bulk import insert_rows
from cowrieprocessor.db.tables import METADATA

#: Bytes of the digest: 128 bits, so an attacker cannot make two texts share one.
DIGEST_BYTES = 16
#: Digests looked up per statement (SQLite allows 32766 bound parameters).
LOOKUP_CHUNK = 5_000

strings = Table(
    "strings",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("digest", LargeBinary(DIGEST_BYTES), nullable=False, unique=True),
    Column("text", Text, nullable=False),
)


def digest(text: str) -> bytes:
    """The key of ``text`` in ``strings``."""
    return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]


def intern(conn: Connection, texts: Iterable[str]) -> dict[str, int]:
    """``{text: id}`` for every text, inserting the missing ones (in ``conn``'s
    transaction): one lookup per chunk of digests, one insert of the missing texts."""
    by_digest = {digest(t): t for t in set(texts)}
    ids = _lookup(conn, by_digest)
    # In digest order: two loaders inserting the same new texts wait for each other in the
    # same order on PostgreSQL, never in a cycle (a deadlock).
    missing = sorted((d, t) for d, t in by_digest.items() if t not in ids)
    if missing:
        insert_rows(
            conn,
            "strings",
            ("digest", "text"),
            missing,
            "ON CONFLICT (digest) DO NOTHING",
        )
        ids.update(_lookup(conn, dict(missing)))
    return ids


def _lookup(conn: Connection, by_digest: dict[bytes, str]) -> dict[str, int]:
    found: dict[str, int] = {}
    keys = list(by_digest)
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        rows = conn.execute(
            select(strings.c.digest, strings.c.id).where(strings.c.digest.in_(chunk))
        )
        found.update((by_digest[bytes(d)], i) for d, i in rows)
    return found
