"""Retention: the day before which raw events were pruned (``cowrie-report prune``).

One row in ``retention`` (id 1): ``raw_before`` is the watermark (the days before it are
frozen: their rollups are kept as they are, never recomputed or checked against the live
views, and events for them are set aside as ``pruned_day`` dead letters), and
``raw_deleted_before`` how far the deletion of raw events has come (an interrupted prune
leaves it behind ``raw_before``; the next one finishes). The row exists from the start so
that loaders can lock it (``FOR SHARE``) against a prune moving the watermark.

Downgrading drops the table: older code knows nothing of pruned days, and a full rebuild
there would recompute them from raw events that are gone (docs/retention.md).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    retention = op.create_table(
        "retention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_before", sa.Date(), nullable=True),
        sa.Column("raw_deleted_before", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention")),
    )
    op.bulk_insert(retention, [{"id": 1, "raw_before": None, "raw_deleted_before": None}])


def downgrade() -> None:
    op.drop_table("retention")
