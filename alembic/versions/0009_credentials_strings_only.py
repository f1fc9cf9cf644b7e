"""Credential rollups v2: a username or password that is not a JSON string counts as none.

Version 1 of daily_credentials, daily_usernames and daily_passwords read such a value as
text, and the text differed between the dialects (``true`` against ``1``, ``{"a": 1}``
against ``{"a":1}``), so the same logs gave different reports on SQLite and PostgreSQL.
Cowrie itself always logs strings, and for strings, null or a missing value both versions
agree. So the live views are replaced, and only the buckets of sessions holding another
kind of value are marked dirty: the next refresh recomputes them (and period_values by
difference). That costs one pass over the login events, not a refill of the rollups.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMES = ("daily_credentials", "daily_usernames", "daily_passwords")
#: JSON types of a username or password on which the two versions agree, per dialect.
_AGREED = {
    "postgresql": ("jsonb_typeof(r.payload -> '{field}')", "('string', 'null')"),
    "sqlite": ("json_type(r.payload, '$.{field}')", "('text', 'null')"),
}


def _mark_disagreeing_buckets() -> None:
    bind = op.get_bind()
    type_of, agreed = _AGREED[bind.dialect.name]
    disagree = " OR ".join(
        f"{type_of.format(field=field)} NOT IN {agreed}" for field in ("username", "password")
    )
    bind.exec_driver_sql(
        "INSERT INTO rollup_dirty (day, sensor, generation)"
        " SELECT DISTINCT s.first_day, s.sensor, 1"
        # The login events first (SQLite keeps a CROSS JOIN's order): one pass over the
        # partial index of login events, a summary looked up only for a disagreeing event.
        " FROM raw_events AS r CROSS JOIN session_summaries AS s"
        " WHERE r.event_type IN ('cowrie.login.success', 'cowrie.login.failed')"
        " AND s.sensor = r.sensor AND s.session_id = r.session_id"
        f" AND ({disagree})"
        " ON CONFLICT (day, sensor) DO UPDATE SET generation = rollup_dirty.generation + 1"
    )


def _install(version: int) -> None:
    bind = op.get_bind()
    for name in NAMES:
        ddl.drop_live_view(bind, name)
        ddl.create_live_view(bind, name, version)
    _mark_disagreeing_buckets()


def upgrade() -> None:
    _install(2)


def downgrade() -> None:
    _install(1)
