"""Pieces every command shares: the app context, consoles and turning errors into one line."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cowrieprocessor.config import default_status_dir, resolve_db_url
from cowrieprocessor.db.engine import DatabaseURLError, create_engine_for_url
from cowrieprocessor.db.migrate import SchemaError, ensure_schema

if TYPE_CHECKING:  # Rich and the status writer load only when a command draws or reports
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

    from cowrieprocessor.status import StatusEmitter

F = TypeVar("F", bound=Callable[..., Any])


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
        """Status file writer for a phase, in ``--status-dir`` or the default status dir."""
        from cowrieprocessor.status import StatusEmitter

        return StatusEmitter(phase, self.status_dir or default_status_dir())

    @property
    def url(self) -> str:
        """The database URL in effect."""
        return resolve_db_url(self.db_url)

    def engine(self, *, migrate: bool = True) -> Engine:
        """The engine; with ``migrate`` an empty database gets the schema first."""
        if self._engine is None:
            self._engine = create_engine_for_url(self.url)
            if migrate:
                ensure_schema(self._engine)
        return self._engine


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
    """The user asked the running command to stop (Ctrl-C), and it stopped at a safe point."""


@contextmanager
def stop_on_ctrl_c(console: Console) -> Iterator[Callable[[], None]]:
    """Let a first Ctrl-C stop the work at its next safe point instead of wherever it is.

    Yields ``check``: call it where stopping loses nothing (after a commit, between steps
    of one transaction); it raises :class:`Interrupted` once Ctrl-C was pressed. A second
    Ctrl-C interrupts at once, as usual. Nested uses share the outermost one.
    """
    global _stop_requested
    requested = _stop_requested
    # Only the outermost use in the main thread installs the handler (signal handlers
    # belong to the main thread); nested uses see its request.
    owner = requested is None and threading.current_thread() is threading.main_thread()

    def check() -> None:
        if requested is not None and requested.is_set():
            raise Interrupted

    def on_sigint(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert requested is not None
        requested.set()
        console.print("stopping at the next safe point; Ctrl-C again to stop at once")

    if not owner:
        yield check
        return
    requested = _stop_requested = threading.Event()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
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
            raise click.ClickException(f"database error: {reason}") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"database error: {exc.__class__.__name__}: {exc}") from None
        except KeyboardInterrupt:  # Interrupted too
            interrupted = click.ClickException("interrupted; work already committed is kept")
            interrupted.exit_code = 130  # 128 + SIGINT, as shells report it
            raise interrupted from None
        except BrokenPipeError:
            raise  # the reader went away (| head): click exits quietly
        except OSError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
