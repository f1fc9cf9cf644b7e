"""Elasticsearch connection and target settings, and the client factory.

Settings come from, highest precedence first: explicit arguments (CLI flags), environment
variables, a TOML config file, defaults. The config file is given by ``config_file=`` (the
``--es-config`` flag) or the ``COWRIE_ES_CONFIG`` environment variable and holds an
``[elasticsearch]`` table::

    [elasticsearch]
    host = "https://es.example.org:9200"     # or hosts = ["https://a:9200", "https://b:9200"]
    username = "cowrie"
    password = "op://Infra/cowrie-es/password"   # secret references are resolved
    # api_key = "env:COWRIE_ES_API_KEY"
    # cloud_id = "deployment:ZXUtY2VudHJhbC0x..."
    verify_ssl = true
    ca_certs = "/etc/ssl/certs/es-ca.pem"
    request_timeout = 30
    index_prefix = "cowrie.reports"
    index_mode = "alias"                       # or "dated"

Environment variables: ``ES_HOST`` (comma-separated for several nodes), ``ES_USERNAME``,
``ES_PASSWORD``, ``ES_API_KEY``, ``ES_CLOUD_ID``, ``ES_VERIFY_SSL`` (``true``/``false``,
``1``/``0``, ``yes``/``no``), ``ES_CA_CERTS``, ``ES_TIMEOUT``, ``ES_INDEX_PREFIX``,
``ES_INDEX_MODE``.

``password`` and ``api_key`` may be secret references (see :mod:`cowrieprocessor.secrets`).
:class:`ESSettings` never shows them in ``repr``/``str``. :func:`connect` resolves them once
and returns the client with a :class:`~cowrieprocessor.secrets.Redactor` that masks the
resolved values in anything shown or stored afterwards.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from elasticsearch import Elasticsearch

from cowrieprocessor.es.names import DEFAULT_PREFIX, INDEX_MODES, IndexMode
from cowrieprocessor.secrets import Redactor, redact, resolve_secret

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_HOST",
    "ESSettings",
    "ESSettingsError",
    "connect",
    "create_client",
    "load_settings",
]

DEFAULT_HOST = "http://localhost:9200"
CONFIG_ENV = "COWRIE_ES_CONFIG"

_ENV_KEYS = {
    "hosts": "ES_HOST",
    "username": "ES_USERNAME",
    "password": "ES_PASSWORD",
    "api_key": "ES_API_KEY",
    "cloud_id": "ES_CLOUD_ID",
    "verify_ssl": "ES_VERIFY_SSL",
    "ca_certs": "ES_CA_CERTS",
    "request_timeout": "ES_TIMEOUT",
    "index_prefix": "ES_INDEX_PREFIX",
    "index_mode": "ES_INDEX_MODE",
}
_FILE_KEYS = {
    "host": "hosts",
    "hosts": "hosts",
    "username": "username",
    "password": "password",
    "api_key": "api_key",
    "cloud_id": "cloud_id",
    "verify_ssl": "verify_ssl",
    "ca_certs": "ca_certs",
    "request_timeout": "request_timeout",
    "timeout": "request_timeout",
    "index_prefix": "index_prefix",
    "prefix": "index_prefix",
    "index_mode": "index_mode",
}


class ESSettingsError(ValueError):
    """Invalid Elasticsearch settings (bad value, unreadable config file, ...)."""


@dataclass(frozen=True)
class ESSettings:
    """Where and how to connect, and which index names to use.

    ``password`` and ``api_key`` are excluded from ``repr``/``str`` (shown as ``'***'``).
    """

    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    cloud_id: str | None = None
    verify_ssl: bool = True
    ca_certs: str | None = None
    request_timeout: float = 30.0
    index_prefix: str = DEFAULT_PREFIX
    index_mode: IndexMode = "alias"

    def __post_init__(self) -> None:
        if self.index_mode not in INDEX_MODES:
            raise ESSettingsError(
                f"index mode must be one of {', '.join(INDEX_MODES)}, not {self.index_mode!r}"
            )
        if not self.index_prefix or any(c in self.index_prefix for c in ' "*\\<|,>/?#'):
            raise ESSettingsError(f"invalid index prefix {self.index_prefix!r}")
        if self.index_prefix != self.index_prefix.lower():
            raise ESSettingsError(f"index prefix must be lowercase: {self.index_prefix!r}")
        if self.request_timeout <= 0:
            raise ESSettingsError("request timeout must be positive")
        if self.cloud_id is None and not self.hosts:
            raise ESSettingsError("no Elasticsearch host given")
        if self.password is not None and self.username is None:
            raise ESSettingsError("a password needs a username")

    def __repr__(self) -> str:
        shown = redact({f.name: getattr(self, f.name) for f in fields(self)})
        return f"ESSettings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    __str__ = __repr__

    def resolved(self, *, timeout: float = 30.0) -> ESSettings:
        """A copy with ``password``/``api_key`` secret references resolved.

        Raises:
            cowrieprocessor.secrets.SecretResolutionError: a reference cannot be resolved.
        """
        return replace(
            self,
            password=resolve_secret(self.password, timeout=timeout),
            api_key=resolve_secret(self.api_key, timeout=timeout),
        )


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ESSettingsError(f"{name}: expected true or false, not {value!r}")


def _parse_hosts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [h.strip() for h in value.split(",")]
    elif isinstance(value, list | tuple):
        items = [str(h).strip() for h in value]
    else:
        raise ESSettingsError(f"hosts: expected a string or a list, not {type(value).__name__}")
    return tuple(h for h in items if h)


def _read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    reason: str | None = None
    data: dict[str, Any] = {}
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        reason = f"cannot read Elasticsearch config {str(path)!r}: {exc.strerror}"
    except tomllib.TOMLDecodeError as exc:
        # the decoder's message gives a position only, never the offending text
        reason = f"invalid TOML in Elasticsearch config {str(path)!r}: {exc}"
    if reason is not None:
        raise ESSettingsError(reason)
    table = data.get("elasticsearch", {})
    if not isinstance(table, dict):
        raise ESSettingsError(f"{path}: [elasticsearch] must be a table")
    result: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _FILE_KEYS:
            raise ESSettingsError(f"{path}: unknown key {key!r} in [elasticsearch]")
        result[_FILE_KEYS[key]] = value
    return result


def _split_userinfo(hosts: tuple[str, ...], raw: dict[str, Any]) -> tuple[str, ...]:
    """Move ``user:pass@`` out of host URLs into username/password (never keep it in a URL)."""
    cleaned = []
    for host in hosts:
        parts = urlsplit(host if "://" in host else f"http://{host}")
        if parts.username is not None or parts.password is not None:
            raw.setdefault("username", unquote(parts.username or ""))
            if parts.password is not None:
                raw.setdefault("password", unquote(parts.password))
            netloc = parts.hostname or ""
            if parts.port:
                netloc = f"{netloc}:{parts.port}"
            host = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        cleaned.append(host)
    return tuple(cleaned)


def load_settings(
    *,
    hosts: str | list[str] | tuple[str, ...] | None = None,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    cloud_id: str | None = None,
    verify_ssl: bool | None = None,
    ca_certs: str | None = None,
    request_timeout: float | None = None,
    index_prefix: str | None = None,
    index_mode: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ESSettings:
    """Build :class:`ESSettings` from arguments, then environment, then config file.

    ``None`` means "not given here". Secret references are kept as references; call
    :meth:`ESSettings.resolved` (or :func:`create_client`, which does) to resolve them.

    Raises:
        ESSettingsError: a value is invalid or the config file cannot be read.
    """
    env = os.environ if environ is None else environ
    explicit = {
        "hosts": hosts,
        "username": username,
        "password": password,
        "api_key": api_key,
        "cloud_id": cloud_id,
        "verify_ssl": verify_ssl,
        "ca_certs": ca_certs,
        "request_timeout": request_timeout,
        "index_prefix": index_prefix,
        "index_mode": index_mode,
    }
    path = config_file if config_file is not None else env.get(CONFIG_ENV) or None
    from_file = _read_config(path) if path is not None else {}
    raw: dict[str, Any] = {}
    for key, value in explicit.items():
        if value is not None:
            raw[key] = value
        elif env.get(_ENV_KEYS[key]):
            raw[key] = env[_ENV_KEYS[key]]
        elif key in from_file:
            raw[key] = from_file[key]
    if "hosts" in raw:
        raw["hosts"] = _split_userinfo(_parse_hosts(raw["hosts"]), raw)
    elif "cloud_id" in raw:
        raw["hosts"] = ()
    if "verify_ssl" in raw:
        raw["verify_ssl"] = _parse_bool("verify_ssl", raw["verify_ssl"])
    if "request_timeout" in raw:
        try:
            raw["request_timeout"] = float(raw["request_timeout"])
        except (TypeError, ValueError):
            raise ESSettingsError("request timeout must be a number") from None
    for key in ("username", "password", "api_key", "cloud_id", "ca_certs", "index_prefix"):
        if key in raw and not isinstance(raw[key], str):
            raise ESSettingsError(f"{key} must be a string")
    return ESSettings(**raw)


def create_client(settings: ESSettings, *, resolve_secrets: bool = True) -> Elasticsearch:
    """An ``elasticsearch.Elasticsearch`` client for ``settings``.

    Secret references are resolved first (unless ``resolve_secrets=False``). The client's
    own retries are disabled (``max_retries=0``): the publisher does its own, bounded,
    retrying so that attempts and sleeps are accounted for.

    Raises:
        cowrieprocessor.secrets.SecretResolutionError: a secret reference failed.
    """
    if resolve_secrets:
        settings = settings.resolved()
    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": settings.verify_ssl,
    }
    if settings.cloud_id:
        kwargs["cloud_id"] = settings.cloud_id
    else:
        kwargs["hosts"] = list(settings.hosts)
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if not settings.verify_ssl:
        kwargs["ssl_show_warn"] = False
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.username is not None:
        kwargs["basic_auth"] = (settings.username, settings.password or "")
    return Elasticsearch(**kwargs)


def connect(settings: ESSettings) -> tuple[Elasticsearch, Redactor]:
    """Resolve the secret references once; return the client and a redactor of their values.

    Raises:
        cowrieprocessor.secrets.SecretResolutionError: a secret reference failed.
        ESSettingsError: the client refuses the settings (host URL, cloud id); the message
            never holds a secret.
    """
    resolved = settings.resolved()
    redactor = Redactor([resolved.password, resolved.api_key])
    try:
        return create_client(resolved, resolve_secrets=False), redactor
    except ValueError as exc:
        message = f"invalid Elasticsearch settings: {redactor.text(str(exc))}"
        raise ESSettingsError(message) from None
