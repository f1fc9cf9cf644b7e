"""Reliable ingest: cursors that know whether a file was read to its end.

ingest_sources gets ``complete`` (the last read reached the end of the file) and
``tail_hash`` (the last line before the cursor, checked before resuming there). Before,
a compressed file of unchanged size counted as read whatever its cursor said, so one
interrupted part-way was never finished. Existing cursors of compressed files are marked
incomplete: the next ingest resumes each at its cursor (decompressing up to there), which
finishes those left part-way and reads nothing new from the others. A plain file counts as
complete when its cursor reached its size.

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    op.drop_column("ingest_sources", "tail_hash")
    op.drop_column("ingest_sources", "complete")
