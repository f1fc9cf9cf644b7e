"""Covering indexes on daily_files for the report's top hashes, URLs and VT labels.

daily_files has one row per (direction, url, shasum, vt_label) and bucket, ten or so per
distinct file; a top list groups one of those columns over the window's rows. An index on
(day, sensor, <column>, transfers) lets SQLite read just those columns from the index
instead of looking every row up in the table (about 3x faster on a month). url and vt_label
are unbounded text, which a PostgreSQL btree entry cannot always hold (and PostgreSQL plans
these queries are not what this is about): their indexes are SQLite only. Like the rk_ key
indexes they are not in the models (they differ by dialect): rc_ names, ignored by the
autogenerate check (alembic/env.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: index name -> (columns, SQLite only)
INDEXES = {
    "rc_daily_files_shasum": (["day", "sensor", "shasum", "transfers"], False),
    "rc_daily_files_url": (["day", "sensor", "direction", "url", "transfers"], True),
    "rc_daily_files_vt_label": (["day", "sensor", "vt_label", "transfers"], True),
}


def _wanted() -> dict[str, list[str]]:
    sqlite = op.get_bind().dialect.name == "sqlite"
    return {
        name: cols for name, (cols, sqlite_only) in INDEXES.items() if sqlite or not sqlite_only
    }


def upgrade() -> None:
    for name, columns in _wanted().items():
        op.create_index(name, "daily_files", columns)


def downgrade() -> None:
    for name in reversed(list(_wanted())):
        op.drop_index(name, table_name="daily_files")
