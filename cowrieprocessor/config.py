"""Where things live (the database URL, the status directory) and the retention default."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "cowrieprocessor"
DB_URL_ENV = "COWRIE_DB_URL"
STATUS_DIR_ENV = "COWRIE_STATUS_DIR"
RETENTION_ENV = "COWRIE_RETENTION_RAW_DAYS"


class ConfigError(ValueError):
    """A setting from the environment cannot be used (the message names it)."""


def default_db_path() -> Path:
    """The embedded SQLite database used when no URL is given."""
    import platformdirs  # only when needed: it costs start-up time

    return Path(platformdirs.user_data_dir(APP_NAME)) / "cowrie.sqlite"


def resolve_db_url(url: str | None = None, *, create_default_dir: bool = True) -> str:
    """Pick the database URL: explicit value, then ``COWRIE_DB_URL``, then the default file
    (whose directory is created if ``create_default_dir``)."""
    if url:
        return url
    env = os.environ.get(DB_URL_ENV)
    if env:
        return env
    path = default_db_path()
    if create_default_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def default_status_dir() -> Path:
    """Where status files go when neither ``--status-dir`` nor the env var is set."""
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME)) / "status"


def retention_raw_days() -> int | None:
    """Days of raw events to keep (``COWRIE_RETENTION_RAW_DAYS``): ``prune`` without
    ``--raw-before`` and every ``ingest`` prune the days before that many days ago. None
    when unset (nothing is pruned unless asked)."""
    value = os.environ.get(RETENTION_ENV, "").strip()
    if not value:
        return None
    try:
        days = int(value)
    except ValueError:
        days = -1
    if days < 1:
        raise ConfigError(f"{RETENTION_ENV}={value!r}: give a whole number of days, 1 or more")
    return days
