"""Produce items in a child process, a step ahead of the caller: the loader parses the next
batch of a file there while it writes the current one, so the two use two cores.

The child is a fresh interpreter (spawned, never forked): forking a process that runs
threads (the WAL checkpoint helper, a progress display, a caller's own) can leave the child
holding locks nobody will release, and Python 3.12+ warns about it. One child serves a whole
run, file after file, so its start-up (about 0.1 s) is paid once.

A job is a picklable callable returning an iterator (e.g. a ``functools.partial`` of a
module-level function) with the ``encode`` function turning each item into bytes. Items
cross a pipe as those bytes; an exception raised by the job is raised in the caller.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import IO, BinaryIO, TypeVar

T = TypeVar("T")

#: A message: kind and length, then the bytes.
_HEADER = struct.Struct("<BQ")
#: Caller -> child: a pickled (job, encode). Child -> caller: an item, a pickled exception,
#: or the end of the job's items.
_JOB, _ITEM, _ERROR, _DONE = range(4)
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]);"
    " from cowrieprocessor.ingest.child import serve; serve()"
)


class ChildFailed(RuntimeError):
    """The child process ended without saying why."""


class ChildProcess:
    """A child process running jobs one at a time; start it early, close it at the end
    (it is a context manager)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._in_job: subprocess.Popen[bytes] | None = None  # the child, while it runs a job

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Spawn the child now, so its start-up overlaps the caller's own work."""
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Out of the terminal's process group: Ctrl-C reaches the caller only, which
                # decides when the child ends.
                start_new_session=True,
            )

    def run(
        self,
        job: Callable[[], Iterator[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> Iterator[T]:
        """Yield ``job``'s items as the child produces them, at most one ahead of the caller.

        Leaving the loop early ends the child (the next job starts another one).
        """
        self.start()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        self._in_job = process
        try:
            _send(process.stdin, _JOB, pickle.dumps((job, encode), pickle.HIGHEST_PROTOCOL))
            while True:
                kind, data = _receive(process.stdout)
                if kind == _ITEM:
                    items = [decode(data)]
                    del data
                    yield items.pop()  # keep no reference while suspended
                    continue
                self._in_job = None  # the job is over, one way or another
                if kind == _DONE:
                    return
                if kind == _ERROR:
                    raise pickle.loads(data)
                raise self._died(process)  # the pipe ended
        except BrokenPipeError:  # it died before taking the job
            self._in_job = None
            raise self._died(process) from None
        finally:
            if self._in_job is process:  # left early: nobody will read the rest
                self._end(process)

    def _died(self, process: subprocess.Popen[bytes]) -> ChildFailed:
        self._end(process)
        code = process.returncode
        how = f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        return ChildFailed(f"the batch reader process died ({how})")

    def close(self) -> None:
        """End the child (see :meth:`_end`)."""
        if self._process is not None:
            self._end(self._process)

    def _end(self, process: subprocess.Popen[bytes]) -> None:
        """End ``process``: killed at once in the middle of a job, whose items nobody will
        read; otherwise it exits once its input closes (killed if it has not within 10 s)."""
        if self._process is process:
            self._process = None
        if self._in_job is process:
            self._in_job = None
            process.kill()
        assert process.stdin is not None and process.stdout is not None
        with suppress(BrokenPipeError):
            process.stdin.close()
        process.stdout.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def serve() -> None:
    """The child's main loop: run each job sent on standard input, send its items back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when this ends
    # Messages use the original stdin and stdout; anything printed by accident goes to stderr.
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # A job's items hold tens of thousands of objects without reference cycles: automatic
    # collections would traverse them again and again. The young generation is collected
    # after each item instead.
    gc.disable()
    try:
        while True:
            kind, data = _receive(inp)
            if kind != _JOB:
                return  # input closed: the caller is done
            try:
                job, encode = pickle.loads(data)
                for item in job():
                    _send(out, _ITEM, encode(item))
                    del item
                    gc.collect(0)
            except BrokenPipeError:
                raise
            except Exception as exc:
                _send(out, _ERROR, _pickled(exc))
            else:
                _send(out, _DONE, b"")
    except BrokenPipeError:
        # The caller has gone. Drop what is still buffered for it, or exiting would try to
        # write it again and print the error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _pickled(exc: Exception) -> bytes:
    try:
        return pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle still tells what happened
        return pickle.dumps(ChildFailed(f"{type(exc).__name__}: {exc}"))


def _send(out: IO[bytes], kind: int, data: bytes) -> None:
    out.write(_HEADER.pack(kind, len(data)))
    out.write(data)
    out.flush()


def _receive(inp: BinaryIO | IO[bytes]) -> tuple[int, bytes]:
    """The next message; kind -1 when the pipe ends (mid-message included)."""
    header = inp.read(_HEADER.size)
    if len(header) != _HEADER.size:
        return -1, b""
    kind, size = _HEADER.unpack(header)
    data = inp.read(size)
    if len(data) != size:
        return -1, b""
    return kind, data
