"""daily_files v2: add the VirusTotal label to the key (VT classifications in reports).

Replacing a view on SQLite is drop-then-create (no OR REPLACE, no CASCADE), and the rollup
table changes its key, so both are rebuilt and refilled from the new view. Downgrade
restores version 1 the same way.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "daily_files"


def _key(with_label: bool) -> list[sa.Column]:
    columns = [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("shasum", sa.String(128), nullable=False),
    ]
    if with_label:
        columns.append(sa.Column("vt_label", sa.Text(), nullable=False))
    return columns


def _rebuild(version: int) -> None:
    bind = op.get_bind()
    with_label = version >= 2
    # Dependents first: nothing reads daily_files_live but the refresh, so only the view
    # itself and the table it fills.
    ddl.drop_live_view(bind, NAME)
    op.drop_table(NAME)
    key = _key(with_label)
    op.create_table(
        NAME,
        *key,
        sa.Column("transfers", sa.BigInteger(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
    )
    key_names = [c.name for c in key]
    ddl.create_key_index(bind, NAME, key_names, ("url", "vt_label") if with_label else ("url",))
    ddl.create_live_view(bind, NAME, version)
    ddl.fill(bind, NAME, [*key_names, "transfers", "sessions"])


def upgrade() -> None:
    _rebuild(2)


def downgrade() -> None:
    _rebuild(1)
