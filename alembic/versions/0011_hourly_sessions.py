"""hourly_sessions: session figures per UTC hour of the first event, per bucket.

The HTML report draws sessions per hour (daily) and a day x hour heatmap (weekly, monthly).
Like every daily rollup it is the view sql/views/hourly_sessions_v1.<dialect>.sql, installed
as the live view and as a table keyed by (day, sensor, hour) that bucket refreshes keep equal
to it; filled here on a populated database.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "hourly_sessions"
KEY = ["day", "sensor", "hour"]
VALUES = ["sessions", "login_attempts", "login_successes", "commands", "downloads"]


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        NAME,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in VALUES],
    )
    ddl.create_key_index(bind, NAME, KEY)
    ddl.create_live_view(bind, NAME, 1)
    ddl.fill(bind, NAME, [*KEY, *VALUES])


def downgrade() -> None:
    bind = op.get_bind()
    ddl.drop_live_view(bind, NAME)
    op.drop_table(NAME)
