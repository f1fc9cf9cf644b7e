"""Each distinct command stored once: the ``strings`` dictionary.

``strings`` holds each distinct text once (id, 16-byte SHA-256 digest, text;
``cowrieprocessor/db/strings.py``). ``command_stats.command`` becomes ``command_id``,
``daily_commands`` (v2) is keyed on ``command_id`` and ``period_values`` (v2, with
``period_sources`` v2) gets ``value_id``: a command's id, with ``value`` ''; 0 for the
other figures, which keep their text in ``value``. A command was stored about six times
before (command_stats, daily_commands and its key index, period_values weekly and monthly
and their indexes); it is now stored once, plus its digest index.

The existing commands are interned in SQL (the digest is computed by PostgreSQL's
``sha256`` or by a SQLite function registered on the migration's connection, the same
bytes as the library's), and the two rollups are rebuilt from their new live views.
Downgrading puts the texts back and drops ``strings``. On SQLite the pages freed stay in
the file (later loads reuse them) until a ``VACUUM``, which cannot run in a migration's
transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.rollups import ddl

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST_BYTES = 16
TOP_INDEX = "rc_period_values_top"
COMMANDS_VALUES = ["occurrences", "sessions"]


def _bucket() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
    ]


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "strings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.LargeBinary(DIGEST_BYTES), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_strings"),
        sa.UniqueConstraint("digest", name="uq_strings_digest"),
    )
    _drop_views(bind)
    digest = _digest_sql(bind)
    bind.exec_driver_sql(
        "INSERT INTO strings (digest, text)"
        f" SELECT {digest.format('command')}, command FROM command_stats GROUP BY command"
    )
    op.add_column("command_stats", sa.Column("command_id", sa.Integer()))
    bind.exec_driver_sql(
        "UPDATE command_stats SET command_id ="
        f" (SELECT s.id FROM strings AS s WHERE s.digest = {digest.format('command')})"
    )
    with op.batch_alter_table("command_stats") as batch:
        batch.drop_column("command")
        batch.alter_column("command_id", existing_type=sa.Integer(), nullable=False)
    _commands_table(bind, sa.Column("command_id", sa.Integer(), nullable=False), version=2)
    _period_table(bind, version=2)


def downgrade() -> None:
    bind = op.get_bind()
    _drop_views(bind)
    op.add_column("command_stats", sa.Column("command", sa.Text()))
    bind.exec_driver_sql(
        "UPDATE command_stats SET command ="
        " (SELECT s.text FROM strings AS s WHERE s.id = command_stats.command_id)"
    )
    with op.batch_alter_table("command_stats") as batch:
        batch.drop_column("command_id")
        batch.alter_column("command", existing_type=sa.Text(), nullable=False)
    _commands_table(bind, sa.Column("command", sa.Text(), nullable=False), version=1)
    _period_table(bind, version=1)
    op.drop_table("strings")


def _drop_views(bind: sa.Connection) -> None:
    """The views reading what changes (SQLite cannot alter a table a view reads)."""
    ddl.drop_live_view(bind, "period_values")
    ddl.drop_view(bind, "period_sources")
    ddl.drop_live_view(bind, "daily_commands")


def _digest_sql(bind: sa.Connection) -> str:
    """SQL computing ``db/strings.py``'s digest of the column ``{}``."""
    if bind.dialect.name == "postgresql":
        return f"substring(sha256(convert_to({{}}, 'UTF8')) FROM 1 FOR {DIGEST_BYTES})"
    raw = bind.connection.driver_connection
    assert raw is not None
    raw.create_function(
        "strings_digest",
        1,
        lambda text: hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES],
        deterministic=True,
    )
    return "strings_digest({})"


def _commands_table(bind: sa.Connection, key: sa.Column, version: int) -> None:  # type: ignore[type-arg]
    """Rebuild ``daily_commands`` at ``version`` (its key column ``key``) and fill it."""
    op.drop_table("daily_commands")
    op.create_table("daily_commands", *_bucket(), key, *map(_count, COMMANDS_VALUES))
    hashed = (key.name,) if isinstance(key.type, sa.Text) else ()
    ddl.create_key_index(bind, "daily_commands", ["day", "sensor", key.name], hashed)
    ddl.create_live_view(bind, "daily_commands", version)
    ddl.fill(bind, "daily_commands", ["day", "sensor", key.name, *COMMANDS_VALUES])


def _period_table(bind: sa.Connection, version: int) -> None:
    """Rebuild ``period_values`` at ``version`` (v2 adds ``value_id``), its views and
    indexes, and fill it from the daily rollup tables."""
    key = ["kind", "period_start", "figure", "sensor", "value"]
    extra = [sa.Column("value_id", sa.Integer(), nullable=False)] if version > 1 else []
    key += [c.name for c in extra]
    op.drop_table("period_values")
    op.create_table(
        "period_values",
        sa.Column("kind", sa.String(7), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        *extra,
        sa.Column("total", sa.BigInteger(), nullable=False),
    )
    ddl.create_key_index(bind, "period_values", key, ("value",))
    tail = ["total DESC"] if bind.dialect.name == "postgresql" else ["total DESC", "value"]
    tail += [c.name for c in extra]
    bind.exec_driver_sql(
        f"CREATE INDEX {TOP_INDEX} ON period_values"
        f" (kind, period_start, figure, sensor, {', '.join(tail)})"
    )
    ddl.create_view(bind, "period_sources", "period_sources", version)
    ddl.create_live_view(bind, "period_values", version)
    ddl.fill(bind, "period_values", [*key, "total"])
