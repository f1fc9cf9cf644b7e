"""Credential rollups v2: a username or password that is not a JSON string counts as none.

Version 1 of daily_credentials, daily_usernames and daily_passwords read such a value as
text, and the text differed between the dialects (``true`` against ``1``, ``{"a": 1}``
against ``{"a":1}``), so the same logs gave different reports on SQLite and PostgreSQL.
Cowrie itself always logs strings. The three live views are replaced and their tables
refilled; period_values, which sums them per week and month, is refilled from its live view.

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

#: rollup -> its columns, written out: a migration must not change after the fact.
COLUMNS = {
    "daily_credentials": ["day", "sensor", "username", "password", "attempts", "successes"],
    "daily_usernames": ["day", "sensor", "username", "attempts", "successes"],
    "daily_passwords": ["day", "sensor", "password", "attempts", "successes"],
}
PERIOD_VALUES = ["kind", "period_start", "figure", "sensor", "value", "total"]


def _install(version: int) -> None:
    bind = op.get_bind()
    for name, columns in COLUMNS.items():
        ddl.drop_live_view(bind, name)
        ddl.create_live_view(bind, name, version)
        ddl.fill(bind, name, columns)
    ddl.fill(bind, "period_values", PERIOD_VALUES)


def upgrade() -> None:
    _install(2)


def downgrade() -> None:
    _install(1)
