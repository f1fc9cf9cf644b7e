"""What several commands share, so that no command module imports another: the app context,
consoles and progress bars, turning errors into one line, stopping at a safe point on
Ctrl-C, the reporting options (``--sensor``/``--all-sensors``, ``--top-n``, ``--output``),
choosing sensors, and refreshing stale rollups with progress.

Rich, the reporting modules and the status writer are imported only by what uses them: a
report as JSON never loads Rich, ``db current`` never loads the report builders.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cowrieprocessor.config import DB_URL_ENV, default_status_dir, resolve_db_url
from cowrieprocessor.db.engine import (
    DatabaseURLError,
    create_engine_for_url,
    sqlite_file,
    sqlite_path,
)
from cowrieprocessor.db.migrate import SchemaError, current_revision, ensure_schema

if TYPE_CHECKING:  # Rich and the status writer load only when a command draws or reports
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn
    from rich.table import Table

    from cowrieprocessor.enrichment.base import Provider
    from cowrieprocessor.enrichment.runner import ProviderRun
    from cowrieprocessor.enrichment.store import Scope
    from cowrieprocessor.prune import PruneStats
    from cowrieprocessor.rollups.refresh import RefreshStats
    from cowrieprocessor.status import StatusEmitter

F = TypeVar("F", bound=Callable[..., Any])


#: Per phase, the counters that grow with the work done and so have a rate per second in
#: its status file (a phase not listed has none); the others are totals (``files``,
#: ``bytes_total``, ``buckets_total``), whose rate would mean nothing.
RATE_COUNTERS: dict[str, tuple[str, ...]] = {
    "ingest": (
        "files_done",
        "records",
        "events_new",
        "events_duplicate",
        "dead_letters",
        "bytes_read",
    ),
    "refresh": ("buckets_done",),
    "prune": ("events_deleted",),
    "enrichment": ("looked_up", "requests"),
    # "reporting": the publish run sets its own (es.run.RATE_COUNTERS).
}


@dataclass
class AppContext:
    """Options given before the sub-command, and the lazily created engine."""

    db_url: str | None
    status_dir: Path | None
    _engine: Engine | None = field(default=None, repr=False)

    def close(self) -> None:
        """Release the engine's connections (called when the command ends)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def status(self, phase: str) -> StatusEmitter:
        """Status file writer for a phase, in ``--status-dir`` or the default status dir,
        with rates of the phase's :data:`RATE_COUNTERS` only."""
        from cowrieprocessor.status import StatusEmitter

        return StatusEmitter(
            phase,
            self.status_dir or default_status_dir(),
            rate_counters=RATE_COUNTERS.get(phase, ()),
        )

    @property
    def url(self) -> str:
        """The database URL in effect."""
        return resolve_db_url(self.db_url, create_default_dir=False)

    def engine(self, *, create: bool = False, migrate: bool = True) -> Engine:
        """The engine of the database, which must exist unless ``create``: commands that
        only read (or refresh) a database never create one, so a mistyped SQLite path is an
        error naming the file, not a new empty database.

        ``migrate``: the schema must be the current one; with ``create`` an empty database
        gets it first (ingest), else an empty database is an error saying to ingest first.
        """
        if self._engine is None:
            engine = create_engine_for_url(resolve_db_url(self.db_url, create_default_dir=create))
            try:
                path = sqlite_file(engine)
                if path is not None and not create and not Path(path).exists():
                    raise DatabaseURLError(
                        f"no SQLite database at {_shown(path)}: check --db or {DB_URL_ENV}"
                        " (only 'ingest' and 'db upgrade' create a database)"
                    )
                if migrate and not create and current_revision(engine) is None:
                    raise SchemaError(NO_SESSIONS)
                if migrate:
                    ensure_schema(engine)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine


#: The error of a command that reports on a database nothing was loaded into.
NO_SESSIONS = "the database holds no sessions yet: run 'cowrie-report ingest PATH' first"


def _shown(text: str) -> str:
    """A path or URL given by the user, with control characters made visible."""
    from cowrieprocessor.reporting.safe_text import escape_controls

    return escape_controls(text)


pass_app = click.make_pass_decorator(AppContext)


def stderr_console() -> Console:
    """Console for progress and messages; stdout stays for data."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def progress_bar(console: Console, *columns: ProgressColumn) -> Progress:
    """A transient progress bar on ``console`` (stderr), shown only on a terminal."""
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        *columns,
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


class Interrupted(KeyboardInterrupt):
    """The user asked the running command to stop (Ctrl-C, or SIGTERM from a service
    manager), and it stopped at a safe point; ``signum`` is the signal that asked."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _StoppedByCtrlC(click.ClickException):
    """The command stopped for Ctrl-C; exit status 130, as shells report it."""

    exit_code = 128 + signal.SIGINT


class _StoppedBySigterm(click.ClickException):
    """The command stopped for SIGTERM; exit status 143, as shells report it."""

    exit_code = 128 + signal.SIGTERM


@contextmanager
def stop_on_ctrl_c(console: Console) -> Iterator[Callable[[], None]]:
    """Let a first Ctrl-C or SIGTERM stop the work at its next safe point instead of
    wherever it is.

    Yields ``check``: call it where stopping loses nothing (after a commit, between steps
    of one transaction); it raises :class:`Interrupted` once a stop was asked for. A second
    Ctrl-C interrupts at once, as usual, and a second SIGTERM ends the process at once.
    Nested uses share the outermost one.
    """
    global _stop_requested
    requested = _stop_requested
    # Only the outermost use in the main thread installs the handlers (signal handlers
    # belong to the main thread); nested uses see its request.
    owner = requested is None and threading.current_thread() is threading.main_thread()
    asked: list[int] = []  # the signal that asked to stop

    def check() -> None:
        if requested is not None and requested.is_set():
            raise Interrupted(asked[0] if asked else signal.SIGINT)

    def on_signal(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        assert requested is not None
        asked.append(signum)
        requested.set()
        again = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        console.print(f"stopping at the next safe point; {again} again to stop at once")

    if not owner:
        yield check
        return
    requested = _stop_requested = threading.Event()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield check
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_requested = None


#: The Ctrl-C request of the outermost :func:`stop_on_ctrl_c` in effect, if any.
_stop_requested: threading.Event | None = None


def user_errors(func: F) -> F:
    """Turn expected failures into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DatabaseURLError, SchemaError) as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:  # the driver's own message says it best
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(f"{_database_label()}: {reason}") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {exc.__class__.__name__}: {exc}") from None
        except KeyboardInterrupt as exc:  # Interrupted too
            if getattr(exc, "signum", signal.SIGINT) == signal.SIGINT:
                raise _StoppedByCtrlC("interrupted; work already committed is kept") from None
            raise _StoppedBySigterm("stopped by SIGTERM; work already committed is kept") from None
        except BrokenPipeError:
            raise  # the reader went away (| head): click exits quietly
        except OSError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _database_label() -> str:
    """How an error names the database: the file of a SQLite database (its messages, such as
    'unable to open database file', do not), else just 'database error'."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    path = sqlite_path(app.url) if app is not None else None
    return f"SQLite database {_shown(path)}" if path is not None else "database error"


# -- refreshing rollups ----------------------------------------------------------------------


def run_refresh(
    engine: Engine, console: Console, status: StatusEmitter, *, full: bool = False
) -> RefreshStats:
    """Refresh (or rebuild) with a progress bar on ``console`` (when it is a terminal) and
    progress in the ``refresh`` status file."""
    from rich.progress import MofNCompleteColumn, TimeElapsedColumn

    from cowrieprocessor.rollups.refresh import rebuild_all, refresh_dirty

    with (
        status,
        progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress,
        stop_on_ctrl_c(console) as check_stop,
    ):
        task = progress.add_task("rebuild" if full else "refresh", total=None)

        def on_progress(stats: RefreshStats) -> None:
            what = "rollups" if stats.full else "buckets"
            progress.update(
                task,
                total=stats.buckets_total or None,
                completed=stats.buckets_done,
                description=f"{'rebuild' if stats.full else 'refresh'} {what}"
                + (f" ({stats.current})" if stats.current else ""),
            )
            status.update(
                {"buckets_total": stats.buckets_total, "buckets_done": stats.buckets_done},
                full=stats.full,
                current=stats.current,
            )
            check_stop()  # the refresh is one transaction: stopping rolls it all back

        stats = (rebuild_all if full else refresh_dirty)(engine, on_progress=on_progress)
        status.update({"buckets_total": stats.buckets_total, "buckets_done": stats.buckets_done})
        status.finish(current=None, summary=stats.as_dict())
        return stats


def refresh_line(stats: RefreshStats) -> str:
    """One line of counts: what a refresh did."""
    what = "full rebuild" if stats.full else f"{stats.buckets_total:,} dirty buckets"
    kept = f", {stats.marks_kept:,} marks kept (changed meanwhile)" if stats.marks_kept else ""
    frozen = ""
    if stats.frozen_before is not None and (stats.full or stats.buckets_frozen):
        frozen = f"; days before {stats.frozen_before} are pruned and kept as they are" + (
            f" ({stats.buckets_frozen:,} marks cleared)" if stats.buckets_frozen else ""
        )
    return (
        f"rollups: {what}, {sum(stats.rows_deleted.values()):,} rows deleted, "
        f"{sum(stats.rows_inserted.values()):,} rows written{kept} in {stats.seconds:.2f} s"
        f"{frozen}"
    )


def fresh_engine(app: AppContext) -> Engine:
    """The engine, with any stale rollup buckets refreshed first (reports read rollups)."""
    from cowrieprocessor.rollups.refresh import dirty_buckets

    engine = app.engine()
    if dirty_buckets(engine):
        console = stderr_console()
        console.print(
            refresh_line(run_refresh(engine, console, app.status("refresh"))), markup=False
        )
    return engine


# -- retention -------------------------------------------------------------------------------


def retention_default() -> date | None:
    """The DAY of the configured retention (``COWRIE_RETENTION_RAW_DAYS``), or None."""
    from cowrieprocessor.config import ConfigError, retention_raw_days
    from cowrieprocessor.prune import retention_day

    try:
        days = retention_raw_days()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return None if days is None else retention_day(days)


def run_prune(
    app: AppContext, day: date | None, *, dry_run: bool = False, engine: Engine | None = None
) -> PruneStats:
    """Prune raw events before ``day`` (None: the configured retention) with a progress bar
    and the ``prune`` status file."""
    from rich.progress import MofNCompleteColumn, TimeElapsedColumn

    from cowrieprocessor.config import RETENTION_ENV
    from cowrieprocessor.prune import PruneError, prune

    if day is None:
        day = retention_default()
    if day is None:
        raise click.ClickException(f"give --raw-before DAY, or set {RETENTION_ENV}")
    engine = engine or app.engine()
    console = stderr_console()
    with (
        app.status("prune") as status,
        progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress,
    ):
        task = progress.add_task("prune", total=None)

        def on_progress(stats: PruneStats) -> None:
            progress.update(
                task,
                total=stats.events_to_delete or None,
                completed=stats.events_deleted,
                description=f"prune ({stats.phase})",
            )
            status.update(
                {
                    "events_to_delete": stats.events_to_delete,
                    "events_deleted": stats.events_deleted,
                },
                phase=stats.phase,
                raw_before=stats.raw_before.isoformat(),
            )

        try:
            stats = prune(engine, day, dry_run=dry_run, on_progress=on_progress)
        except PruneError as exc:
            raise click.ClickException(str(exc)) from None
        status.finish(summary=stats.as_dict())
    return stats


def prune_line(stats: PruneStats) -> str:
    """One line: what a prune did, or would do."""
    day = stats.raw_before.isoformat()
    if stats.dry_run:
        return (
            f"prune (dry run): would delete {stats.events_to_delete:,} raw events of days"
            f" before {day} and refresh {stats.buckets_refreshed:,} dirty buckets first"
        )
    size = ""
    if stats.bytes_before is not None and stats.bytes_after is not None:
        size = (
            f"; database {stats.bytes_before / 2**20:,.1f} -> {stats.bytes_after / 2**20:,.1f} MiB"
        )
    vacuum = "" if stats.vacuum == "none" else f", vacuum: {stats.vacuum}"
    return (
        f"prune: raw events before {day} deleted ({stats.events_deleted:,} now,"
        f" {stats.straddling_sessions:,} sessions straddling {day} included),"
        f" {stats.buckets_refreshed:,} buckets refreshed first{vacuum}{size}"
        f" in {stats.seconds:.2f} s"
    )


# -- enrichment ------------------------------------------------------------------------------

#: Reasons a provider stopped that are not failures of the run (exit code 0).
_BENIGN_STOPS = ("daily budget", "quota", "--max-requests")


def select_providers(
    requested: tuple[str, ...], *, offline_only: bool, online: bool, config: Path | None
) -> list[Provider]:
    """The providers to run: those named, else the offline one plus (``online``) every
    configured online provider. Raises ClickException for unknown or unconfigured ones."""
    from cowrieprocessor.enrichment.base import HttpProvider
    from cowrieprocessor.enrichment.config import ConfigError, load_config
    from cowrieprocessor.enrichment.providers.offline import OfflineDataError
    from cowrieprocessor.enrichment.registry import DEFAULT, PROVIDERS, names

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
    scope: Scope | None = None,
    refresh: bool = False,
    max_requests: int | None = None,
    check_stop: Callable[[], None] | None = None,
) -> list[ProviderRun]:
    """Run ``providers`` with a progress bar and the ``enrichment`` status file (``scope``
    None: every stored session)."""
    from rich.progress import MofNCompleteColumn, TaskID, TimeElapsedColumn

    from cowrieprocessor.enrichment.providers.offline import OfflineDataError
    from cowrieprocessor.enrichment.runner import ProviderRun, run_provider
    from cowrieprocessor.enrichment.store import Scope
    from cowrieprocessor.secrets import SecretResolutionError

    runs: list[ProviderRun] = []
    done = {"looked_up": 0, "requests": 0, "errors": 0}
    with (
        app.status("enrichment") as status,
        progress_bar(console, MofNCompleteColumn(), TimeElapsedColumn()) as progress,
    ):
        status.update({}, providers=[p.name for p in providers])
        for provider in providers:
            task = progress.add_task(f"enrich {provider.name}", total=None)

            def on_progress(run: ProviderRun, task: TaskID = task) -> None:
                progress.update(task, total=run.pending or None, completed=run.looked_up)
                status.update(  # the providers done so far, plus this one
                    {
                        "looked_up": done["looked_up"] + run.looked_up,
                        "requests": done["requests"] + run.requests,
                        "errors": done["errors"] + run.errors,
                        "pending": run.pending,
                    },
                    current=run.provider,
                )

            try:
                run = run_provider(
                    engine,
                    provider,
                    scope=scope or Scope(),
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
            for key in done:
                done[key] += getattr(run, key)
            progress.remove_task(task)
        status.finish(current=None, summary=[r.as_dict() for r in runs])
    return runs


def summary_table(runs: list[ProviderRun]) -> Table:
    """The per-provider summary."""
    from rich.table import Table

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


# -- reporting options -----------------------------------------------------------------------


def sensor_options(func: F) -> F:
    """``--sensor`` and ``--all-sensors``, shared by every command that reports."""
    func = click.option(
        "--all-sensors", is_flag=True, help="The aggregate and then one report per sensor."
    )(func)
    return click.option(
        "--sensor",
        metavar="NAME",
        help="Only sessions of this sensor (default: all sensors together).",
    )(func)


def top_n_option(func: F) -> F:
    """``--top-n``, shared by every command that builds reports."""
    from cowrieprocessor.reporting.builders import DEFAULT_TOP_N

    return click.option(
        "--top-n",
        default=DEFAULT_TOP_N,
        show_default=True,
        type=click.IntRange(1, 1000),
        help="Length of every top list.",
    )(func)


def output_options(func: F) -> F:
    """``--output FILE`` instead of stdout, and ``--force`` to replace an existing file; use
    :func:`check_output` before the work and :func:`open_output` for writing."""
    func = click.option(
        "--force", is_flag=True, help="Replace an existing --output file (never the database)."
    )(func)
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write to this file instead of stdout (an existing file only with --force).",
    )(func)


def check_output(app: AppContext, path: Path | None, force: bool) -> None:
    """Refuse an ``--output`` that is the SQLite database or one of its side files, whatever
    ``force`` says, and any other existing regular file without ``force``."""
    if path is None:
        return
    database = sqlite_path(app.url)
    if database is not None:
        for name in (database, *(database + s for s in ("-wal", "-shm", "-journal"))):
            # By name too: the side files come and go while the database is open.
            if path.resolve() == Path(name).resolve() or _same_file(path, Path(name)):
                raise click.ClickException(
                    f"--output {_shown(str(path))} is the database (or one of its files):"
                    " refusing to overwrite it"
                )
    if path.is_file() and not force:
        raise click.ClickException(
            f"{_shown(str(path))} exists: add --force to replace it, or choose another --output"
        )


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and b.exists() and a.samefile(b)


@contextmanager
def open_output(path: Path | None) -> Iterator[IO[str]]:
    """Text output to ``path``, or to stdout for None (check it with :func:`check_output`)."""
    if path is None:
        yield sys.stdout
    else:
        with path.open("w", encoding="utf-8", newline="") as fh:
            yield fh


def resolve_sensors(engine: Engine, sensor: str | None, all_sensors: bool) -> list[str | None]:
    """Sensors to report on (None = the aggregate); clear errors for unknown ones."""
    from cowrieprocessor.db.engine import create_session_maker
    from cowrieprocessor.reporting.dal import ReportingDAL
    from cowrieprocessor.sensors import AGGREGATE, PROBLEMS

    with create_session_maker(engine)() as session:
        known = ReportingDAL(session).sensors()
    if not known:
        raise click.ClickException(NO_SESSIONS)
    if sensor == AGGREGATE:
        raise click.ClickException(
            f"{PROBLEMS['reserved_sensor']}: leave out --sensor for that report"
        )
    if sensor is not None and sensor not in known:
        raise unknown_sensor(sensor, known)
    if all_sensors:
        if AGGREGATE in known:  # stored before the name was reserved; the aggregate has it
            click.echo(
                f"skipping the sensor {AGGREGATE!r}: {PROBLEMS['reserved_sensor']}", err=True
            )
        return [None, *(s for s in known if s != AGGREGATE)]
    return [sensor]


def unknown_sensor(sensor: str, known: list[str]) -> click.ClickException:
    """The error for a ``--sensor`` no stored session has, listing those that exist."""
    if not known:
        return click.ClickException(NO_SESSIONS)
    return click.ClickException(
        f"unknown sensor {sensor!r}; known sensors: " + ", ".join(repr(s) for s in known)
    )


def sensor_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Click callback refusing a name no sensor may have (``sensors.sensor_name_problem``)."""
    from cowrieprocessor.sensors import PROBLEMS, sensor_name_problem

    problem = None if value is None else sensor_name_problem(value)
    if problem is not None:
        raise click.BadParameter(PROBLEMS[problem])
    return value
