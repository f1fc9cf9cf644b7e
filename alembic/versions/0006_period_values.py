"""period_values: top-list figures summed per ISO week and calendar month.

Weekly and monthly top lists (user:pass combinations, source IPs, passwords, commands,
hashes, URLs, VT labels) and their distinct counts grouped every key of every day of the
window in the daily rollups. period_values holds one row per (kind, period_start, figure,
sensor, value) with the period's total, and an index in top-list order, so a whole week or
month reads its first rows and counts one index range. It is defined over the daily rollup
tables (view period_sources, then period_values_live) and kept by difference when a bucket
is refreshed (rollups/refresh.py). Like the rk_ key index, the rc_ top-list index differs
by dialect (PostgreSQL cannot index unbounded text: there it stops at total and the value
order is an incremental sort) and is not in the models. Filled here on a populated database.

Views over the daily rollup tables: a later migration that rebuilds one of those tables
must drop period_values_live and period_sources first and recreate them after.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["kind", "period_start", "figure", "sensor", "value"]
TOP_INDEX = "rc_period_values_top"


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "period_values",
        sa.Column("kind", sa.String(7), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
    )
    ddl.create_key_index(bind, "period_values", KEY, ("value",))
    tail = "total DESC" if bind.dialect.name == "postgresql" else "total DESC, value"
    bind.exec_driver_sql(
        f"CREATE INDEX {TOP_INDEX} ON period_values (kind, period_start, figure, sensor, {tail})"
    )
    ddl.create_view(bind, "period_sources", "period_sources", 1)
    ddl.create_live_view(bind, "period_values", 1)
    ddl.fill(bind, "period_values", [*KEY, "total"])


def downgrade() -> None:
    bind = op.get_bind()
    ddl.drop_live_view(bind, "period_values")
    ddl.drop_view(bind, "period_sources")
    op.drop_table("period_values")
