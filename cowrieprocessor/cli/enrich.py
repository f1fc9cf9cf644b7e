"""``cowrie-report enrich``: look up the stored sessions' IPs, files and URLs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cowrieprocessor.cli.common import (
    AppContext,
    failed,
    pass_app,
    refresh_line,
    run_enrichment,
    run_refresh,
    select_providers,
    stderr_console,
    stop_lines,
    stop_on_ctrl_c,
    summary_table,
    user_errors,
)
from cowrieprocessor.enrichment.config import ConfigError, load_config
from cowrieprocessor.enrichment.providers.offline import OfflineDataError
from cowrieprocessor.enrichment.registry import PROVIDERS, names
from cowrieprocessor.enrichment.store import Scope, cache_sizes


def _list(app: AppContext, config: Path | None, as_json: bool) -> None:
    try:
        configs = load_config(config, names())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with app.engine().connect() as conn:
        sizes = cache_sizes(conn)
    rows: list[dict[str, Any]] = []
    for name, cls in PROVIDERS.items():
        settings = configs[name].settings
        configured = cls.configured(settings)
        source = ""
        if configured:
            try:
                provider = cls.from_settings(settings)
                source = provider.source()
                provider.close()
            except OfflineDataError as exc:
                source = f"unavailable: {exc}"
        rows.append(
            {
                "provider": name,
                "online": cls.online,
                "configured": configured,
                "source": source,
                "description": cls.description,
                "cache": sizes.get(name, {}),
            }
        )
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title="enrichment providers", title_justify="left")
    for column in ("provider", "network", "configured", "data source", "cache (rows)"):
        table.add_column(column)
    for row in rows:
        cache = ", ".join(f"{k} {v:,}" for k, v in sorted(row["cache"].items())) or "empty"
        table.add_row(
            row["provider"],
            "online" if row["online"] else "offline",
            "yes" if row["configured"] else "no",
            escape(row["source"]),
            cache,
        )
    Console(highlight=False).print(table)


@click.command("enrich")
@click.option(
    "--provider",
    "requested",
    multiple=True,
    metavar="NAME",
    help=f"Run this provider (repeatable): {', '.join(names())}. "
    "Default: offline plus every configured online provider.",
)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC) of sessions.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC) of sessions.")
@click.option(
    "--max-requests",
    type=click.IntRange(0),
    metavar="N",
    help="Send at most N requests per online provider in this run.",
)
@click.option("--refresh", is_flag=True, help="Look up again what is cached and not expired.")
@click.option("--offline", "offline_only", is_flag=True, help="Run offline providers only.")
@click.option("--list", "list_only", is_flag=True, help="Show each provider and exit.")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Enrichment config file (TOML). Env: COWRIE_ENRICH_CONFIG.",
)
@click.option("--no-refresh-views", is_flag=True, help="Leave the dirty buckets for refresh-views.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
@user_errors
def command(
    app: AppContext,
    requested: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
    max_requests: int | None,
    refresh: bool,
    offline_only: bool,
    list_only: bool,
    config: Path | None,
    no_refresh_views: bool,
    as_json: bool,
) -> None:
    """Enrich the stored sessions: country and AS offline, and each configured online
    provider (DShield, VirusTotal, URLhaus, SPUR, GreyNoise) within its rate limit and
    daily budget. Answers are cached per indicator; the rollups of the sessions whose
    enrichment changed are refreshed. Reaching a budget or quota ends with exit code 0.
    """
    if list_only:
        _list(app, config, as_json)
        return
    console = stderr_console()
    providers = select_providers(requested, offline_only=offline_only, online=True, config=config)
    scope = Scope(start.date() if start else None, end.date() if end else None)
    with stop_on_ctrl_c(console) as check_stop:
        engine = app.engine()
        runs = run_enrichment(
            app,
            engine,
            providers,
            console,
            scope=scope,
            refresh=refresh,
            max_requests=max_requests,
            check_stop=check_stop,
        )
        refreshed = None
        if not no_refresh_views:
            refreshed = run_refresh(engine, console, app.status("refresh"))
    if as_json:
        doc: dict[str, object] = {"providers": [r.as_dict() for r in runs]}
        if refreshed is not None:
            doc["refresh"] = refreshed.as_dict()
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    else:
        out = Console(highlight=False)
        out.print(summary_table(runs))
        if refreshed is not None:
            out.print(escape(refresh_line(refreshed)))
    for line in stop_lines(runs):
        console.print(escape(line))
    if failed(runs):
        raise click.ClickException("some providers could not run (see above)")
