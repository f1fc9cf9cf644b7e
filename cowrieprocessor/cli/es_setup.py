"""``cowrie-report es-setup``: install the ILM policy, index templates and write aliases."""

from __future__ import annotations

import click

from cowrieprocessor.cli.es_options import ESOptions, es_options
from cowrieprocessor.es.setup import ESSetupError, setup_elasticsearch

__all__ = ["command"]


@click.command("es-setup")
@es_options
@click.option(
    "--replicas",
    type=click.IntRange(min=0),
    default=None,
    help="number_of_replicas for report indices (default: the cluster's default).",
)
def command(es: ESOptions, replicas: int | None) -> None:
    """Install (idempotently) the ILM policy, the report index templates and, in alias
    mode, the bootstrap indices <prefix>.<type>-000001 with their write aliases."""
    settings = es.settings()
    client, secrets = es.connect(settings)
    try:
        result = setup_elasticsearch(
            client,
            prefix=settings.index_prefix,
            index_mode=settings.index_mode,
            replicas=replicas,
        )
    except ESSetupError as exc:
        raise click.ClickException(secrets.text(str(exc))) from None
    finally:
        client.close()
    for line in result.lines():
        click.echo(line)
