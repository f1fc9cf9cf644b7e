"""``ingest --jobs N``: several loader processes over one PostgreSQL database at once.

The files are grouped by sensor (the ``sensor`` of a file's first events, else the name of
its directory), and the groups are shared out over at most N loaders, largest first onto
the least loaded: one sensor's files, whose sessions run from one file into the next, stay
with one loader, and loaders of different sensors never wait for each other
(``ingest/claims.py``).

Each loader is a fresh Python process (not a fork: the parent runs threads) in a session of
its own, so a Ctrl-C on the terminal reaches the parent only, which asks every loader to
stop after its batch in flight (SIGINT), and kills them on a second Ctrl-C. A loader writes
its own status file (``ingest-1``, ``ingest-2``, ...: ``monitor`` shows them) and tells the
parent its statistics after each batch, as JSON lines on its standard output; the parent
adds them up into one :class:`~cowrieprocessor.ingest.loader.IngestStats`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine

from cowrieprocessor.ingest.loader import DEFAULT_BATCH_SIZE, IngestStats, Loader
from cowrieprocessor.ingest.parse import load_json
from cowrieprocessor.ingest.reader import READ_ERRORS, open_log

#: First lines of a file read to find its sensor.
_SENSOR_LINES = 20
#: Seconds the parent waits for a message before checking for Ctrl-C again.
_POLL = 0.2


class LoaderFailed(RuntimeError):
    """A loader process failed or died; the others were stopped, committed work is kept."""


def file_sensor(path: Path) -> str:
    """The sensor a log file belongs to: the first ``sensor`` named in its first lines, else
    the name of its directory."""
    with contextlib.suppress(*READ_ERRORS, ValueError), open_log(path) as fh:
        for _ in range(_SENSOR_LINES):
            line = fh.readline(1 << 16)
            if not line:
                break
            with contextlib.suppress(Exception):  # a bad line: the next may tell
                sensor = load_json(line).get("sensor")
                if isinstance(sensor, str) and sensor:
                    return sensor
    return path.parent.name


def group_by_sensor(files: Sequence[Path], jobs: int) -> list[list[Path]]:
    """``files`` shared out over at most ``jobs`` groups, each sensor's files in one group
    (in their given order), balanced by size: largest sensor first onto the lightest group."""
    by_sensor: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        by_sensor[file_sensor(path)].append(path)
    sizes = {sensor: sum(_size(p) for p in paths) for sensor, paths in by_sensor.items()}
    groups: list[list[Path]] = [[] for _ in range(min(jobs, len(by_sensor)))]
    loads = [0] * len(groups)
    for sensor in sorted(by_sensor, key=lambda s: (-sizes[s], s)):
        lightest = loads.index(min(loads))
        groups[lightest].extend(by_sensor[sensor])
        loads[lightest] += sizes[sensor]
    order = {path: i for i, path in enumerate(files)}
    return [sorted(group, key=order.__getitem__) for group in groups if group]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclasses.dataclass
class _Job:
    """What a loader process is asked to do (pickled to its standard input)."""

    url: str
    files: list[Path]
    default_sensor: str | None
    batch_size: int
    full: bool
    status_dir: Path | None
    phase: str
    rate_counters: tuple[str, ...]


class LoaderPool:
    """Run up to ``jobs`` loaders over the files; the same use as :class:`Loader`."""

    def __init__(
        self,
        engine: Engine,
        *,
        jobs: int,
        default_sensor: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        full: bool = False,
        status_dir: Path | None = None,
        rate_counters: Iterable[str] = (),
        on_progress: Callable[[IngestStats], None] | None = None,
    ) -> None:
        self.engine = engine
        self.jobs = jobs
        self.default_sensor = default_sensor
        self.batch_size = batch_size
        self.full = full
        self.status_dir = status_dir
        self.rate_counters = tuple(rate_counters)
        self.on_progress = on_progress
        self.stats = IngestStats()
        self.loaders = 0

    def ingest(self, paths: Sequence[Path]) -> IngestStats:
        """Load ``paths`` with one process per group of :func:`group_by_sensor`; return the
        statistics of them all (``seconds``: the wall time of the whole).

        An exception from ``on_progress`` (Ctrl-C at a safe point) stops every loader after
        its batch in flight and is raised again once they have all ended.
        """
        started = time.perf_counter()
        groups = group_by_sensor(paths, self.jobs)
        self.loaders = len(groups)
        url = self.engine.url.render_as_string(hide_password=False)
        watch = _Watch(
            [
                _spawn(
                    _Job(
                        url,
                        group,
                        self.default_sensor,
                        self.batch_size,
                        self.full,
                        self.status_dir,
                        f"ingest-{number}",
                        self.rate_counters,
                    )
                )
                for number, group in enumerate(groups, 1)
            ]
        )
        try:
            while watch.running:
                watch.receive()
                self.stats = _combined(watch.latest, len(paths), time.perf_counter() - started)
                if self.on_progress is not None and watch.stopping is None:
                    try:
                        self.on_progress(self.stats)
                    except BaseException as exc:  # Ctrl-C at a safe point, or the caller's error
                        watch.stop(exc)
        except BaseException:  # a second Ctrl-C: stop at once, like a crash
            watch.kill()
            raise
        for process in watch.processes:
            process.wait()
        self.stats = _combined(watch.latest, len(paths), time.perf_counter() - started)
        if watch.stopping is not None:
            raise watch.stopping
        if watch.failures:
            raise LoaderFailed("; ".join(watch.failures))
        return self.stats


class _Watch:
    """The loader processes of one :meth:`LoaderPool.ingest`: their latest statistics,
    which of them still run, which failed, and whether they were asked to stop."""

    def __init__(self, processes: list[subprocess.Popen[bytes]]) -> None:
        self.processes = processes
        self.messages: queue.SimpleQueue[tuple[int, dict[str, Any] | None]] = queue.SimpleQueue()
        for index, process in enumerate(processes):
            assert process.stdout is not None
            threading.Thread(
                target=_relay, args=(index, process.stdout, self.messages), daemon=True
            ).start()
        self.latest: list[dict[str, Any]] = [{} for _ in processes]
        # A loader is asked to stop only once it says it listens (its signal handlers set):
        # before, SIGINT would end it in its start-up, with no status file.
        self.ready = [False] * len(processes)
        self.stop_asked = False
        self.stopping: BaseException | None = None
        self.failures: list[str] = []
        self.running = len(processes)

    def receive(self) -> None:
        """Take in the next message of a loader, if one comes within the poll interval."""
        try:
            index, message = self.messages.get(timeout=_POLL)
        except queue.Empty:
            return
        if message is None:
            self.running -= 1
            problem = _ended(index, self.processes[index], self.latest[index])
            if problem is not None:
                self.failures.append(problem)
                self.stop()
        elif "ready" in message:
            self.ready[index] = True
            if self.stop_asked:
                _signal_all([self.processes[index]], signal.SIGINT)
        elif "error" in message:
            self.latest[index]["error"] = message["error"]
        else:
            self.latest[index] = message

    def stop(self, reason: BaseException | None = None) -> None:
        """Ask every loader to stop after its batch in flight (``reason``: raised at the end)."""
        if reason is not None:
            self.stopping = reason
        self.stop_asked = True
        _signal_all(
            [p for p, r in zip(self.processes, self.ready, strict=True) if r], signal.SIGINT
        )

    def kill(self) -> None:
        """End every loader at once and wait for them."""
        _signal_all(self.processes, signal.SIGKILL)
        for process in self.processes:
            process.wait()


def _spawn(job: _Job) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cowrieprocessor.ingest.pool"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # Out of the terminal's process group: Ctrl-C reaches the parent, which decides.
        start_new_session=True,
    )
    assert process.stdin is not None
    process.stdin.write(pickle.dumps(job, pickle.HIGHEST_PROTOCOL))
    process.stdin.close()
    return process


def _relay(
    index: int, stream: IO[bytes], messages: queue.SimpleQueue[tuple[int, dict[str, Any] | None]]
) -> None:
    """Pass a loader's messages (JSON lines) to the parent; None when its output ends."""
    with stream:
        for line in stream:
            with contextlib.suppress(orjson.JSONDecodeError):
                messages.put((index, orjson.loads(line)))
    messages.put((index, None))


def _signal_all(processes: Sequence[subprocess.Popen[bytes]], signum: int) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)


def _ended(index: int, process: subprocess.Popen[bytes], last: dict[str, Any]) -> str | None:
    """Why loader ``index`` failed, or None when it finished or was stopped as asked."""
    code = process.wait()
    if "error" in last:
        return f"loader {index + 1}: {last['error']}"
    if code in (0, 128 + signal.SIGINT):
        return None
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    return f"loader {index + 1} died ({how})"


_SUMMED = (
    "files_done",
    "files_unchanged",
    "files_reread",
    "records",
    "events_new",
    "events_duplicate",
    "sessions_touched",
    "bytes_read",
    "bytes_total",
    "retries",
)


def _combined(latest: Sequence[dict[str, Any]], files: int, seconds: float) -> IngestStats:
    """The loaders' latest statistics added up."""
    stats = IngestStats(files=files, seconds=seconds)
    for reported in latest:
        for name in _SUMMED:
            setattr(stats, name, getattr(stats, name) + reported.get(name, 0))
        stats.dead_letters.update(reported.get("dead_letters", {}))
        if reported.get("current_file"):
            stats.current_file = reported["current_file"]
            stats.current_offset = reported.get("current_offset", 0)
    return stats


# -- the loader process ------------------------------------------------------------------


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message, default=str) + b"\n")
    sys.stdout.buffer.flush()


def _report(stats: IngestStats) -> dict[str, Any]:
    fields = dataclasses.asdict(stats)
    fields["dead_letters"] = dict(Counter(stats.dead_letters))
    return fields


def _run_loader(job: _Job) -> int:
    """Load the job's files; the exit code says how it ended (0, or 130 when asked to stop)."""
    # Imported here: the parent never needs the database driver's engine set-up twice.
    from cowrieprocessor.db.engine import create_engine_for_url
    from cowrieprocessor.status import StatusEmitter

    stop = threading.Event()
    parent = os.getppid()

    def on_signal(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second one: at once
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    engine = create_engine_for_url(job.url)
    loader = Loader(
        engine, default_sensor=job.default_sensor, batch_size=job.batch_size, full=job.full
    )
    status = StatusEmitter(job.phase, job.status_dir, rate_counters=job.rate_counters)

    def on_progress(stats: IngestStats) -> None:  # after each committed batch
        status.update(
            stats.counters(),
            current_file=stats.current_file,
            checkpoint={"file": stats.current_file, "offset": stats.current_offset},
        )
        _emit(_report(stats))
        if stop.is_set() or os.getppid() != parent:  # asked to stop, or orphaned
            raise KeyboardInterrupt

    loader.on_progress = on_progress
    try:
        with status:
            status.update({"files": len(job.files)}, database=engine.url.render_as_string())
            _emit({"ready": True})
            try:
                loader.ingest(job.files)
            finally:
                status.update(loader.stats.counters(), summary=loader.stats.as_dict())
                status.update(None, current_file=None, checkpoint=None)
    except KeyboardInterrupt:
        _emit(_report(loader.stats))
        return 128 + signal.SIGINT
    except Exception as exc:
        _emit({"error": str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)})
        return 1
    finally:
        engine.dispose()
    _emit(_report(loader.stats))
    return 0


if __name__ == "__main__":
    sys.exit(_run_loader(pickle.load(sys.stdin.buffer)))
