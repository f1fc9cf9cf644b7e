"""The rollups: one definition each (name, SQL version, key and value columns), the one
place the refresh code, the reports and the schema read them from.

Each rollup ``<name>`` is defined by ``sql/views/<name>_v<version>.sql`` (or a
``.sqlite.sql`` / ``.postgresql.sql`` pair where the dialects differ): a SELECT over the
base tables grouped by ``(day, sensor)`` plus the rest of its key, returning the key columns
then the value columns in the order given here. The migrations install it twice: as the
plain view ``<name>_live`` (always correct, slow) and as the table ``<name>`` (the rollup the
reports read; :attr:`Rollup.table` is its SQLAlchemy table on the shared metadata),
refreshed bucket by bucket.

``period_values`` sums the top-list figures of the daily rollup tables per ISO week and
calendar month (through the view ``period_sources``); it has no day, so bucket refreshes
keep it up to date by difference (``rollups/refresh.py``) instead of replacing rows.

Adding a rollup is one :class:`Rollup` in :data:`ROLLUPS`, one SQL file and one migration
(docs/architecture.md). Migrations name the exact version they install; bumping
``version`` here must come with a migration that installs that version (see
``alembic/versions/0003_daily_files_vt_label.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Integer, String, Table, Text

from cowrieprocessor.db import limits
from cowrieprocessor.db.tables import METADATA

#: How a value column combines over several buckets (days, sensors): its ``info`` entry.
COMBINE = "combine"


def bucket() -> tuple[Column[Any], Column[Any]]:
    """The ``(day, sensor)`` bucket that starts the key of every daily rollup."""
    return Column("day", Date, nullable=False), Column(
        "sensor", String(limits.SENSOR), nullable=False
    )


def text(name: str) -> Column[Any]:
    """An unbounded text key column (indexed as ``md5(column)`` on PostgreSQL)."""
    return Column(name, Text, nullable=False)


def string(name: str, length: int) -> Column[Any]:
    """A bounded text key column."""
    return Column(name, String(length), nullable=False)


def integer(name: str) -> Column[Any]:
    """An integer key column."""
    return Column(name, Integer, nullable=False)


def count(name: str) -> Column[Any]:
    """A count: summed over buckets."""
    return Column(name, BigInteger, nullable=False, info={COMBINE: "sum"})


def smallest(name: str) -> Column[Any]:
    """A minimum: the smallest over buckets."""
    return Column(name, Integer, nullable=False, info={COMBINE: "min"})


def largest(name: str) -> Column[Any]:
    """A maximum: the largest over buckets."""
    return Column(name, Integer, nullable=False, info={COMBINE: "max"})


class Rollup:
    """One rollup: its table (key columns then value columns) and installed SQL version.

    ``derived_from`` names a rollup earlier in :data:`ROLLUPS` whose rows, combined over
    the rest of their key, are this one's: refreshes fill it from there (its live view stays
    the definition). ``read_ahead``: its view joins a big base table (raw_events,
    command_stats) for few rows a bucket, so refreshes read it on another connection, beside
    their transaction (rollups/refresh.py).
    """

    def __init__(
        self,
        *,
        name: str,
        version: int,
        key: Sequence[Column[Any]],
        values: Sequence[Column[Any]],
        derived_from: str | None = None,
        read_ahead: bool = False,
    ) -> None:
        self.name = name
        self.version = version
        self.table = Table(name, METADATA, *key, *values)
        self.key = tuple(c.name for c in key)
        self.values = tuple(c.name for c in values)
        #: Key columns holding unbounded text: indexed as ``md5(column)`` on PostgreSQL (a
        #: btree entry must fit in a third of a page, which a 100 KB command does not).
        self.hashed = tuple(c.name for c in key if isinstance(c.type, Text))
        self.derived_from = derived_from
        self.read_ahead = read_ahead

    def __repr__(self) -> str:
        return f"Rollup(name={self.name!r}, version={self.version})"

    @property
    def live(self) -> str:
        """Name of the plain view computing the rollup from the base tables."""
        return f"{self.name}_live"

    @property
    def columns(self) -> tuple[str, ...]:
        """Key columns then value columns, in the order of the view."""
        return self.key + self.values

    def combine(self, value: str) -> str:
        """The SQL aggregate combining ``value`` over buckets: SUM, MIN or MAX."""
        return str(self.table.c[value].info.get(COMBINE, "sum")).upper()


#: The daily rollups, in refresh order (a derived rollup after its source).
ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        name="daily_sessions",
        version=1,
        key=bucket(),
        values=(
            count("sessions"),
            count("sessions_with_login"),
            count("sessions_with_commands"),
            count("sessions_with_downloads"),
            count("commands_sum"),
            smallest("commands_min"),
            largest("commands_max"),
            count("duration_us_sum"),
            count("login_attempts"),
            count("login_successes"),
            count("downloads"),
            count("uploads"),
            count("vt_flagged_sessions"),
            count("dshield_flagged_sessions"),
        ),
    ),
    Rollup(
        name="daily_commands",
        version=2,
        # The command's id in ``strings`` (db/strings.py): the text is stored once.
        key=(*bucket(), integer("command_id")),
        values=(count("occurrences"), count("sessions")),
        read_ahead=True,
    ),
    Rollup(
        name="daily_files",
        version=3,
        key=(
            *bucket(),
            string("direction", 8),
            text("url"),
            string("shasum", limits.SHASUM),
            text("vt_label"),
        ),
        values=(count("transfers"), count("sessions")),
    ),
    Rollup(
        name="daily_credentials",
        version=4,
        key=(*bucket(), text("username"), text("password")),
        values=(count("attempts"), count("successes")),
        read_ahead=True,
    ),
    # Halves of daily_credentials, for top usernames / passwords and their distinct counts.
    Rollup(
        name="daily_usernames",
        version=4,
        key=(*bucket(), text("username")),
        values=(count("attempts"), count("successes")),
        derived_from="daily_credentials",
    ),
    Rollup(
        name="daily_passwords",
        version=4,
        key=(*bucket(), text("password")),
        values=(count("attempts"), count("successes")),
        derived_from="daily_credentials",
    ),
    Rollup(
        name="daily_src_ips",
        version=1,
        key=(*bucket(), string("src_ip", limits.SRC_IP)),
        values=(count("sessions"),),
    ),
    Rollup(
        name="daily_protocols",
        version=1,
        key=(*bucket(), string("protocol", limits.PROTOCOL)),
        values=(count("sessions"),),
    ),
    Rollup(
        name="daily_client_versions",
        version=1,
        key=(*bucket(), text("client_version")),
        values=(count("sessions"),),
    ),
    Rollup(
        name="daily_hassh",
        version=1,
        key=(*bucket(), string("hassh", limits.HASSH)),
        values=(count("sessions"),),
    ),
    Rollup(
        name="daily_command_counts",
        version=1,
        key=(*bucket(), integer("command_count")),
        values=(count("sessions"),),
    ),
    # Per UTC hour of the first event: the HTML report's hour charts and day x hour heatmap.
    Rollup(
        name="hourly_sessions",
        version=1,
        key=(*bucket(), integer("hour")),
        values=(
            count("sessions"),
            count("login_attempts"),
            count("login_successes"),
            count("commands"),
            count("downloads"),
        ),
    ),
    # Enrichment (views join session_summaries and files to the enrichment store).
    Rollup(
        name="daily_enrichment",
        version=1,
        key=bucket(),
        values=(
            count("vt_flagged_sessions"),
            count("dshield_flagged_sessions"),
            count("tunnel_sessions"),
            count("anonymous_sessions"),
            count("benign_scanner_sessions"),
        ),
    ),
    # figure: country, asn, spur_infrastructure, greynoise_classification (sessions) or
    # urlhaus_tag (download events).
    Rollup(
        name="daily_enrichment_values",
        version=1,
        key=(*bucket(), string("figure", 32), string("value", 200)),
        values=(count("total"),),
    ),
    Rollup(
        name="daily_recent_vt_sessions",
        version=1,
        key=(*bucket(), string("session_id", limits.SESSION_ID)),
        values=(count("files"),),
    ),
)

#: Top-list figures per ISO week ('weekly') and calendar month ('monthly'), from the daily
#: rollup tables; ``period_start`` is the period's first day. Rebuilt and checked after
#: ROLLUPS, which it reads. A figure in :data:`INTERNED` has its value as an id in
#: ``strings`` (``value_id``, ``value`` ''); the others as text (``value_id`` 0).
PERIOD_VALUES = Rollup(
    name="period_values",
    version=2,
    key=(
        string("kind", 7),
        Column("period_start", Date, nullable=False),
        string("figure", 16),
        string("sensor", limits.SENSOR),
        text("value"),
        integer("value_id"),
    ),
    values=(count("total"),),
)
#: The view of every figure's values per bucket that PERIOD_VALUES sums, and its version.
PERIOD_SOURCES = ("period_sources", 2)
FIGURES = ("username", "password", "combination", "src_ip", "command", "shasum", "url", "vt_label")
#: Figures whose values are ids in ``strings`` (db/strings.py), in the daily rollups and in
#: ``period_values``; reports join the text back for the rows they show.
INTERNED = ("command",)

#: Every rollup table, in rebuild order.
ALL_ROLLUPS: tuple[Rollup, ...] = (*ROLLUPS, PERIOD_VALUES)

BY_NAME: dict[str, Rollup] = {r.name: r for r in ALL_ROLLUPS}


def get(name: str) -> Rollup:
    """The rollup called ``name``."""
    return BY_NAME[name]
