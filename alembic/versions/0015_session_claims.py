"""Loaders that scale out on PostgreSQL: per-session-id claims instead of one lock per batch.

``session_claims`` holds, only inside a PostgreSQL batch transaction, one row per session
id the batch touches; the batch deletes them before it commits. Concurrent loaders thus
take turns per session id (a second insert of the same id waits on the unique index)
instead of on one advisory lock held across each whole batch. SQLite, one writer at a
time, never uses it. Nothing else changes, so downgrading only drops the table.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_claims",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_claims"),
    )


def downgrade() -> None:
    op.drop_table("session_claims")
