"""Enrichment store: what providers said about indicators (source IPs, file hashes, URLs).

Plain Core tables on the shared MetaData (Alembic sees them through ``models.py``), keyed by
the indicator text and the provider, so one lookup serves every session, on every sensor,
that used the indicator. Each row keeps the normalised fields the rollups read, the raw
answer (bounded), the status (``ok``, ``not_found``, ``error`` with ``reason``), and when
it was fetched and expires. The rollup views (``sql/views/daily_enrichment_*``) join
``session_summaries.src_ip`` and ``files.shasum`` / ``files.url`` to them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from cowrieprocessor.db import limits
from cowrieprocessor.db.tables import METADATA
from cowrieprocessor.db.types import JSONDocument, UTCDateTime

PROVIDER = 16
STATUS = 12
REASON = 200
SOURCE = 200
COUNTRY = 2
#: Longest label, class, threat or tag kept (longer ones are cut: attacker-influenced data).
LABEL = 200


def _common() -> list[Column[Any]]:
    return [
        Column("provider", String(PROVIDER), primary_key=True),
        Column("status", String(STATUS), nullable=False),
        Column("reason", String(REASON)),
        #: The data behind the answer (offline data file and its date; an API's name).
        Column("source", String(SOURCE)),
        Column("raw", JSONDocument),
        Column("fetched_at", UTCDateTime, nullable=False),
        #: When to look it up again; null: never by age (offline data: when its source changes).
        Column("expires_at", UTCDateTime),
    ]


ip_enrichment = Table(
    "ip_enrichment",
    METADATA,
    Column("src_ip", String(limits.SRC_IP), primary_key=True),
    *_common(),
    Column("country", String(COUNTRY)),
    Column("country_name", String(LABEL)),
    Column("asn", BigInteger),
    Column("as_name", String(LABEL)),
    #: The AS as reports show it: ``AS<number> <name>``, or the name where no number is known.
    Column("as_label", String(LABEL)),
    #: DShield: the IP was reported (see docs/report-schema.md for the exact rule).
    Column("flagged", Boolean),
    Column("reports", BigInteger),
    #: SPUR infrastructure class, or GreyNoise classification.
    Column("classification", String(LABEL)),
    Column("tunnel", Boolean),
    Column("anonymous", Boolean),
    Column("noise", Boolean),
    Column("riot", Boolean),
)

file_enrichment = Table(
    "file_enrichment",
    METADATA,
    Column("shasum", String(limits.SHASUM), primary_key=True),
    *_common(),
    #: VirusTotal suggested threat label, or the URLhaus payload signature.
    Column("label", String(LABEL)),
    Column("malicious", Integer),
    Column("engines", Integer),
    Column("first_submitted_at", UTCDateTime),
)

url_enrichment = Table(
    "url_enrichment",
    METADATA,
    # Unbounded text, unique with the provider: rk_url_enrichment (md5(url) on PostgreSQL)
    # is created by the migration, like the rollup key indexes.
    Column("url", Text, nullable=False),
    *[c for c in _common() if c.name != "provider"],
    Column("provider", String(PROVIDER), nullable=False),
    Column("url_status", String(32)),
    Column("threat", String(LABEL)),
    Column("tags", JSONDocument),
)

#: URLhaus tags of a URL, one row each (the tag top list groups them).
url_tags = Table(
    "url_enrichment_tags",
    METADATA,
    Column("url", Text, nullable=False),
    Column("provider", String(PROVIDER), nullable=False),
    Column("tag", String(LABEL), nullable=False),
    Index(None, "provider", "tag"),
    # Hash on PostgreSQL: no size limit on the URL (a btree entry must fit a third of a page).
    Index(None, "url", postgresql_using="hash"),
)

#: One row per HTTP request sent to a provider: rate windows and daily budgets hold across
#: runs (a row is written before its request leaves).
enrichment_requests = Table(
    "enrichment_requests",
    METADATA,
    Column("provider", String(PROVIDER), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Index(None, "provider", "sent_at"),
)

TABLES = {"ip": ip_enrichment, "file": file_enrichment, "url": url_enrichment}
KEYS = {"ip": "src_ip", "file": "shasum", "url": "url"}
