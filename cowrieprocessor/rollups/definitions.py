"""The rollups: names, keys and the SQL version in effect. The one place refresh code reads.

Each rollup ``<name>`` is defined by ``sql/views/<name>_v<version>.sql`` (or a
``.sqlite.sql`` / ``.postgresql.sql`` pair where the dialects differ): a SELECT over the
base tables grouped by ``(day, sensor)`` plus the rest of its key. The migrations install it
twice: as the plain view ``<name>_live`` (always correct, slow) and as the table ``<name>``
(the rollup the reports read), refreshed bucket by bucket.

``period_values`` sums the top-list figures of the daily rollup tables per ISO week and
calendar month (through the view ``period_sources``); it has no day, so bucket refreshes
keep it up to date by difference (``rollups/refresh.py``) instead of replacing rows.

Migrations name the exact version they install; bumping ``version`` here must come with a
migration that installs that version (see ``alembic/versions/0003_daily_files_vt_label.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rollup:
    """One rollup: its table name, full key, value columns and installed SQL version."""

    name: str
    version: int
    key: tuple[str, ...]
    values: tuple[str, ...]
    #: Key columns holding unbounded text: indexed as ``md5(column)`` on PostgreSQL.
    hashed: tuple[str, ...] = ()
    #: A rollup earlier in :data:`ROLLUPS` whose rows, summed over the rest of their key,
    #: are this one's: refreshes fill it from there (its live view stays the definition).
    derived_from: str | None = None
    #: Its view joins a big base table (raw_events, command_stats) for few rows a bucket:
    #: refreshes read it on another connection, beside their transaction (rollups/refresh.py).
    read_ahead: bool = False

    @property
    def live(self) -> str:
        """Name of the plain view computing the rollup from the base tables."""
        return f"{self.name}_live"

    @property
    def columns(self) -> tuple[str, ...]:
        """Key columns then value columns, in the order of the view."""
        return self.key + self.values


BUCKET = ("day", "sensor")

ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        "daily_sessions",
        1,
        BUCKET,
        (
            "sessions",
            "sessions_with_login",
            "sessions_with_commands",
            "sessions_with_downloads",
            "commands_sum",
            "commands_min",
            "commands_max",
            "duration_us_sum",
            "login_attempts",
            "login_successes",
            "downloads",
            "uploads",
            "vt_flagged_sessions",
            "dshield_flagged_sessions",
        ),
    ),
    Rollup(
        "daily_commands",
        1,
        (*BUCKET, "command"),
        ("occurrences", "sessions"),
        ("command",),
        read_ahead=True,
    ),
    Rollup(
        "daily_files",
        2,
        (*BUCKET, "direction", "url", "shasum", "vt_label"),
        ("transfers", "sessions"),
        ("url", "vt_label"),
    ),
    Rollup(
        "daily_credentials",
        2,
        (*BUCKET, "username", "password"),
        ("attempts", "successes"),
        ("username", "password"),
        read_ahead=True,
    ),
    # Halves of daily_credentials, for top usernames / passwords and their distinct counts.
    Rollup(
        "daily_usernames",
        2,
        (*BUCKET, "username"),
        ("attempts", "successes"),
        ("username",),
        derived_from="daily_credentials",
    ),
    Rollup(
        "daily_passwords",
        2,
        (*BUCKET, "password"),
        ("attempts", "successes"),
        ("password",),
        derived_from="daily_credentials",
    ),
    Rollup("daily_src_ips", 1, (*BUCKET, "src_ip"), ("sessions",)),
    Rollup("daily_protocols", 1, (*BUCKET, "protocol"), ("sessions",)),
    Rollup(
        "daily_client_versions",
        1,
        (*BUCKET, "client_version"),
        ("sessions",),
        ("client_version",),
    ),
    Rollup("daily_hassh", 1, (*BUCKET, "hassh"), ("sessions",)),
    Rollup("daily_command_counts", 1, (*BUCKET, "command_count"), ("sessions",)),
    # Per UTC hour of the first event: the HTML report's hour charts and day x hour heatmap.
    Rollup(
        "hourly_sessions",
        1,
        (*BUCKET, "hour"),
        ("sessions", "login_attempts", "login_successes", "commands", "downloads"),
    ),
)

#: Top-list figures per ISO week ('weekly') and calendar month ('monthly'), from the daily
#: rollup tables. Rebuilt and checked after ROLLUPS, which it reads.
PERIOD_VALUES = Rollup(
    "period_values",
    1,
    ("kind", "period_start", "figure", "sensor", "value"),
    ("total",),
    ("value",),
)
#: The view of every figure's values per bucket that PERIOD_VALUES sums, and its version.
PERIOD_SOURCES = ("period_sources", 1)
FIGURES = ("username", "password", "combination", "src_ip", "command", "shasum", "url", "vt_label")

#: Every rollup table, in rebuild order.
ALL_ROLLUPS: tuple[Rollup, ...] = (*ROLLUPS, PERIOD_VALUES)

BY_NAME: dict[str, Rollup] = {r.name: r for r in ALL_ROLLUPS}


def get(name: str) -> Rollup:
    """The rollup called ``name``."""
    return BY_NAME[name]
