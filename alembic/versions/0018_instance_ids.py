"""Cowrie's instance uuid out of ``raw_events.payload``: ``instance_id``, its id in ``strings``.

Modern Cowrie writes ``uuid``, the id of the honeypot instance, on every event: the same
36 characters on every event of a sensor, about a tenth of a stored row. The new column
``raw_events.instance_id`` holds it as its id in ``strings``; the payload leaves a ``uuid``
string out (a ``uuid`` of another type stays in it). ``export events`` puts it back.

Existing rows are rewritten in place, in chunks taken in primary key order; the downgrade
puts each uuid back into its payload. The payload form and the string dictionary's key are
frozen here, so later changes to the library cannot change what this migration does. On
SQLite the space the rewrite frees stays in the file for later loads until ``VACUUM``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection, text

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rows rewritten per statement.
CHUNK = 5000


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("raw_events", sa.Column("instance_id", sa.Integer(), nullable=True))
    pg = bind.dialect.name == "postgresql"
    has_uuid = (
        "json_typeof(payload -> 'uuid') = 'string'"
        if pg
        else "json_type(payload, '$.uuid') = 'text'"
    )
    ids: dict[str, int] = {}

    def lean(rows: list[Sequence[Any]]) -> list[dict[str, Any]]:
        payloads = [_load(payload) for _, _, payload, _ in rows]
        ids.update(_intern(bind, {p["uuid"] for p in payloads} - ids.keys()))
        return [
            {"ts": ts, "h": h, "instance": ids[p.pop("uuid")], "payload": _dump(p)}
            for (ts, h, _, _), p in zip(rows, payloads, strict=True)
        ]

    _rewrite(bind, has_uuid, lean)


def downgrade() -> None:
    bind = op.get_bind()

    def whole(rows: list[Sequence[Any]]) -> list[dict[str, Any]]:
        texts = _texts(bind, {instance for _, _, _, instance in rows})
        out = []
        for ts, h, payload, instance in rows:
            event = _load(payload)
            event["uuid"] = texts[instance]
            out.append({"ts": ts, "h": h, "instance": None, "payload": _dump(event)})
        return out

    _rewrite(bind, "instance_id IS NOT NULL", whole)
    bind.exec_driver_sql("ALTER TABLE raw_events DROP COLUMN instance_id")


def _rewrite(
    bind: Connection,
    where: str,
    change: Callable[[list[Sequence[Any]]], list[dict[str, Any]]],
) -> None:
    """Set the payload and ``instance_id`` of every row matching ``where`` to what ``change``
    makes of them (rows: timestamp, hash, payload text, instance_id), chunk by chunk."""
    pg = bind.dialect.name == "postgresql"
    payload = "payload::text" if pg else "payload"
    columns = f"SELECT event_timestamp, event_hash, {payload}, instance_id FROM raw_events"
    order = f" ORDER BY event_timestamp, event_hash LIMIT {CHUNK}"
    first = text(f"{columns} WHERE {where}{order}")
    after = text(f"{columns} WHERE {where} AND (event_timestamp, event_hash) > (:ts, :h){order}")
    update = text(
        f"UPDATE raw_events SET payload = {'CAST(:payload AS json)' if pg else ':payload'},"
        " instance_id = :instance WHERE event_timestamp = :ts AND event_hash = :h"
    )
    rows: list[Sequence[Any]] = list(bind.execute(first))
    while rows:
        bind.execute(update, change(rows))
        ts, h = rows[-1][0], rows[-1][1]
        rows = list(bind.execute(after, {"ts": ts, "h": h}))


# -- the string dictionary and the payload, as at this revision ---------------------------


def _intern(bind: Connection, texts: Iterable[str]) -> dict[str, int]:
    """``{text: id}`` in ``strings``, inserting the missing texts (digest: the first 16 bytes
    of the UTF-8 SHA-256)."""
    by_digest = {hashlib.sha256(t.encode()).digest()[:16]: t for t in texts}
    insert = text(
        "INSERT INTO strings (digest, text) VALUES (:d, :t) ON CONFLICT (digest) DO NOTHING"
    )
    lookup = text("SELECT id FROM strings WHERE digest = :d")
    found = {}
    for digest, value in sorted(by_digest.items()):
        bind.execute(insert, {"d": digest, "t": value})
        found[value] = bind.execute(lookup, {"d": digest}).scalar_one()
    return found


def _texts(bind: Connection, ids: Iterable[int]) -> dict[int, str]:
    lookup = text("SELECT text FROM strings WHERE id = :i")
    return {i: bind.execute(lookup, {"i": i}).scalar_one() for i in ids}


def _load(payload: str) -> dict[str, Any]:
    return json.loads(payload)  # integers of any size exactly


def _dump(value: dict[str, Any]) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
