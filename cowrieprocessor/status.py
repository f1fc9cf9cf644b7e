"""Machine-readable progress of long-running phases (ingest, refresh, reporting, ...).

A :class:`StatusEmitter` writes ``<status_dir>/<phase>.json`` atomically (temporary file in the
same directory, then ``os.replace``) and keeps ``<status_dir>/status.json``, an aggregate
``{phase: latest payload}``, up to date under an exclusive ``fcntl.flock`` on the sidecar file
``<status_dir>/.status.lock`` so several processes can share one directory.

Payload (one phase)::

    {"phase": "ingest", "state": "running" | "finished" | "failed" | "interrupted",
     "pid": 1234, "host": "sensor-box", "started_at": "...Z", "updated_at": "...Z",
     "elapsed_seconds": 12.5, "counters": {"events": 1000, ...},
     "rate": {"events": 80.0, ...}, "details": {"file": "...", ...},
     "errors": [{"reason": "bad_json", "count": 3, "message": "...", "at": "...Z"}, ...]}

Status writing never breaks the job it reports on: an ``OSError`` while writing is logged once
and otherwise ignored. With ``status_dir=None`` the emitter only keeps counters in memory.

Secrets: the emitter writes what it is given, but as a safety net details and errors pass
through :data:`cowrieprocessor.secrets.redact`: values under keys that look like secrets
(password, token, api_key, secret, credential, ...) are replaced by ``"***"`` and
``user:password@`` in URL-like strings becomes ``user:***@``.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from cowrieprocessor.secrets import redact

try:  # POSIX only; without it the aggregate is still atomic, just not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["AGGREGATE_NAME", "LOCK_NAME", "StatusEmitter"]

log = logging.getLogger(__name__)

AGGREGATE_NAME = "status.json"
"""File name of the aggregate ``{phase: payload}`` file."""
LOCK_NAME = ".status.lock"
"""Sidecar lock file guarding read-modify-write of the aggregate."""

_PHASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_MESSAGE = 500


def _utc_iso(ts: float) -> str:
    return (
        datetime.datetime.fromtimestamp(ts, datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _dumps(payload: Any) -> bytes:
    return orjson.dumps(
        payload,
        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE,
        default=str,
    )


def _atomic_write(path: Path, data: bytes, *, fsync: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StatusEmitter:
    """Throttled, atomic status files for one phase of work.

    Args:
        phase: phase name, also the file name (``ingest`` -> ``ingest.json``); letters,
            digits, ``_``, ``.``, ``-``.
        status_dir: directory for status files (created on first write); ``None`` disables
            writing (the emitter still counts in memory, cheaply).
        min_interval: minimum seconds between throttled writes (``update``/``increment``);
            ``flush``, ``finish`` and entering the context manager always write.
        rate_counters: counters for which ``rate`` (per second since start) is reported;
            ``None`` means every counter.
        max_errors: number of distinct error reasons kept; later new reasons are folded
            into ``"other"``.
        fsync: fsync files before replacing them (durable, slower).

    Use as a context manager: entering writes a ``running`` payload; leaving finishes with
    ``finished``, ``interrupted`` when a ``KeyboardInterrupt`` escapes (Ctrl-C or SIGTERM
    at a safe point), or ``failed`` (with the exception type and message) when another
    exception escapes (the exception is not swallowed).
    """

    def __init__(
        self,
        phase: str,
        status_dir: Path | str | None,
        *,
        min_interval: float = 0.5,
        rate_counters: Iterable[str] | None = None,
        max_errors: int = 20,
        fsync: bool = False,
    ) -> None:
        if not _PHASE_RE.match(phase) or phase + ".json" == AGGREGATE_NAME:
            raise ValueError(f"invalid phase name {phase!r}")
        self.phase = phase
        self.status_dir = Path(status_dir) if status_dir is not None else None
        self.min_interval = min_interval
        self.rate_counters = None if rate_counters is None else tuple(rate_counters)
        self.max_errors = max_errors
        self.fsync = fsync
        self.state = "running"
        self.counters: dict[str, int | float] = {}
        self.details: dict[str, Any] = {}
        self._errors: dict[str, dict[str, Any]] = {}
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.started_at = time.time()
        self._started_mono = time.monotonic()
        self._last_write = float("-inf")
        self._write_failed = False

    # -- public API ----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether status files are written at all."""
        return self.status_dir is not None

    @property
    def path(self) -> Path | None:
        """This phase's status file, or ``None`` when disabled."""
        return None if self.status_dir is None else self.status_dir / f"{self.phase}.json"

    def update(self, counters: Mapping[str, int | float] | None = None, /, **details: Any) -> bool:
        """Set ``counters`` (absolute values) and merge ``details``; write if due.

        A detail set to ``None`` is removed. Returns whether a write happened.
        """
        if counters:
            self.counters.update(counters)
        for key, value in details.items():
            if value is None:
                self.details.pop(key, None)
            else:
                self.details[key] = value
        return self._maybe_write()

    def increment(self, name: str, n: int | float = 1) -> bool:
        """Add ``n`` to counter ``name``; write if due. Returns whether a write happened."""
        self.counters[name] = self.counters.get(name, 0) + n
        return self._maybe_write()

    def error(self, reason: str, message: str = "") -> None:
        """Record an error under ``reason`` (counted; the latest message is kept, truncated)."""
        entry = self._errors.get(reason)
        if entry is None:
            if len(self._errors) >= self.max_errors:
                reason = "other"
                entry = self._errors.get(reason)
            if entry is None:
                entry = self._errors[reason] = {"reason": reason, "count": 0}
        entry["count"] += 1
        entry["message"] = message[:_MAX_MESSAGE]
        entry["at"] = _utc_iso(time.time())
        self._maybe_write()

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Recorded errors: ``[{reason, count, message, at}]``, most frequent first."""
        return sorted(
            (dict(e) for e in self._errors.values()), key=lambda e: (-e["count"], e["reason"])
        )

    def flush(self) -> None:
        """Write now, regardless of ``min_interval``."""
        self._write()

    def finish(self, state: str = "finished", **details: Any) -> None:
        """Set the final ``state`` (``finished``, ``failed`` or ``interrupted``), merge
        ``details`` and write."""
        self.state = state
        self.update(None, **details)
        self._write()

    def payload(self) -> dict[str, Any]:
        """The status document as it would be written now (secrets redacted)."""
        now = time.time()
        elapsed = max(0.0, time.monotonic() - self._started_mono)
        names = self.counters if self.rate_counters is None else self.rate_counters
        rate = {
            name: round(self.counters.get(name, 0) / elapsed, 2) if elapsed > 0 else 0.0
            for name in names
        }
        return {
            "phase": self.phase,
            "state": self.state,
            "pid": self.pid,
            "host": self.host,
            "started_at": _utc_iso(self.started_at),
            "updated_at": _utc_iso(now),
            "elapsed_seconds": round(elapsed, 3),
            "counters": dict(self.counters),
            "rate": rate,
            "details": redact(self.details),
            "errors": redact(self.errors),
        }

    def __enter__(self) -> StatusEmitter:
        self.state = "running"
        self._write()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            if self.state == "running":
                self.finish()
            else:
                self._write()
            return
        text = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
        self.error(exc_type.__name__, str(exc))
        # Ctrl-C is not a failure: the job stopped where its work was committed.
        state = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        self.finish(state, error=text[:_MAX_MESSAGE])

    # -- writing -------------------------------------------------------------------------

    def _maybe_write(self) -> bool:
        if self.status_dir is None:
            return False
        if time.monotonic() - self._last_write < self.min_interval:
            return False
        return self._write()

    def _write(self) -> bool:
        status_dir = self.status_dir
        if status_dir is None:
            return False
        self._last_write = time.monotonic()
        payload = self.payload()
        try:
            status_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(status_dir / f"{self.phase}.json", _dumps(payload), fsync=self.fsync)
            self._write_aggregate(status_dir, payload)
        except OSError as exc:
            if not self._write_failed:
                log.warning("cannot write status files in %s: %s", status_dir, exc)
                self._write_failed = True
            return False
        return True

    def _write_aggregate(self, status_dir: Path, payload: dict[str, Any]) -> None:
        aggregate = status_dir / AGGREGATE_NAME
        with open(status_dir / LOCK_NAME, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                try:
                    current = orjson.loads(aggregate.read_bytes())
                    if not isinstance(current, dict):
                        current = {}
                except (OSError, orjson.JSONDecodeError):
                    current = {}
                current[self.phase] = payload
                _atomic_write(aggregate, _dumps(current), fsync=self.fsync)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
