"""Base schema: raw events, session summaries, command stats, files, ingest state.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "raw_events",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("event_hash", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        _ts("event_timestamp"),
        sa.Column("src_ip", sa.String(64)),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("source", sa.Text()),
        sa.Column("source_offset", sa.BigInteger()),
        _ts("ingested_at"),
        sa.PrimaryKeyConstraint("id", name="pk_raw_events"),
        sa.UniqueConstraint(
            "event_timestamp", "event_hash", name="uq_raw_events_event_timestamp_event_hash"
        ),
    )
    op.create_index("ix_raw_events_sensor_session_id", "raw_events", ["sensor", "session_id"])

    op.create_table(
        "session_summaries",
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("src_ip", sa.String(64)),
        sa.Column("protocol", sa.String(16)),
        _ts("first_event_at"),
        sa.Column("first_day", sa.Date(), nullable=False),
        _ts("last_event_at"),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("client_version", sa.Text()),
        sa.Column("hassh", sa.String(64)),
        sa.Column("login_attempts", sa.Integer(), nullable=False),
        sa.Column("login_successes", sa.Integer(), nullable=False),
        sa.Column("username", sa.Text()),
        sa.Column("password", sa.Text()),
        sa.Column("command_count", sa.Integer(), nullable=False),
        sa.Column("file_downloads", sa.Integer(), nullable=False),
        sa.Column("file_uploads", sa.Integer(), nullable=False),
        sa.Column("vt_flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dshield_flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enrichment", JSON_DOC, server_default=sa.text("'{}'"), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("sensor", "session_id", name="pk_session_summaries"),
    )
    op.create_index("ix_session_summaries_first_event_at", "session_summaries", ["first_event_at"])
    op.create_index(
        "ix_session_summaries_first_day_sensor", "session_summaries", ["first_day", "sensor"]
    )

    op.create_table(
        "command_stats",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.PrimaryKeyConstraint("id", name="pk_command_stats"),
    )
    op.create_index("ix_command_stats_sensor_session_id", "command_stats", ["sensor", "session_id"])

    op.create_table(
        "files",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("shasum", sa.String(128)),
        sa.Column("outfile", sa.Text()),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        _ts("first_seen"),
        sa.Column("vt_positives", sa.Integer()),
        sa.Column("vt_total", sa.Integer()),
        sa.Column("vt_label", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
    )
    op.create_index("ix_files_sensor_session_id", "files", ["sensor", "session_id"])
    op.create_index("ix_files_shasum", "files", ["shasum"])

    op.create_table(
        "ingest_sources",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("inode", sa.BigInteger()),
        sa.Column("device", sa.BigInteger()),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("first_line_hash", sa.String(32)),
        _ts("last_run_at"),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_sources"),
        sa.UniqueConstraint("path", name="uq_ingest_sources_path"),
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        _ts("first_seen"),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint("source", "source_offset", name="uq_dead_letters_source_source_offset"),
    )
    op.create_index("ix_dead_letters_reason", "dead_letters", ["reason"])


def downgrade() -> None:
    for table in (
        "dead_letters",
        "ingest_sources",
        "files",
        "command_stats",
        "session_summaries",
        "raw_events",
    ):
        op.drop_table(table)
