"""Reading and writing the enrichment store; marking the buckets an answer changes.

``pending`` lists the indicators a provider still has to look up (no row, an expired row,
or a row from other offline data). ``save`` writes results in the caller's transaction:
it upserts them (an error never replaces an earlier answer), replaces URL tags, and marks
dirty the (day, sensor) buckets of every session that used an indicator whose normalised
fields changed, so the next refresh recomputes exactly those buckets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, column, select, table

from cowrieprocessor.db.bulk import clear_table, insert_rows
from cowrieprocessor.db.enrichment import KEYS, TABLES, url_tags
from cowrieprocessor.enrichment.base import MAX_BODY, Kind, Result

#: Normalised columns per kind: what reports read, and what a change is judged by.
_BOOKKEEPING = ("provider", "status", "reason", "source", "raw", "fetched_at", "expires_at")
FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(c.name for c in t.columns if c.name not in (KEYS[kind], *_BOOKKEEPING))
    for kind, t in TABLES.items()
}

#: Largest raw answer kept per row (JSON text); a bigger one is kept as a note.
MAX_RAW = 64 * 1024


@dataclass(frozen=True)
class Scope:
    """Which indicators to consider: those of sessions whose day is in [start, end]."""

    start: date | None = None
    end: date | None = None


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, so that one that reads first
    (``save`` does) waits for another writer instead of failing to upgrade its lock."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def _p(conn: Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def _db_time(conn: Connection, value: datetime | None) -> Any:
    """A UTC datetime as the driver binds it (naive text on SQLite, like the loaders)."""
    if value is None or conn.dialect.name == "postgresql":
        return value
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _uses_sql(kind: Kind, where: str) -> str:
    """(indicator, the latest day of a session using it) for every indicator of ``kind``
    the stored sessions used (``where`` narrows their days)."""
    if kind == "ip":  # the covering index ix_session_summaries_src_ip_first_day
        return (
            "SELECT s.src_ip AS indicator, MAX(s.first_day) AS day FROM session_summaries AS s"
            f" WHERE s.src_ip IS NOT NULL AND s.src_ip <> ''{where} GROUP BY s.src_ip"
        )
    column, extra = ("shasum", "") if kind == "file" else ("url", " AND f.direction = 'download'")
    return (
        f"SELECT f.{column} AS indicator, MAX(s.first_day) AS day FROM files AS f"
        " JOIN session_summaries AS s ON s.sensor = f.sensor AND s.session_id = f.session_id"
        f" WHERE f.{column} IS NOT NULL AND f.{column} <> ''{extra}{where} GROUP BY f.{column}"
    )


def _scope_sql(conn: Connection, scope: Scope) -> tuple[str, list[Any]]:
    where, params = [], []
    pg = conn.dialect.name == "postgresql"
    if scope.start is not None:
        where.append("s.first_day >= ?")
        params.append(scope.start if pg else scope.start.isoformat())
    if scope.end is not None:
        where.append("s.first_day <= ?")
        params.append(scope.end if pg else scope.end.isoformat())
    return (" AND " + " AND ".join(where)) if where else "", params


def pending(
    conn: Connection,
    provider: str,
    kind: Kind,
    now: datetime,
    scope: Scope = Scope(),
    *,
    source: str | None = None,
    refresh: bool = False,
) -> tuple[list[str], int]:
    """(indicators to look up, most recently used first; indicators in scope in all).

    Pending: no row for the provider, an expired row, or (``source`` given: offline data)
    a row whose source does not start with ``source``; with ``refresh`` every indicator in
    scope.
    """
    table, key = TABLES[kind].name, KEYS[kind]
    where, params = _scope_sql(conn, scope)
    stale, stale_params = "e.provider IS NULL OR e.expires_at <= ?", [_db_time(conn, now)]
    if source is not None:
        stale += " OR e.source IS NULL OR substr(e.source, 1, ?) <> ?"
        stale_params += [len(source), source]
    if refresh:
        stale, stale_params = "1 = 1", []
    joined = (
        f"FROM ({_uses_sql(kind, where)}) AS u"
        f" LEFT JOIN {table} AS e ON e.{key} = u.indicator AND e.provider = ?"
    )
    # One pass counts both; the rows are read only when some are pending (a second run).
    in_scope, waiting = conn.exec_driver_sql(
        _p(conn, f"SELECT COUNT(*), COUNT(*) FILTER (WHERE {stale}) {joined}"),
        (*stale_params, *params, provider),
    ).one()
    if not waiting:
        return [], int(in_scope)
    rows = conn.exec_driver_sql(
        _p(conn, f"SELECT u.indicator, u.day {joined} WHERE {stale}"),
        (*params, provider, *stale_params),
    ).all()
    todo = sorted(((str(day), indicator) for indicator, day in rows), reverse=True)
    return [indicator for _, indicator in todo], int(in_scope)


def stored_source(conn: Connection, provider: str, kind: Kind, prefix: str) -> str | None:
    """A stored ``source`` of the provider's rows that starts with ``prefix`` (offline data:
    its full name and date, without loading the data)."""
    table = TABLES[kind].name
    source = conn.exec_driver_sql(
        _p(
            conn,
            f"SELECT source FROM {table} WHERE provider = ? AND substr(source, 1, ?) = ? LIMIT 1",
        ),
        (provider, len(prefix), prefix),
    ).scalar()
    return None if source is None else str(source)


def _raw_param(conn: Connection, raw: Any) -> Any:
    """The raw answer as the driver binds it, bounded: a note instead of anything over
    :data:`MAX_RAW` bytes of JSON."""
    if raw is None:
        return None
    try:
        data = orjson.dumps(raw, default=str)
    except TypeError:
        data = b'{"note": "answer not representable as JSON"}'
    if len(data) > MAX_RAW:
        data = orjson.dumps({"note": f"answer of {len(data)} bytes not kept (limit {MAX_RAW})"})
    if _pg(conn):
        from psycopg.types.json import Jsonb

        return Jsonb(orjson.loads(data))
    return data.decode()


def _expires(result: Result, now: datetime, ttl: timedelta | None, nf_ttl: timedelta | None) -> Any:
    if result.status == "error":
        return None if result.final else now  # a transient error: asked again next run
    span = ttl if result.status == "ok" else nf_ttl
    return None if span is None else now + span


def save(
    conn: Connection,
    provider: str,
    kind: Kind,
    results: Sequence[Result],
    now: datetime,
    *,
    source: str | None = None,
    ttl: timedelta | None = None,
    not_found_ttl: timedelta | None = None,
) -> int:
    """Store ``results`` in the caller's transaction; return how many indicators changed
    (their buckets are marked dirty). ``ttl`` None: rows never expire by age."""
    if not results:
        return 0
    table, key = TABLES[kind].name, KEYS[kind]
    # The last answer for an indicator wins; rows in sorted order, so that concurrent saves
    # lock the indicators they share in one order.
    latest = dict(sorted({r.indicator: r for r in results}.items()))
    # The provider's fields (others stay NULL): fewer columns to write for 100,000 rows.
    fields = tuple(f for f in FIELDS[kind] if any(f in r.fields for r in latest.values()))
    before = _current(conn, kind, provider, list(latest))
    fetched = _db_time(conn, now)
    expiry = {
        status: _db_time(conn, _expires(Result("", status), now, ttl, not_found_ttl))
        for status in ("ok", "not_found", "error")
    }
    changed: list[str] = []
    rows = []
    for indicator, result in latest.items():
        old = before.get(indicator)
        if result.status == "error" and old is not None and old[_STATUS] != "error":
            continue  # never lose an earlier answer to a failed lookup
        if old is None:
            changed.append(indicator)
        else:
            new = (result.status, *(result.fields.get(f) for f in FIELDS[kind]), _tags(result))
            if _comparable(old) != _comparable(new):
                changed.append(indicator)
        expires = expiry[result.status] if not result.final else None
        rows.append(
            (
                indicator,
                provider,
                result.status,
                result.reason,
                source,
                _raw_param(conn, result.raw),
                fetched,
                expires,
                *[_db_value(conn, result.fields.get(f)) for f in fields],
            )
        )
    columns: tuple[str, ...] = (key, "provider", "status", "reason", "source", "raw")
    columns += ("fetched_at", "expires_at", *fields)
    target = "md5(url), provider" if kind == "url" and _pg(conn) else f"{key}, provider"
    updates = ", ".join(
        [f"{c} = excluded.{c}" for c in columns[2:]]
        + [f"{c} = NULL" for c in FIELDS[kind] if c not in fields]
    )
    insert_rows(
        conn,
        table,
        columns,
        rows,
        f"ON CONFLICT ({target}) DO UPDATE SET {updates}",
        expect_conflicts=bool(before),
    )
    if kind == "url":
        _replace_tags(conn, provider, [latest[i] for i in changed])
    if changed:
        mark_indicator_buckets(conn, kind, changed)
    return len(changed)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _json_param(conn: Connection, value: Any) -> Any:
    if value is None:
        return None
    text = orjson.dumps(value).decode()
    if _pg(conn):
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return text


_PLAIN = (str, int, float, bool, type(None))


def _db_value(conn: Connection, value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return _db_time(conn, value)
    if isinstance(value, list | tuple | dict):
        return _json_param(conn, value)
    return value


def _tags(result: Result) -> tuple[str, ...]:
    return tuple(sorted(set(result.tags)))


def _comparable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored or new row's status and fields in one form (dates as UTC text, JSON sorted)."""
    out = []
    for value in row:
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        elif isinstance(value, list | dict):
            value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        elif isinstance(value, bool):
            value = int(value)
        out.append(value)
    return tuple(out)


_KEYS_TABLE = "enrichment_keys"


def _with_keys(conn: Connection, keys: Sequence[str]) -> None:
    """Fill the connection's temporary table of indicators with ``keys``."""
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_KEYS_TABLE} (indicator TEXT NOT NULL)"
    )
    clear_table(conn, _KEYS_TABLE)
    insert_rows(conn, _KEYS_TABLE, ("indicator",), [(k,) for k in keys])


#: Where a row of :func:`_current` holds the status (the fields and the tags follow).
_STATUS = 0


def _current(
    conn: Connection, kind: Kind, provider: str, keys: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """The stored (status, fields..., tags) of the given indicators (typed by the table)."""
    t, key = TABLES[kind], KEYS[kind]
    _with_keys(conn, keys)
    k = table(_KEYS_TABLE, column("indicator"))
    query = (
        select(t.c[key], t.c.status, *[t.c[f] for f in FIELDS[kind]])
        .select_from(k.join(t, t.c[key] == k.c.indicator))
        .where(t.c.provider == provider)
    )
    current = {indicator: tuple(stored) for indicator, *stored in conn.execute(query)}
    tags: dict[str, list[str]] = {}
    if kind == "url" and current:
        query = (
            select(url_tags.c.url, url_tags.c.tag)
            .select_from(k.join(url_tags, url_tags.c.url == k.c.indicator))
            .where(url_tags.c.provider == provider)
        )
        for url, tag in conn.execute(query):
            tags.setdefault(url, []).append(tag)
    return {k: (*v, tuple(sorted(set(tags.get(k, []))))) for k, v in current.items()}


def _replace_tags(conn: Connection, provider: str, results: Sequence[Result]) -> None:
    if not results:
        return
    _with_keys(conn, [r.indicator for r in results])
    conn.exec_driver_sql(
        _p(
            conn,
            "DELETE FROM url_enrichment_tags WHERE provider = ?"
            f" AND url IN (SELECT indicator FROM {_KEYS_TABLE})",
        ),
        (provider,),
    )
    rows = [(r.indicator, provider, tag) for r in results for tag in _tags(r)]
    insert_rows(conn, "url_enrichment_tags", ("url", "provider", "tag"), rows)


# Marked in the loader's order (dates, then sensors by code point) so that an enrichment
# save and a batch lock the marks they share in one order.
_MARK = (
    "INSERT INTO rollup_dirty (day, sensor, generation) SELECT s.first_day, s.sensor, 1 {body}"
    " GROUP BY s.first_day, s.sensor ORDER BY s.first_day, s.sensor{collate}"
    " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
)
_MARK_BODY: dict[Kind, str] = {
    # The changed indicators first (SQLite keeps a CROSS JOIN's order): an index lookup each.
    "ip": f"FROM {_KEYS_TABLE} AS k CROSS JOIN session_summaries AS s WHERE s.src_ip = k.indicator",
    "file": (
        f"FROM {_KEYS_TABLE} AS k CROSS JOIN files AS f CROSS JOIN session_summaries AS s"
        " WHERE f.shasum = k.indicator AND s.sensor = f.sensor AND s.session_id = f.session_id"
    ),
    # files.url has no index (unbounded text): one pass over files, the keys hashed.
    "url": (
        "FROM files AS f CROSS JOIN session_summaries AS s"
        f" WHERE f.url IN (SELECT indicator FROM {_KEYS_TABLE})"
        " AND s.sensor = f.sensor AND s.session_id = f.session_id"
    ),
}


def mark_indicator_buckets(conn: Connection, kind: Kind, indicators: Sequence[str]) -> None:
    """Mark dirty the buckets of every session that used one of ``indicators``."""
    _with_keys(conn, indicators)
    collate = ' COLLATE "C"' if _pg(conn) else ""  # SQLite compares text by code point
    conn.exec_driver_sql(_MARK.format(body=_MARK_BODY[kind], collate=collate))


def record_request(conn: Connection, provider: str, at: datetime) -> None:
    """Note one request sent to ``provider`` (rate windows and budgets across runs)."""
    conn.exec_driver_sql(
        _p(conn, "INSERT INTO enrichment_requests (provider, sent_at) VALUES (?, ?)"),
        (provider, _db_time(conn, at)),
    )


def requests_since(conn: Connection, provider: str, since: datetime) -> list[datetime]:
    """When the requests to ``provider`` since ``since`` were sent, oldest first."""
    from cowrieprocessor.db.enrichment import enrichment_requests as t

    return list(
        conn.scalars(
            select(t.c.sent_at)
            .where(t.c.provider == provider, t.c.sent_at >= since)
            .order_by(t.c.sent_at)
        )
    )


def prune_requests(conn: Connection, before: datetime) -> None:
    """Forget requests older than ``before`` (kept: the last day and rate window)."""
    conn.exec_driver_sql(
        _p(conn, "DELETE FROM enrichment_requests WHERE sent_at < ?"), (_db_time(conn, before),)
    )


def cache_sizes(conn: Connection) -> dict[str, dict[str, int]]:
    """``{provider: {status: rows}}`` over every kind's table."""
    sizes: dict[str, dict[str, int]] = {}
    for t in TABLES.values():
        for provider, status, n in conn.exec_driver_sql(
            f"SELECT provider, status, COUNT(*) FROM {t.name} GROUP BY provider, status"
        ):
            bucket = sizes.setdefault(provider, {})
            bucket[status] = bucket.get(status, 0) + int(n)
    return sizes


__all__ = [
    "FIELDS",
    "MAX_BODY",
    "Scope",
    "cache_sizes",
    "mark_indicator_buckets",
    "pending",
    "prune_requests",
    "record_request",
    "requests_since",
    "save",
    "writing",
]
