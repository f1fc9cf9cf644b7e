"""A partial index on raw_events for the login events of a session.

The credential rollups (daily_credentials and its halves) read the login events of each
session of a bucket. Through the (sensor, session_id) index they read every event of the
session and discard four in five; this index holds only login events, so a refresh reads
just those rows. Built here on a populated database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from the models: a migration must not change after the fact.
LOGIN_EVENTS = "event_type IN ('cowrie.login.success', 'cowrie.login.failed')"


def upgrade() -> None:
    op.create_index(
        "ix_raw_events_logins",
        "raw_events",
        ["sensor", "session_id"],
        sqlite_where=sa.text(LOGIN_EVENTS),
        postgresql_where=sa.text(LOGIN_EVENTS),
    )


def downgrade() -> None:
    op.drop_index("ix_raw_events_logins", table_name="raw_events")
