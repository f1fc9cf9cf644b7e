"""Reporting data access: thin selects over the rollups, and streaming exports.

Report figures come from the rollup tables only (never ``raw_events``): a window is a range
of the ``daily_*`` tables' ``day`` column, optionally one sensor. Top lists and distinct
counts of a whole ISO week or calendar month read ``period_values`` instead, one row per
value. Exports stream the per-session tables in keyset-paginated batches, so memory stays
flat however long the window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Select,
    Table,
    distinct,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from cowrieprocessor.db.strings import strings
from cowrieprocessor.db.tables import session_summaries
from cowrieprocessor.rollups.definitions import INTERNED, PERIOD_VALUES, get

DEFAULT_BATCH = 1_000


class RollupTables(NamedTuple):
    """The rollups a report reads: the tables, or their always-correct live views."""

    sessions: Table
    commands: Table
    files: Table
    credentials: Table
    src_ips: Table
    protocols: Table
    usernames: Table
    passwords: Table
    command_counts: Table
    enrichment: Table
    enrichment_values: Table
    recent_vt_sessions: Table
    #: Per-period top-list figures; None: whole periods too are summed from the days.
    periods: Table | None = None


ROLLUP_TABLES = RollupTables(
    sessions=get("daily_sessions").table,
    commands=get("daily_commands").table,
    files=get("daily_files").table,
    credentials=get("daily_credentials").table,
    src_ips=get("daily_src_ips").table,
    protocols=get("daily_protocols").table,
    usernames=get("daily_usernames").table,
    passwords=get("daily_passwords").table,
    command_counts=get("daily_command_counts").table,
    enrichment=get("daily_enrichment").table,
    enrichment_values=get("daily_enrichment_values").table,
    recent_vt_sessions=get("daily_recent_vt_sessions").table,
    periods=PERIOD_VALUES.table,
)


def _live_view(table: Table) -> Table:
    return Table(f"{table.name}_live", MetaData(), *[Column(c.name, c.type) for c in table.columns])


#: The same figures computed straight from the base tables, through the daily ``*_live``
#: views (slow: for checks and for measuring what the rollups save).
LIVE_VIEWS = RollupTables(
    **{name: _live_view(t) for name, t in ROLLUP_TABLES._asdict().items() if name != "periods"}
)


@dataclass(frozen=True)
class Window:
    """Inclusive UTC days ``start``..``end``; ``sensor`` None means every sensor.

    ``period`` names the report type ('weekly', 'monthly') when the window is exactly one
    ISO week or calendar month: then ``period_values`` can serve its top lists.
    """

    start: date
    end: date
    sensor: str | None = None
    period: str | None = None


class ReportingDAL:
    """Queries over the rollups for one ORM session (see ``create_session_maker``)."""

    def __init__(self, session: Session, tables: RollupTables = ROLLUP_TABLES) -> None:
        self.session = session
        self.tables = tables
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._sensors: dict[tuple[date, date], str | None] = {}

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _in_window(table: Table, window: Window) -> list[ColumnElement[bool]]:
        clauses = [table.c.day >= window.start, table.c.day <= window.end]
        if window.sensor is not None:
            clauses.append(table.c.sensor == window.sensor)
        return clauses

    def _by_value(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        # Ties are broken by plain code-point order on both dialects (UTF-8 byte order).
        # self_group() parenthesises an expression such as ``a || ':' || b``: COLLATE binds
        # tighter than ``||``, so it would otherwise apply to ``b`` only and the ORDER BY
        # would no longer be the GROUP BY expression (a GroupingError on PostgreSQL).
        return value.self_group().collate("C") if self._postgres else value

    # -- figures --------------------------------------------------------------------------

    def session_totals(self, window: Window) -> dict[str, int]:
        """Every value of ``daily_sessions`` over the window: summed, or the minimum or
        maximum of the days (as its definition says); 0 for a window without sessions."""
        t = self.tables.sessions
        rollup = get("daily_sessions")
        query = select(
            *[
                func.coalesce(getattr(func, rollup.combine(name).lower())(t.c[name]), 0).label(name)
                for name in rollup.values
            ]
        ).where(*self._in_window(t, window))
        row = self.session.execute(query).one()
        return {key: int(value) for key, value in row._mapping.items()}

    def _daily_figure(
        self, figure: str
    ) -> tuple[ColumnElement[Any], Column[Any], list[ColumnElement[bool]]]:
        """(value, count, filters) of a top-list figure in the daily rollups; the same
        figures as ``sql/views/period_sources_v1.sql``."""
        t = self.tables
        c, f = t.credentials.c, t.files.c
        if figure == "username":
            return t.usernames.c.username, t.usernames.c.attempts, []
        if figure == "password":
            return t.passwords.c.password, t.passwords.c.attempts, []
        if figure == "combination":
            return c.username + literal(":") + c.password, c.attempts, []
        if figure == "src_ip":  # sessions without a source IP are stored under ''
            return t.src_ips.c.src_ip, t.src_ips.c.sessions, [t.src_ips.c.src_ip != ""]
        if figure == "command":  # an id in strings (INTERNED)
            return t.commands.c.command_id, t.commands.c.occurrences, []
        if figure == "url":
            return f.url, f.transfers, [f.direction == "download", f.url != ""]
        if figure in ("shasum", "vt_label"):
            return f[figure], f.transfers, [f[figure] != ""]
        raise ValueError(f"unknown figure {figure!r}")

    def _period_filter(
        self, figure: str, window: Window
    ) -> tuple[list[ColumnElement[bool]], bool] | None:
        """Filters on ``period_values`` for a whole-period window, and whether they select
        one sensor's rows (unique per value); None when the daily rollups must serve."""
        p = self.tables.periods
        if p is None or window.period is None:
            return None
        where = [p.c.kind == window.period, p.c.period_start == window.start, p.c.figure == figure]
        sensor = window.sensor if window.sensor is not None else self._only_sensor(window)
        if sensor is not None:
            where.append(p.c.sensor == sensor)
        return where, sensor is not None

    def _source(
        self, figure: str, window: Window
    ) -> tuple[ColumnElement[Any], ColumnElement[Any], list[ColumnElement[bool]], bool]:
        """(value, count, filters, one row per value) of a figure over the window."""
        period = self._period_filter(figure, window)
        if period is not None:
            assert self.tables.periods is not None
            p = self.tables.periods.c
            return p.value_id if figure in INTERNED else p.value, p.total, *period
        value, count, where = self._daily_figure(figure)
        return value, count, [*self._in_window(count.table, window), *where], False

    def top(self, figure: str, window: Window, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The top list ``[{"value", "count"}]`` of a figure (count descending, value
        ascending) and its number of distinct values.

        Figures: username, password, combination, src_ip, command, shasum, url, vt_label.
        """
        if figure in INTERNED:
            return self._top_interned(figure, window, limit)
        value, count, where, unique = self._source(figure, window)
        if unique:  # one sensor's period rows: read in the top-list index order, no GROUP BY
            query = (
                select(value, count)
                .where(*where)
                .order_by(count.desc(), self._by_value(value))
                .limit(limit)
            )
            entries = [{"value": v, "count": int(n)} for v, n in self.session.execute(query)]
            distinct_values = select(func.count()).where(*where)
            return entries, int(self.session.scalar(distinct_values) or 0)
        total = func.sum(count)
        query = (
            select(
                value.label("value"),
                total.label("count"),
                func.count().over().label("distinct_values"),
            )
            .where(*where)
            .group_by(value)
            .order_by(total.desc(), self._by_value(value))
            .limit(limit)
        )
        rows = self.session.execute(query).mappings().all()
        entries = [{"value": row["value"], "count": int(row["count"])} for row in rows]
        return entries, int(rows[0]["distinct_values"]) if rows else 0

    def _top_interned(
        self, figure: str, window: Window, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """:meth:`top` of a figure whose values are ids in ``strings``: the ids are ranked
        by count, and only those counted at least as often as the ``limit``-th (the top
        list and its ties, which the text orders) are joined to their text."""
        key, count, where, unique = self._source(figure, window)
        total = count if unique else func.sum(count)
        counted = select(key.label("id"), total.label("total")).where(*where)
        ranked = (counted if unique else counted.group_by(key)).cte("ranked")
        distinct_values = select(func.count()).select_from(ranked).scalar_subquery()
        if limit <= 0:
            return [], int(self.session.scalar(select(distinct_values)) or 0)
        cutoff = (
            select(ranked.c.total)
            .order_by(ranked.c.total.desc())
            .limit(1)
            .offset(limit - 1)
            .scalar_subquery()
        )
        text = strings.c.text
        query = (
            select(text, ranked.c.total, distinct_values)
            .join_from(ranked, strings, strings.c.id == ranked.c.id)
            .where(ranked.c.total >= func.coalesce(cutoff, 0))
            .order_by(ranked.c.total.desc(), self._by_value(text))
            .limit(limit)
        )
        rows = self.session.execute(query).all()
        entries = [{"value": v, "count": int(n)} for v, n, _ in rows]
        return entries, int(rows[0][2]) if rows else 0

    def values(self, figure: str, window: Window) -> set[str]:
        """Every distinct value of a figure over the window."""
        value, _, where, _ = self._source(figure, window)
        query = select(value).distinct().where(*where)
        if figure in INTERNED:
            query = select(strings.c.text).where(strings.c.id.in_(query))
        return set(self.session.scalars(query))

    def protocols(self, window: Window) -> dict[str, int]:
        """``{protocol: sessions}``; sessions of unknown protocol are left out."""
        t = self.tables.protocols
        query = (
            select(t.c.protocol, func.sum(t.c.sessions))
            .where(*self._in_window(t, window), t.c.protocol != "")
            .group_by(t.c.protocol)
            .order_by(self._by_value(t.c.protocol))
        )
        return {protocol: int(n) for protocol, n in self.session.execute(query)}

    def per_day(self, window: Window) -> dict[date, dict[str, int]]:
        """Per day: sessions, unique IPs, commands and downloads of sessions started that day.

        Only days with sessions are keys.
        """
        s, ips = self.tables.sessions, self.tables.src_ips
        days: dict[date, dict[str, int]] = {}
        totals = (
            select(
                s.c.day, func.sum(s.c.sessions), func.sum(s.c.commands_sum), func.sum(s.c.downloads)
            )
            .where(*self._in_window(s, window))
            .group_by(s.c.day)
        )
        for day, sessions, commands, downloads in self.session.execute(totals):
            days[_as_date(day)] = {
                "sessions": int(sessions),
                "unique_ips": 0,
                "commands": int(commands),
                "downloads": int(downloads),
            }
        # Rows are unique per (day, sensor, src_ip): for one sensor a plain count is exact.
        one_sensor = window.sensor is not None or self._only_sensor(window) is not None
        per_day_ips = func.count() if one_sensor else func.count(distinct(ips.c.src_ip))
        unique = (
            select(ips.c.day, per_day_ips)
            .where(*self._in_window(ips, window), ips.c.src_ip != "")
            .group_by(ips.c.day)
        )
        for day, n in self.session.execute(unique):
            days.setdefault(
                _as_date(day), {"sessions": 0, "unique_ips": 0, "commands": 0, "downloads": 0}
            )["unique_ips"] = int(n)
        return days

    def per_hour(self, window: Window) -> dict[tuple[date, int], dict[str, int]]:
        """Per (day, UTC hour of the first event): sessions, login attempts and successes,
        commands and downloads of the sessions started then (``hourly_sessions``).

        Only hours with sessions are keys.
        """
        rollup = get("hourly_sessions")
        h, figures = rollup.table, rollup.values
        query = (
            select(h.c.day, h.c.hour, *[func.sum(h.c[f]) for f in figures])
            .where(*self._in_window(h, window))
            .group_by(h.c.day, h.c.hour)
        )
        return {
            (_as_date(day), int(hour)): dict(zip(figures, map(int, sums), strict=True))
            for day, hour, *sums in self.session.execute(query)
        }

    def data_span(self, sensor: str | None = None) -> tuple[date, date] | None:
        """First and last day holding sessions (of ``sensor``, or of any); None if none."""
        s = self.tables.sessions
        query = select(func.min(s.c.day), func.max(s.c.day))
        if sensor is not None:
            query = query.where(s.c.sensor == sensor)
        first, last = self.session.execute(query).one()
        return None if first is None else (_as_date(first), _as_date(last))

    def _only_sensor(self, window: Window) -> str | None:
        """The sensor, when exactly one has sessions in the window (then the aggregate's
        rows are that sensor's, unique per day or period and key, and plain counts are
        exact); else None."""
        key = (window.start, window.end)
        if key not in self._sensors:
            s = self.tables.sessions
            query = select(s.c.sensor).distinct().where(*self._in_window(s, window)).limit(2)
            found = list(self.session.scalars(query))
            self._sensors[key] = found[0] if len(found) == 1 else None
        return self._sensors[key]

    def command_counts(self, window: Window) -> dict[int, int]:
        """``{command count: sessions with exactly that many commands}`` over the window."""
        t = self.tables.command_counts
        query = (
            select(t.c.command_count, func.sum(t.c.sessions))
            .where(*self._in_window(t, window))
            .group_by(t.c.command_count)
        )
        return {int(count): int(n) for count, n in self.session.execute(query)}

    def sessions_with_command_count(self, window: Window, count: int, limit: int) -> list[str]:
        """Ids of the window's first ``limit`` sessions with ``count`` commands, in
        (day, sensor, session id) order (index ``rc_session_summaries_command_count``)."""
        s = session_summaries
        query = (
            select(s.c.session_id)
            .where(s.c.command_count == count, *self._session_filter(s, window))
            .order_by(s.c.first_day, self._by_value(s.c.sensor), self._by_value(s.c.session_id))
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def enrichment_totals(self, window: Window) -> dict[str, int]:
        """Sums of ``daily_enrichment`` over the window (flagged, tunnelled, ... sessions)."""
        t = self.tables.enrichment
        names = [c.name for c in t.columns if c.name not in ("day", "sensor")]
        query = select(*[func.coalesce(func.sum(t.c[n]), 0).label(n) for n in names]).where(
            *self._in_window(t, window)
        )
        row = self.session.execute(query).one()
        return {key: int(value) for key, value in row._mapping.items()}

    def enrichment_top(self, figure: str, window: Window, limit: int) -> list[dict[str, Any]]:
        """Top list of an enrichment figure (``daily_enrichment_values``): country, asn,
        spur_infrastructure, greynoise_classification, urlhaus_tag."""
        t = self.tables.enrichment_values
        total = func.sum(t.c.total)
        query = (
            select(t.c.value, total)
            .where(*self._in_window(t, window), t.c.figure == figure)
            .group_by(t.c.value)
            .order_by(total.desc(), self._by_value(t.c.value))
            .limit(limit)
        )
        return [{"value": v, "count": int(n)} for v, n in self.session.execute(query)]

    def recent_vt_sessions(self, window: Window, limit: int) -> tuple[int, list[str]]:
        """(number of sessions with a recent VirusTotal first submission, the first
        ``limit`` of their ids in (day, sensor, session id) order)."""
        t = self.tables.recent_vt_sessions
        where = self._in_window(t, window)
        count = int(self.session.scalar(select(func.count()).where(*where)) or 0)
        if not count:
            return 0, []
        query = (
            select(t.c.session_id)
            .where(*where)
            .order_by(t.c.day, self._by_value(t.c.sensor), self._by_value(t.c.session_id))
            .limit(limit)
        )
        return count, list(self.session.scalars(query))

    def country_names(self, codes: set[str]) -> dict[str, str]:
        """English names of country codes, as the offline data names them."""
        if not codes:
            return {}
        from cowrieprocessor.db.enrichment import ip_enrichment as e

        query = (
            select(e.c.country, func.max(e.c.country_name))
            .where(e.c.provider == "offline", e.c.country.in_(sorted(codes)))
            .group_by(e.c.country)
        )
        return {code: name for code, name in self.session.execute(query) if name}

    def offline_sources(self) -> list[str]:
        """The offline data behind the stored country and AS figures."""
        from cowrieprocessor.db.enrichment import ip_enrichment as e

        query = (
            select(e.c.source)
            .distinct()
            .where(e.c.provider == "offline", e.c.status == "ok")
            .order_by(e.c.source)
        )
        return [s for s in self.session.scalars(query) if s]

    def sensors(self) -> list[str]:
        """Every sensor with at least one session."""
        s = self.tables.sessions
        query = select(s.c.sensor).distinct().order_by(s.c.sensor)
        return list(self.session.scalars(query))

    def recorded_sensors(self) -> list[str]:
        """Every sensor of a stored session (base tables, never stale, but a scan)."""
        s = session_summaries
        return list(self.session.scalars(select(s.c.sensor).distinct().order_by(s.c.sensor)))

    def has_sessions(self, sensor: str) -> bool:
        """Whether any session of ``sensor`` is stored (base tables, never stale)."""
        s = session_summaries
        query = select(s.c.session_id).where(s.c.sensor == sensor).limit(1)
        return self.session.execute(query).first() is not None

    def iter_sessions(
        self, window: Window, batch_size: int = DEFAULT_BATCH
    ) -> Iterator[list[dict[str, Any]]]:
        """Session summaries of the window, in batches, ordered by (day, sensor, session)."""
        from cowrieprocessor.db.enrichment import ip_enrichment as e
        from cowrieprocessor.db.models import SessionSummary

        s = SessionSummary.__table__
        # Country and AS of the session's IP (offline data; null when unknown).
        offline = e.alias("offline")
        query = select(
            s,
            offline.c.country.label("country"),
            offline.c.asn.label("asn"),
            offline.c.as_name.label("as_name"),
        ).select_from(
            s.outerjoin(
                offline,
                (offline.c.src_ip == s.c.src_ip)
                & (offline.c.provider == "offline")
                & (offline.c.status == "ok"),
            )
        )
        yield from self._pages(
            query,
            (s.c.first_day, s.c.sensor, s.c.session_id),
            self._session_filter(s, window),
            batch_size,
        )

    def iter_commands(
        self, window: Window, batch_size: int = DEFAULT_BATCH
    ) -> Iterator[list[dict[str, Any]]]:
        """Command stats of the window's sessions, in batches (the command as its text)."""
        from cowrieprocessor.db.models import CommandStat

        c, s = CommandStat.__table__.c, session_summaries
        query = select(
            s.c.first_day,
            c.id,
            c.sensor,
            c.session_id,
            strings.c.text.label("command"),
            c.occurrences,
            c.first_seen,
            c.last_seen,
        ).select_from(
            CommandStat.__table__.join(
                s, (s.c.sensor == c.sensor) & (s.c.session_id == c.session_id)
            ).join(strings, strings.c.id == c.command_id)
        )
        return self._pages(
            query, (s.c.first_day, c.id), self._session_filter(s, window), batch_size
        )

    def iter_files(
        self, window: Window, batch_size: int = DEFAULT_BATCH
    ) -> Iterator[list[dict[str, Any]]]:
        """Downloaded and uploaded files of the window's sessions, in batches."""
        from cowrieprocessor.db.models import FileTransfer

        return self._per_session_rows(FileTransfer.__table__, window, batch_size)

    @staticmethod
    def _session_filter(s: Any, window: Window) -> list[ColumnElement[bool]]:
        clauses = [s.c.first_day >= window.start, s.c.first_day <= window.end]
        if window.sensor is not None:
            clauses.append(s.c.sensor == window.sensor)
        return clauses

    def _per_session_rows(
        self, table: Table, window: Window, batch_size: int
    ) -> Iterator[list[dict[str, Any]]]:
        s = session_summaries
        query = select(s.c.first_day, table).join(
            s, (s.c.sensor == table.c.sensor) & (s.c.session_id == table.c.session_id)
        )
        return self._pages(
            query, (s.c.first_day, table.c.id), self._session_filter(s, window), batch_size
        )

    def _pages(
        self,
        query: Select[Any],
        key: Sequence[ColumnElement[Any]],
        where: list[ColumnElement[bool]],
        batch_size: int,
    ) -> Iterator[list[dict[str, Any]]]:
        last: tuple[Any, ...] | None = None
        names = [k.name for k in key]
        while True:
            page = query.where(*where).order_by(*key).limit(batch_size)
            if last is not None:
                page = page.where(tuple_(*key) > tuple_(*last))
            rows = [dict(r._mapping) for r in self.session.execute(page)]
            if not rows:
                return
            yield rows
            tail = rows[-1]
            last = tuple(tail[n] for n in names)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
