"""daily_command_counts and an index for the report's uncommon_command_sessions.

abnormalities.uncommon_command_sessions lists sessions whose command count is among the
rarer two thirds of the window's command-count values (docs/report-schema.md). The rollup
daily_command_counts (sessions per command count and bucket) says how common each value is;
the index rc_session_summaries_command_count then finds the first sessions having one value
in the window in report order (day, sensor, session id: code-point order, hence COLLATE "C"
on PostgreSQL), without reading the window's other sessions. Like the other rc_ indexes it
differs by dialect and is not in the models. Filled here on a populated database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "rc_session_summaries_command_count"


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "daily_command_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("command_count", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
    )
    key = ["day", "sensor", "command_count"]
    ddl.create_key_index(bind, "daily_command_counts", key)
    ddl.create_live_view(bind, "daily_command_counts", 1)
    ddl.fill(bind, "daily_command_counts", [*key, "sessions"])
    c = ' COLLATE "C"' if bind.dialect.name == "postgresql" else ""
    bind.exec_driver_sql(
        f"CREATE INDEX {INDEX} ON session_summaries"
        f" (command_count, first_day, sensor{c}, session_id{c})"
    )


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(INDEX, table_name="session_summaries")
    ddl.drop_live_view(bind, "daily_command_counts")
    op.drop_table("daily_command_counts")
