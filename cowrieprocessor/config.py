"""Where things live: the database URL and the status directory."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "cowrieprocessor"
DB_URL_ENV = "COWRIE_DB_URL"
STATUS_DIR_ENV = "COWRIE_STATUS_DIR"


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
