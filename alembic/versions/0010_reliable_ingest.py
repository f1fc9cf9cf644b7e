"""Reliable ingest: cursors that know whether a file was read to its end; events without a
sensor in the session that names one.

ingest_sources gets ``complete`` (the last read reached the end of the file) and
``tail_hash`` (the last line before the cursor, checked before resuming there). Before,
a compressed file of unchanged size counted as read whatever its cursor said, so one
interrupted part-way was never finished. Existing cursors of compressed files are marked
incomplete: the next ingest resumes each at its cursor (decompressing up to there), which
finishes those left part-way and reads nothing new from the others. A plain file counts as
complete when its cursor reached its size.

An event without a sensor now belongs to the session of its session id whose events name
one (ingest/placement.py; docs/report-schema.md). raw_events gets ``fallback_sensor`` (the
sensor such an event would otherwise have) and session_summaries an index on session_id
(the sessions of one id on every sensor). Databases loaded before held each such event in
a session of its own, ``(unknown or --sensor, session id)``: their sessions of a shared
session id are placed again here, with the library's placement and SessionFacts (this
migration must therefore run with the code whose session_summaries columns it creates);
the buckets concerned are marked dirty and the next refresh recomputes them. Downgrading
keeps the merged sessions as they are (older code reads them fine).

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.ingest import placement

revision: str = "0010"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_sources = sa.table(
    "ingest_sources",
    sa.column("path", sa.Text()),
    sa.column("size", sa.BigInteger()),
    sa.column("offset", sa.BigInteger()),
    sa.column("complete", sa.Boolean()),
)


def upgrade() -> None:
    op.add_column(
        "ingest_sources",
        sa.Column("complete", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("ingest_sources", sa.Column("tail_hash", sa.String(32)))
    compressed = _sources.c.path.like("%.gz") | _sources.c.path.like("%.bz2")
    op.execute(
        _sources.update()
        .where(_sources.c.offset >= _sources.c.size, ~compressed)
        .values(complete=True)
    )
    op.add_column("raw_events", sa.Column("fallback_sensor", sa.String(255)))
    op.create_index("ix_session_summaries_session_id", "session_summaries", ["session_id"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    placement.place_shared_ids(op.get_bind(), stamp)


def downgrade() -> None:
    op.drop_index("ix_session_summaries_session_id", table_name="session_summaries")
    op.drop_column("raw_events", "fallback_sensor")
    op.drop_column("ingest_sources", "tail_hash")
    op.drop_column("ingest_sources", "complete")
