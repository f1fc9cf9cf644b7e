"""Rollups: dirty marks, live views (sql/views/*_v1.sql) and the rollup tables.

Each rollup exists twice: the plain view ``<name>_live`` and the table ``<name>`` (same
columns, unique key index ``rk_<name>``) that refreshes keep equal to it bucket by bucket.
On a populated database the tables are filled once here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _text(name: str, type_: sa.types.TypeEngine | None = None) -> sa.Column:
    return sa.Column(name, type_ if type_ is not None else sa.Text(), nullable=False)


def rollups_v1() -> dict[str, tuple[list, list, tuple]]:
    """name -> (extra key columns, value columns, key columns md5-indexed on PostgreSQL).

    Every table starts with (day, sensor). Version 1 of every view. Fresh columns per call.
    """
    return {
        "daily_sessions": (
            [],
            [
                _count("sessions"),
                _count("sessions_with_login"),
                _count("sessions_with_commands"),
                _count("sessions_with_downloads"),
                _count("commands_sum"),
                sa.Column("commands_min", sa.Integer(), nullable=False),
                sa.Column("commands_max", sa.Integer(), nullable=False),
                _count("duration_us_sum"),
                _count("login_attempts"),
                _count("login_successes"),
                _count("downloads"),
                _count("uploads"),
                _count("vt_flagged_sessions"),
                _count("dshield_flagged_sessions"),
            ],
            (),
        ),
        "daily_commands": (
            [_text("command")],
            [_count("occurrences"), _count("sessions")],
            ("command",),
        ),
        "daily_files": (
            [_text("direction", sa.String(8)), _text("url"), _text("shasum", sa.String(128))],
            [_count("transfers"), _count("sessions")],
            ("url",),
        ),
        "daily_credentials": (
            [_text("username"), _text("password")],
            [_count("attempts"), _count("successes")],
            ("username", "password"),
        ),
        "daily_src_ips": ([_text("src_ip", sa.String(64))], [_count("sessions")], ()),
        "daily_protocols": ([_text("protocol", sa.String(16))], [_count("sessions")], ()),
        "daily_client_versions": (
            [_text("client_version")],
            [_count("sessions")],
            ("client_version",),
        ),
        "daily_hassh": ([_text("hassh", sa.String(64))], [_count("sessions")], ()),
    }


def create_rollup(name: str, version: int, key: list, values: list, hashed: tuple) -> None:
    """Table, key index and live view of one rollup, filled from the view."""
    bind = op.get_bind()
    op.create_table(
        name,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        *key,
        *values,
    )
    key_names = ["day", "sensor", *[c.name for c in key]]
    ddl.create_key_index(bind, name, key_names, hashed)
    ddl.create_live_view(bind, name, version)
    ddl.fill(bind, name, key_names + [c.name for c in values])


def drop_rollup(name: str) -> None:
    """Live view first (it reads the base tables), then the table with its index."""
    ddl.drop_live_view(op.get_bind(), name)
    op.drop_table(name)


def upgrade() -> None:
    op.create_table(
        "rollup_dirty",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "sensor", name="pk_rollup_dirty"),
    )
    for name, (key, values, hashed) in rollups_v1().items():
        create_rollup(name, 1, key, values, hashed)


def downgrade() -> None:
    for name in reversed(list(rollups_v1())):
        drop_rollup(name)
    op.drop_table("rollup_dirty")
