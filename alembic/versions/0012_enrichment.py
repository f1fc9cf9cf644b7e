"""Enrichment store and its rollups.

Tables keyed by indicator and provider: ip_enrichment (source IPs), file_enrichment
(SHA-256), url_enrichment (download URLs; unique on (md5(url), provider) on PostgreSQL,
whose btree cannot hold a long URL) with url_enrichment_tags, and enrichment_requests
(every request sent, so rate windows and daily budgets hold across runs). An index on
session_summaries (src_ip, first_day) finds the sessions, hence the buckets, of an IP whose
enrichment changed, and the IPs still to look up, most recent first.

Rollups: daily_enrichment (flagged, tunnelled, anonymous, benign-scanner sessions),
daily_enrichment_values (country, AS, SPUR, GreyNoise, URLhaus top lists) and
daily_recent_vt_sessions, filled here from their live views; daily_files v3 takes the
VirusTotal label of the enrichment when Cowrie logged no verdict. With no enrichment rows
yet its rows equal v2's, so only the live view is replaced.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cowrieprocessor.db.types import JSONDocument, UTCDateTime
from cowrieprocessor.rollups import ddl

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_URL_KEY = "rk_url_enrichment"
_ROLLUPS = {
    "daily_enrichment": (
        ("day", "sensor"),
        (
            "vt_flagged_sessions",
            "dshield_flagged_sessions",
            "tunnel_sessions",
            "anonymous_sessions",
            "benign_scanner_sessions",
        ),
    ),
    "daily_enrichment_values": (("day", "sensor", "figure", "value"), ("total",)),
    "daily_recent_vt_sessions": (("day", "sensor", "session_id"), ("files",)),
}


def _common() -> list[sa.Column]:
    return [
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("source", sa.String(200)),
        sa.Column("raw", JSONDocument),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime()),
    ]


def _rollup_columns(name: str) -> list[sa.Column]:
    extra = {
        "daily_enrichment_values": [
            sa.Column("figure", sa.String(32), nullable=False),
            sa.Column("value", sa.String(200), nullable=False),
        ],
        "daily_recent_vt_sessions": [sa.Column("session_id", sa.String(64), nullable=False)],
    }.get(name, [])
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sensor", sa.String(255), nullable=False),
        *extra,
        *[sa.Column(v, sa.BigInteger(), nullable=False) for v in _ROLLUPS[name][1]],
    ]


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "ip_enrichment",
        sa.Column("src_ip", sa.String(64), nullable=False),
        *_common(),
        sa.Column("country", sa.String(2)),
        sa.Column("country_name", sa.String(200)),
        sa.Column("asn", sa.BigInteger()),
        sa.Column("as_name", sa.String(200)),
        sa.Column("as_label", sa.String(200)),
        sa.Column("flagged", sa.Boolean()),
        sa.Column("reports", sa.BigInteger()),
        sa.Column("classification", sa.String(200)),
        sa.Column("tunnel", sa.Boolean()),
        sa.Column("anonymous", sa.Boolean()),
        sa.Column("noise", sa.Boolean()),
        sa.Column("riot", sa.Boolean()),
        sa.PrimaryKeyConstraint("src_ip", "provider", name="pk_ip_enrichment"),
    )
    op.create_table(
        "file_enrichment",
        sa.Column("shasum", sa.String(128), nullable=False),
        *_common(),
        sa.Column("label", sa.String(200)),
        sa.Column("malicious", sa.Integer()),
        sa.Column("engines", sa.Integer()),
        sa.Column("first_submitted_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("shasum", "provider", name="pk_file_enrichment"),
    )
    op.create_table(
        "url_enrichment",
        sa.Column("url", sa.Text(), nullable=False),
        *[c for c in _common() if c.name != "provider"],
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("url_status", sa.String(32)),
        sa.Column("threat", sa.String(200)),
        sa.Column("tags", JSONDocument),
    )
    url = "md5(url)" if pg else "url"
    bind.exec_driver_sql(f"CREATE UNIQUE INDEX {_URL_KEY} ON url_enrichment ({url}, provider)")
    op.create_table(
        "url_enrichment_tags",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("tag", sa.String(200), nullable=False),
    )
    op.create_index(
        "ix_url_enrichment_tags_provider_tag", "url_enrichment_tags", ["provider", "tag"]
    )
    # A hash index has no size limit on PostgreSQL (a btree entry must fit a third of a page).
    op.create_index(
        "ix_url_enrichment_tags_url", "url_enrichment_tags", ["url"], postgresql_using="hash"
    )
    op.create_table(
        "enrichment_requests",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_enrichment_requests_provider_sent_at", "enrichment_requests", ["provider", "sent_at"]
    )
    op.create_index(
        "ix_session_summaries_src_ip_first_day", "session_summaries", ["src_ip", "first_day"]
    )

    for name, (key, values) in _ROLLUPS.items():
        op.create_table(name, *_rollup_columns(name))
        ddl.create_key_index(bind, name, key)
        ddl.create_live_view(bind, name, 1)
        ddl.fill(bind, name, [*key, *values])
    ddl.drop_live_view(bind, "daily_files")
    ddl.create_live_view(bind, "daily_files", 3)


def downgrade() -> None:
    bind = op.get_bind()
    ddl.drop_live_view(bind, "daily_files")
    ddl.create_live_view(bind, "daily_files", 2)
    for name in reversed(list(_ROLLUPS)):
        ddl.drop_live_view(bind, name)
        op.drop_table(name)
    op.drop_index("ix_session_summaries_src_ip_first_day", table_name="session_summaries")
    op.drop_table("enrichment_requests")
    op.drop_table("url_enrichment_tags")
    op.drop_table("url_enrichment")
    op.drop_table("file_enrichment")
    op.drop_table("ip_enrichment")
