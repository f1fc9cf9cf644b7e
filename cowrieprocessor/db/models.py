"""SQLAlchemy ORM models: the schema that the Alembic migrations create."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cowrieprocessor.db import enrichment as _enrichment  # noqa: F401 - its tables, for Alembic
from cowrieprocessor.db import limits
from cowrieprocessor.db import strings as _strings  # noqa: F401 - its table, for Alembic
from cowrieprocessor.db.tables import METADATA
from cowrieprocessor.db.types import BigId, JSONDocument, UTCDateTime

# The rollup tables join METADATA when their definitions load: Alembic compares them too.
from cowrieprocessor.rollups import definitions as _rollups  # noqa: F401  # isort: skip


class Base(DeclarativeBase):
    """Declarative base on the shared metadata (``db/tables.py``: the naming convention that
    names constraints stably in migrations; the rollup tables of ``rollups/definitions.py``)."""

    metadata = METADATA

    if TYPE_CHECKING:  # every model here is declared with columns, so it maps a Table
        __table__: ClassVar[Table]


#: The predicate of the partial index on login events (the credential rollups' filter).
LOGIN_EVENTS = "event_type IN ('cowrie.login.success', 'cowrie.login.failed')"


class RawEvent(Base):
    """One distinct Cowrie event; ``event_hash`` makes re-ingest and duplicates harmless.

    The hash (BLAKE2b-128 of the whole event's canonical JSON, 16 bytes) covers the
    timestamp, so the primary key (event_timestamp, event_hash) is unique exactly when the
    hash is. It leads with the timestamp because logs arrive roughly in time order: inserts
    land at the recent end of the index, which keeps bulk loads fast as history grows; and
    on PostgreSQL the table is partitioned by month on it (``db/partitions.py``).

    ``payload`` holds the event without the fields these columns hold
    (``ingest/stored.py`` puts it back together); ``json`` text on PostgreSQL, not
    ``jsonb``: stored as written (smaller), read by only a few rollups.
    """

    __tablename__ = "raw_events"

    event_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(limits.SESSION_ID))
    sensor: Mapped[str] = mapped_column(String(limits.SENSOR))
    event_type: Mapped[str] = mapped_column(String(limits.EVENT_TYPE))
    src_ip: Mapped[str | None] = mapped_column(String(limits.SRC_IP))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: ``event_sources.id`` of the file the event was first read from.
    source_id: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: An event that names no sensor: the sensor it falls back to (its ``--sensor``, or
    #: ``unknown``), wherever ``ingest/placement.py`` puts it. NULL for an event that names
    #: its sensor (its ``sensor`` column is then the one it names).
    fallback_sensor: Mapped[str | None] = mapped_column(String(limits.SENSOR))
    #: The event's ``uuid`` string (Cowrie's instance id, on every event of a sensor) as its
    #: id in ``strings``; NULL when it has none (or a ``uuid`` that is not a string, which
    #: stays in the payload).
    instance_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index(None, "sensor", "session_id"),
        # The login events of a session, for the credential rollups (a fifth of all events).
        Index(
            "ix_raw_events_logins",
            "sensor",
            "session_id",
            sqlite_where=text(LOGIN_EVENTS),
            postgresql_where=text(LOGIN_EVENTS),
        ),
        {"postgresql_partition_by": "RANGE (event_timestamp)"},
    )


class EventSource(Base):
    """A file events were read from, named once (``raw_events.source_id``)."""

    __tablename__ = "event_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)


class SessionSummary(Base):
    """Per-session figures, recomputed from the session's events whenever they change."""

    __tablename__ = "session_summaries"

    sensor: Mapped[str] = mapped_column(String(limits.SENSOR), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(limits.SESSION_ID), primary_key=True)
    src_ip: Mapped[str | None] = mapped_column(String(limits.SRC_IP))
    protocol: Mapped[str | None] = mapped_column(String(limits.PROTOCOL))
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: UTC day of the first event: the day (and report window) the session belongs to.
    first_day: Mapped[date] = mapped_column(Date)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float] = mapped_column(Float)
    client_version: Mapped[str | None] = mapped_column(Text)
    hassh: Mapped[str | None] = mapped_column(String(limits.HASSH))
    login_attempts: Mapped[int] = mapped_column(Integer)
    login_successes: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(Text)
    password: Mapped[str | None] = mapped_column(Text)
    command_count: Mapped[int] = mapped_column(Integer)
    file_downloads: Mapped[int] = mapped_column(Integer)
    file_uploads: Mapped[int] = mapped_column(Integer)
    vt_flagged: Mapped[bool] = mapped_column(Boolean, server_default=false())
    dshield_flagged: Mapped[bool] = mapped_column(Boolean, server_default=false())
    enrichment: Mapped[dict[str, Any]] = mapped_column(JSONDocument, server_default=text("'{}'"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "first_event_at"),
        Index(None, "first_day", "sensor"),
        # The sessions of an IP whose enrichment changed: their buckets are marked dirty.
        Index(None, "src_ip", "first_day"),
        # The sessions of a session id on every sensor (where an event without sensor goes).
        Index(None, "session_id"),
    )


class CommandStat(Base):
    """How often a session ran one command (``cowrie.command.input``); the command's text is
    in ``strings`` (``db/strings.py``), stored once however many sessions ran it."""

    __tablename__ = "command_stats"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sensor: Mapped[str] = mapped_column(String(limits.SENSOR))
    session_id: Mapped[str] = mapped_column(String(limits.SESSION_ID))
    command_id: Mapped[int] = mapped_column(Integer)
    occurrences: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "sensor", "session_id"),)


class FileTransfer(Base):
    """A file downloaded into or uploaded to a session, with VirusTotal verdicts when known."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sensor: Mapped[str] = mapped_column(String(limits.SENSOR))
    session_id: Mapped[str] = mapped_column(String(limits.SESSION_ID))
    direction: Mapped[str] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(Text)
    shasum: Mapped[str | None] = mapped_column(String(limits.SHASUM))
    outfile: Mapped[str | None] = mapped_column(Text)
    occurrences: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    vt_positives: Mapped[int | None] = mapped_column(Integer)
    vt_total: Mapped[int | None] = mapped_column(Integer)
    vt_label: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "sensor", "session_id"), Index(None, "shasum"))


class IngestSource(Base):
    """Read position of one log file, so the next run reads only what was appended.

    ``offset`` counts bytes of the (decompressed) stream; ``complete`` says the last read
    reached the end of the file (not stopped by a crash, Ctrl-C or a read error), which then
    had ``size`` bytes (the compressed size for ``.gz`` / ``.bz2``); ``tail_hash`` identifies
    the last line before ``offset``, checked before resuming there.
    """

    __tablename__ = "ingest_sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    device: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    first_line_hash: Mapped[str | None] = mapped_column(String(32))
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    complete: Mapped[bool] = mapped_column(Boolean, server_default=false())
    tail_hash: Mapped[str | None] = mapped_column(String(32))


class SessionClaim(Base):
    """A session id claimed by the PostgreSQL batch transaction writing its sessions.

    A batch inserts a row per session id it touches (in sorted order) and deletes them
    before it commits, so the table is always empty to everyone else. A second loader
    inserting the same id waits on the unique index until the first commits: concurrent
    loaders take turns per session id, never for the whole batch (ingest/claims.py).
    """

    __tablename__ = "session_claims"

    session_id: Mapped[str] = mapped_column(String(limits.SESSION_ID), primary_key=True)


class DeadLetter(Base):
    """A record that could not be ingested, kept with the reason (raw text cut to a bound)."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    raw: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("source", "source_offset"), Index(None, "reason"))


class RollupDirty(Base):
    """A (day, sensor) bucket whose rollups are stale; ``generation`` grows with each mark.

    Loaders mark buckets in the same transaction as their data; a refresh clears only the
    marks whose generation it saw, so a mark made while it runs survives.
    """

    __tablename__ = "rollup_dirty"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sensor: Mapped[str] = mapped_column(String(limits.SENSOR), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class Retention(Base):
    """The one row (id 1) saying which days were pruned (``cowrieprocessor/prune.py``).

    ``raw_before``: raw events of sessions before this day are pruned and those days'
    rollups frozen; ``raw_deleted_before``: the deletion of those raw events is complete up
    to this day (behind ``raw_before`` only while a prune runs or after one was stopped).
    """

    __tablename__ = "retention"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raw_before: Mapped[date | None] = mapped_column(Date)
    raw_deleted_before: Mapped[date | None] = mapped_column(Date)
