"""``cowrie-report enrich``: look up the stored sessions' IPs, files and URLs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import MofNCompleteColumn, TaskID, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from cowrieprocessor.cli.common import (
    AppContext,
    pass_app,
    progress_bar,
    stderr_console,
    stop_on_ctrl_c,
    user_errors,
)
from cowrieprocessor.enrichment.base import HttpProvider, Provider
from cowrieprocessor.enrichment.config import ConfigError, load_config
from cowrieprocessor.enrichment.providers.offline import OfflineDataError
from cowrieprocessor.enrichment.registry import DEFAULT, PROVIDERS, names
from cowrieprocessor.enrichment.runner import ProviderRun, run_provider
from cowrieprocessor.enrichment.store import Scope, cache_sizes
from cowrieprocessor.secrets import SecretResolutionError

#: Reasons a provider stopped that are not failures of the run (exit code 0).
_BENIGN_STOPS = ("daily budget", "quota", "--max-requests")


def select_providers(
    requested: tuple[str, ...], *, offline_only: bool, online: bool, config: Path | None
) -> list[Provider]:
    """The providers to run: those named, else the offline one plus (``online``) every
    configured online provider. Raises ClickException for unknown or unconfigured ones."""
    try:
        configs = load_config(config, names())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for name in requested:
        if name not in PROVIDERS:
            raise click.ClickException(
                f"unknown provider {name!r}; providers: {', '.join(names())}"
            )
    chosen = list(dict.fromkeys(requested)) or [
        n
        for n, cls in PROVIDERS.items()
        if n == DEFAULT or (online and cls.online and cls.configured(configs[n].settings))
    ]
    providers: list[Provider] = []
    for name in chosen:
        cls, settings = PROVIDERS[name], configs[name].settings
        if offline_only and cls.online:
            continue
        if not cls.configured(settings):
            upper = name.upper()
            raise click.ClickException(
                f"provider {name} is not configured: set COWRIE_ENRICH_{upper}_KEY"
                + (" (or its settings in the config file)" if cls.key_required else "")
                if issubclass(cls, HttpProvider) and cls.key_required
                else f"provider {name} is not configured (see docs/enrichment.md)"
            )
        try:
            providers.append(cls.from_settings(settings))
        except OfflineDataError as exc:
            raise click.ClickException(str(exc)) from None
    return providers


def run_enrichment(
    app: AppContext,
    engine: Engine,
    providers: list[Provider],
    console: Console,
    *,
    scope: Scope = Scope(),  # noqa: B008 - frozen
    refresh: bool = False,
    max_requests: int | None = None,
    check_stop: Callable[[], None] | None = None,
) -> list[ProviderRun]:
    """Run ``providers`` with a progress bar and the ``enrichment`` status file."""
    runs: list[ProviderRun] = []
    with (
        app.status("enrichment") as status,
        progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress,
    ):
        status.update({}, providers=[p.name for p in providers])
        for provider in providers:
            task = progress.add_task(f"enrich {provider.name}", total=None)

            def on_progress(run: ProviderRun, task: TaskID = task) -> None:
                progress.update(task, total=run.pending or None, completed=run.looked_up)
                status.update(
                    {
                        f"{run.provider}.looked_up": run.looked_up,
                        f"{run.provider}.pending": run.pending,
                        f"{run.provider}.errors": run.errors,
                        f"{run.provider}.requests": run.requests,
                    },
                    current=run.provider,
                )

            try:
                run = run_provider(
                    engine,
                    provider,
                    scope=scope,
                    refresh=refresh,
                    max_requests=max_requests,
                    on_progress=on_progress,
                    check_stop=check_stop,
                )
            except (SecretResolutionError, OfflineDataError) as exc:
                run = ProviderRun(provider.name, stopped=f"not run: {exc}")
            finally:
                provider.close()
            runs.append(run)
            progress.remove_task(task)
        status.finish(current=None, summary=[r.as_dict() for r in runs])
    return runs


def summary_table(runs: list[ProviderRun]) -> Table:
    """The per-provider summary."""
    table = Table(title="enrichment summary", title_justify="left")
    for name in ("provider", "looked up", "from cache", "found", "not found", "errors"):
        table.add_column(name, justify="left" if name == "provider" else "right")
    for name in ("changed", "requests", "budget left", "left to look up"):
        table.add_column(name, justify="right")
    for r in runs:
        table.add_row(
            r.provider,
            f"{r.looked_up:,}",
            f"{r.from_cache:,}",
            f"{r.found:,}",
            f"{r.not_found:,}",
            f"{r.errors:,}",
            f"{r.changed:,}",
            f"{r.requests:,}",
            "-" if r.budget_left is None else f"{r.budget_left:,}",
            f"{r.left:,}",
        )
    return table


def stop_lines(runs: list[ProviderRun]) -> list[str]:
    """One line per provider that stopped early: why, and what is left to look up."""
    return [
        f"{r.provider}: {r.stopped}; {r.left:,} left to look up (the next run continues)"
        for r in runs
        if r.stopped
    ]


def failed(runs: list[ProviderRun]) -> bool:
    """Whether a provider stopped for a reason other than a budget or quota."""
    return any(r.stopped and not r.stopped.startswith(_BENIGN_STOPS) for r in runs)


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
            from cowrieprocessor.cli.refresh import refresh_line, run_refresh

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
