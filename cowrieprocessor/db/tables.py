"""Core tables: the shared MetaData, and the columns of the base tables reports select on.

Plain SQLAlchemy Core, no ORM: ``cowrie-report show`` imports this, not ``db/models.py``
(mapping the ORM classes costs start-up time a report does not need). ``models.Base`` uses
the same MetaData, and so do the rollup tables (``rollups/definitions.py``, which
``models`` imports), so Alembic sees every table.
"""

from __future__ import annotations

from sqlalchemy import Date, Integer, MetaData, String, column, table

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
