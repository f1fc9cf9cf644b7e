"""daily_usernames and daily_passwords: the two halves of daily_credentials as rollups.

Top usernames / passwords and their distinct counts over a week or a month grouped every
(username, password) row of daily_credentials; these rollups hold one row per username
(per password) and bucket instead. New rollups only: their live views read the base tables
like the others, and nothing else changes. On a populated database they are filled here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: rollup name -> its key column (after day, sensor); version 1 of each view.
NAMES = {"daily_usernames": "username", "daily_passwords": "password"}


def upgrade() -> None:
    bind = op.get_bind()
    for name, column in NAMES.items():
        op.create_table(
            name,
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("sensor", sa.String(255), nullable=False),
            sa.Column(column, sa.Text(), nullable=False),
            sa.Column("attempts", sa.BigInteger(), nullable=False),
            sa.Column("successes", sa.BigInteger(), nullable=False),
        )
        key = ["day", "sensor", column]
        ddl.create_key_index(bind, name, key, (column,))
        ddl.create_live_view(bind, name, 1)
        ddl.fill(bind, name, [*key, "attempts", "successes"])


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(list(NAMES)):
        ddl.drop_live_view(bind, name)
        op.drop_table(name)
