"""``sample-logs``: write realistic sample Cowrie logs for demos and tests."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from cowrieprocessor.samples import SampleConfig, write_sample_logs


@click.command("sample-logs")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--days", type=click.IntRange(min=1), default=7, show_default=True, help="Days of logs."
)
@click.option(
    "--sessions-per-day",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Sessions per day, over all sensors (which get unequal shares).",
)
@click.option(
    "--sensors",
    default="honeypot-a,honeypot-b",
    show_default=True,
    help="Comma-separated sensor names (one directory each).",
)
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default="2024-03-01",
              show_default=True, help="First day (UTC).")  # fmt: skip
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the generator: the same options always write the same files.",
)
@click.option("--no-dirt", is_flag=True, help="Only well-formed, unique events.")
@click.option(
    "--compress",
    type=click.Choice(["gz", "bz2", "none"]),
    default="gz",
    show_default=True,
    help="Compression of days older than yesterday.",
)
def command(
    out_dir: Path,
    days: int,
    sessions_per_day: int,
    sensors: str,
    start: datetime.datetime,
    seed: int,
    no_dirt: bool,
    compress: str,
) -> None:
    """Write sample Cowrie logs to OUT_DIR/<sensor>/cowrie.json[.YYYY-MM-DD[.gz]]."""
    names = tuple(s.strip() for s in sensors.split(",") if s.strip())
    if not names:
        raise click.BadParameter("give at least one sensor name", param_hint="--sensors")
    try:
        config = SampleConfig(
            seed=seed,
            start=start.date(),
            days=days,
            sessions_per_day=sessions_per_day,
            sensors=names,
            compress=None if compress == "none" else compress,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if no_dirt:
        config = config.clean()
    summary = write_sample_logs(out_dir, config)
    click.echo(summary.one_line(), err=True)
