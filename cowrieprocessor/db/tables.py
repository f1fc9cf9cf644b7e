"""Core tables: the shared MetaData and the rollup tables reports read.

Plain SQLAlchemy Core, no ORM: ``cowrie-report show`` imports this, not ``db/models.py``
(mapping the ORM classes costs start-up time a report does not need). ``models.Base`` uses
the same MetaData, so Alembic sees every table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    table,
)

from cowrieprocessor.db import limits

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=NAMING_CONVENTION)

#: The columns of ``session_summaries`` (``models.SessionSummary``) reports select on.
session_summaries = table(
    "session_summaries",
    column("sensor", String(limits.SENSOR)),
    column("session_id", String(limits.SESSION_ID)),
    column("first_day", Date),
    column("command_count", Integer),
)

# Rollup tables (see cowrieprocessor/rollups/definitions.py and sql/views/). Their unique key
# index ``rk_<table>`` differs by dialect (md5() expressions on PostgreSQL), so the migrations
# create it and Alembic's comparison leaves ``rk_`` indexes alone (alembic/env.py).


def _rollup_table(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        METADATA,
        Column("day", Date, nullable=False),
        Column("sensor", String(limits.SENSOR), nullable=False),
        *columns,
    )


def _count(name: str) -> Column[Any]:
    return Column(name, BigInteger, nullable=False)


daily_sessions = _rollup_table(
    "daily_sessions",
    _count("sessions"),
    _count("sessions_with_login"),
    _count("sessions_with_commands"),
    _count("sessions_with_downloads"),
    _count("commands_sum"),
    Column("commands_min", Integer, nullable=False),
    Column("commands_max", Integer, nullable=False),
    _count("duration_us_sum"),
    _count("login_attempts"),
    _count("login_successes"),
    _count("downloads"),
    _count("uploads"),
    _count("vt_flagged_sessions"),
    _count("dshield_flagged_sessions"),
)
daily_commands = _rollup_table(
    "daily_commands",
    Column("command", Text, nullable=False),
    _count("occurrences"),
    _count("sessions"),
)
daily_files = _rollup_table(
    "daily_files",
    Column("direction", String(8), nullable=False),
    Column("url", Text, nullable=False),
    Column("shasum", String(limits.SHASUM), nullable=False),
    Column("vt_label", Text, nullable=False),
    _count("transfers"),
    _count("sessions"),
)
daily_credentials = _rollup_table(
    "daily_credentials",
    Column("username", Text, nullable=False),
    Column("password", Text, nullable=False),
    _count("attempts"),
    _count("successes"),
)
daily_usernames = _rollup_table(
    "daily_usernames",
    Column("username", Text, nullable=False),
    _count("attempts"),
    _count("successes"),
)
daily_passwords = _rollup_table(
    "daily_passwords",
    Column("password", Text, nullable=False),
    _count("attempts"),
    _count("successes"),
)
daily_src_ips = _rollup_table(
    "daily_src_ips", Column("src_ip", String(limits.SRC_IP), nullable=False), _count("sessions")
)
daily_protocols = _rollup_table(
    "daily_protocols",
    Column("protocol", String(limits.PROTOCOL), nullable=False),
    _count("sessions"),
)
daily_client_versions = _rollup_table(
    "daily_client_versions", Column("client_version", Text, nullable=False), _count("sessions")
)
daily_hassh = _rollup_table(
    "daily_hassh", Column("hassh", String(limits.HASSH), nullable=False), _count("sessions")
)
daily_command_counts = _rollup_table(
    "daily_command_counts", Column("command_count", Integer, nullable=False), _count("sessions")
)
hourly_sessions = _rollup_table(
    "hourly_sessions",
    Column("hour", Integer, nullable=False),
    _count("sessions"),
    _count("login_attempts"),
    _count("login_successes"),
    _count("commands"),
    _count("downloads"),
)

#: Top-list figures per ISO week or calendar month (``PERIOD_VALUES`` in
#: rollups/definitions.py); ``kind`` is 'weekly' or 'monthly', ``period_start`` its first day.
period_values = Table(
    "period_values",
    METADATA,
    Column("kind", String(7), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("figure", String(16), nullable=False),
    Column("sensor", String(limits.SENSOR), nullable=False),
    Column("value", Text, nullable=False),
    _count("total"),
)
