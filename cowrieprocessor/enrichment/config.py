"""Enrichment configuration: a TOML file, environment variables, command-line flags.

The file (``--config``, ``COWRIE_ENRICH_CONFIG``, default ``enrichment.toml`` in the user
config directory when it exists) has one table per provider::

    [offline]
    mmdb = ["/var/lib/GeoIP/GeoLite2-Country.mmdb", "/var/lib/GeoIP/GeoLite2-ASN.mmdb"]

    [virustotal]
    key = "env:VT_API_KEY"        # a key or a secret reference (env:, file:, op://, ...)
    rate_limit = 4                # requests per rate_period seconds
    rate_period = 60
    daily_budget = 500

    [dshield]
    email = "honeypot-admin@example.org"

The environment wins over the file: ``COWRIE_ENRICH_<PROVIDER>_KEY`` and
``COWRIE_ENRICH_<PROVIDER>_URL`` for PROVIDER in DSHIELD, VIRUSTOTAL, URLHAUS, SPUR,
GREYNOISE, plus ``COWRIE_ENRICH_DSHIELD_EMAIL`` and ``COWRIE_ENRICH_OFFLINE_MMDB`` (paths
separated by ``:``). Keys are kept as :class:`Secret`, which never shows its value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "COWRIE_ENRICH_CONFIG"
ENV_PREFIX = "COWRIE_ENRICH_"

#: Settings a provider table may hold, with their types.
SETTINGS: dict[str, type | tuple[type, ...]] = {
    "key": str,
    "url": str,
    "email": str,
    "enabled": bool,
    "mmdb": list,
    "rate_limit": int,
    "rate_period": (int, float),
    "daily_budget": int,
    "ttl_hours": (int, float),
    "not_found_ttl_hours": (int, float),
    "timeout": (int, float),
    "retries": int,
    "concurrency": int,
    "max_retry_after": (int, float),
    "backoff": (int, float),
}


class ConfigError(Exception):
    """The enrichment configuration is wrong (the message says where)."""


class Secret:
    """A key or a secret reference, resolved when first used; never printed."""

    def __init__(self, reference: str) -> None:
        self._reference = reference
        self._value: str | None = None

    def reveal(self) -> str:
        """The key itself (resolving a reference once). Raises SecretResolutionError."""
        if self._value is None:
            from cowrieprocessor.secrets import resolve_secret

            value = resolve_secret(self._reference)
            assert value is not None
            self._value = value
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass
class ProviderConfig:
    """One provider's settings after file, environment and flags."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Secret | None:
        """The provider's key, if one is configured."""
        value = self.settings.get("key")
        return value if isinstance(value, Secret) else None

    def __repr__(self) -> str:  # settings hold a Secret, whose repr is masked anyway
        return f"ProviderConfig({self.name!r}, {sorted(self.settings)!r})"


def default_config_path() -> Path:
    """``enrichment.toml`` in the user config directory."""
    import platformdirs

    from cowrieprocessor.config import APP_NAME

    return Path(platformdirs.user_config_dir(APP_NAME)) / "enrichment.toml"


def load_config(
    path: Path | None = None,
    names: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, ProviderConfig]:
    """Every provider's configuration (``names``: the registered providers)."""
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    explicit = path is not None
    path = path or default_config_path()
    data: dict[str, Any] = {}
    if explicit or path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(names)) if names else []
    if unknown:
        raise ConfigError(f"{path}: unknown provider {unknown[0]!r} (known: {', '.join(names)})")
    configs = {}
    for name in names:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        settings = _checked(path, name, table)
        upper = name.upper()
        for setting in ("key", "url", "email"):
            value = env.get(f"{ENV_PREFIX}{upper}_{setting.upper()}")
            if value:
                settings[setting] = value
        mmdb = env.get(f"{ENV_PREFIX}{upper}_MMDB")
        if mmdb:
            settings["mmdb"] = [p for p in mmdb.split(os.pathsep) if p]
        if "key" in settings:
            settings["key"] = Secret(settings["key"])
        configs[name] = ProviderConfig(name, settings)
    return configs


def _checked(path: Path, name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    settings = {}
    for setting, value in table.items():
        expected = SETTINGS.get(setting)
        if expected is None:
            raise ConfigError(f"{path}: [{name}] unknown setting {setting!r}")
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(f"{path}: [{name}] {setting} has the wrong type")
        positive = ("rate_limit", "rate_period", "concurrency")
        if setting in positive and isinstance(value, int | float) and value <= 0:
            raise ConfigError(f"{path}: [{name}] {setting} must be positive")
        settings[setting] = value
    return settings
