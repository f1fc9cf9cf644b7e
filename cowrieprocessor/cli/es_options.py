"""Shared click options for commands that talk to Elasticsearch (``es-setup``, ``publish``).

``@es_options`` adds the connection and index options and passes one ``es`` argument of
type :class:`ESOptions` to the command. Nothing is resolved at parse time (``--help`` never
runs ``op`` or ``vault``); call :meth:`ESOptions.settings` / :meth:`ESOptions.connect`, which
turn every configuration error into a one-line :class:`click.ClickException` that never
contains a secret.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from elasticsearch import Elasticsearch

from cowrieprocessor.es.settings import ESSettings, ESSettingsError, connect, load_settings
from cowrieprocessor.secrets import Redactor, SecretResolutionError, redact

__all__ = ["ESOptions", "es_options"]

F = TypeVar("F", bound=Callable[..., Any])

_NAMES = (
    "es_host",
    "es_username",
    "es_password",
    "es_api_key",
    "es_cloud_id",
    "es_verify_ssl",
    "es_ca_certs",
    "es_timeout",
    "es_config",
    "index_prefix",
    "index_mode",
)


@dataclass(frozen=True)
class ESOptions:
    """The raw option values (``None`` = not given; environment/config file decide)."""

    values: dict[str, Any]

    def __repr__(self) -> str:
        return f"ESOptions({redact(self.values)!r})"

    def settings(self) -> ESSettings:
        """Merge flags, environment and config file; secrets stay unresolved."""
        v = self.values
        try:
            return load_settings(
                hosts=v["es_host"],
                username=v["es_username"],
                password=v["es_password"],
                api_key=v["es_api_key"],
                cloud_id=v["es_cloud_id"],
                verify_ssl=v["es_verify_ssl"],
                ca_certs=v["es_ca_certs"],
                request_timeout=v["es_timeout"],
                index_prefix=v["index_prefix"],
                index_mode=v["index_mode"],
                config_file=v["es_config"],
            )
        except ESSettingsError as exc:
            raise click.ClickException(str(exc)) from None

    def connect(self, settings: ESSettings | None = None) -> tuple[Elasticsearch, Redactor]:
        """The client, secrets resolved, and a redactor of the resolved secrets (see
        :func:`~cowrieprocessor.es.settings.connect`); errors become
        :class:`click.ClickException`."""
        try:
            return connect(settings or self.settings())
        except (SecretResolutionError, ESSettingsError) as exc:
            raise click.ClickException(str(exc)) from None


def es_options(func: F) -> F:
    """Add ``--es-*`` and index options; pass them as ``es: ESOptions``."""
    options = [
        click.option(
            "--es-host",
            metavar="URL",
            help="Elasticsearch URL(s), comma-separated [env ES_HOST; default "
            "http://localhost:9200].",
        ),
        click.option("--es-username", metavar="NAME", help="Basic-auth user [env ES_USERNAME]."),
        click.option(
            "--es-password",
            metavar="SECRET",
            help="Password or secret reference (env:, file:, op://, aws-sm://, vault://, "
            "sops://) [env ES_PASSWORD]. Prefer a reference: flags are visible in ps.",
        ),
        click.option(
            "--es-api-key", metavar="SECRET", help="API key or secret reference [env ES_API_KEY]."
        ),
        click.option("--es-cloud-id", metavar="ID", help="Elastic Cloud id [env ES_CLOUD_ID]."),
        click.option(
            "--es-verify-ssl/--es-no-verify-ssl",
            default=None,
            help="Verify TLS certificates [env ES_VERIFY_SSL; default on].",
        ),
        click.option(
            "--es-ca-certs",
            metavar="PATH",
            help="CA bundle for TLS verification [env ES_CA_CERTS].",
        ),
        click.option(
            "--es-timeout",
            type=float,
            metavar="SECONDS",
            help="Per-request timeout [env ES_TIMEOUT; default 30].",
        ),
        click.option(
            "--es-config",
            type=click.Path(dir_okay=False),
            help="TOML file with an [elasticsearch] table [env COWRIE_ES_CONFIG].",
        ),
        click.option(
            "--index-prefix",
            metavar="PREFIX",
            help="Index/alias prefix [env ES_INDEX_PREFIX; default cowrie.reports].",
        ),
        click.option(
            "--index-mode",
            type=click.Choice(["alias", "dated"]),
            help="Write alias with ILM rollover, or dated indices [env ES_INDEX_MODE; "
            "default alias].",
        ),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        return func(*args, es=ESOptions(values), **kwargs)

    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[return-value]
