"""The child process that parses ahead of the loader: a fresh interpreter serving job after
job, its items in order, its failures raised in the caller."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest

from cowrieprocessor.ingest.child import ChildFailed, ChildProcess

#: Changed by the tests in this process: a forked child would see the change.
MARK = "as imported"


def numbers(count: int) -> Iterator[int]:
    yield from range(count)


def process_facts() -> Iterator[tuple[int, int, str, int]]:
    """(pid, parent pid, MARK, threads) of the process running the job."""
    yield os.getpid(), os.getppid(), MARK, threading.active_count()


def fail_after(count: int) -> Iterator[int]:
    yield from range(count)
    raise ValueError(f"broken after {count}")


def die() -> Iterator[int]:
    yield 1
    os._exit(3)


def pause_after_first(seconds: float) -> Iterator[int]:
    yield 0
    time.sleep(seconds)
    yield 1


def encode_int(value: int) -> bytes:
    return str(value).encode()


def decode_int(data: bytes) -> int:
    return int(data)


def encode_repr(value: object) -> bytes:
    return repr(value).encode()


def run_ints(child: ChildProcess, job: partial[Iterator[int]]) -> list[int]:
    return list(child.run(job, encode_int, decode_int))


def test_jobs_run_in_order_in_one_fresh_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "MARK", "changed here")
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)  # a thread running while the child starts
    helper.start()
    try:
        with ChildProcess() as child:
            first = list(child.run(process_facts, encode_repr, bytes.decode))
            assert run_ints(child, partial(numbers, 5)) == [0, 1, 2, 3, 4]
            assert run_ints(child, partial(numbers, 0)) == []
            second = list(child.run(process_facts, encode_repr, bytes.decode))
    finally:
        stop.set()
        helper.join()
    assert first == second  # the same process served every job
    pid, parent, mark, threads = eval(first[0])
    assert (parent, mark, threads) == (os.getpid(), "as imported", 1)
    assert pid != os.getpid()


def test_a_failing_job_raises_here_and_the_child_goes_on() -> None:
    with ChildProcess() as child:
        got = []
        with pytest.raises(ValueError, match="broken after 3"):
            for item in child.run(partial(fail_after, 3), encode_int, decode_int):
                got.append(item)
        assert got == [0, 1, 2]
        assert run_ints(child, partial(numbers, 3)) == [0, 1, 2]


def test_leaving_a_job_early_ends_the_child_and_the_next_job_starts_another() -> None:
    with ChildProcess() as child:
        pids = []
        for facts in child.run(process_facts, encode_repr, bytes.decode):
            pids.append(eval(facts)[0])
            break
        for facts in child.run(process_facts, encode_repr, bytes.decode):
            pids.append(eval(facts)[0])
    assert len(set(pids)) == 2
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # ended and reaped


def test_a_child_that_dies_fails_the_job() -> None:
    with ChildProcess() as child:
        with pytest.raises(ChildFailed, match="exit status 3"):
            run_ints(child, partial(die))
        assert run_ints(child, partial(numbers, 2)) == [0, 1]


def test_closing_ends_the_child() -> None:
    child = ChildProcess()
    [facts] = child.run(process_facts, encode_repr, bytes.decode)
    pid = eval(facts)[0]
    os.kill(pid, 0)  # still there between jobs
    child.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    child.close()  # twice is harmless


def test_closing_in_the_middle_of_a_job_ends_the_child_at_once_and_quietly(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # As when Ctrl-C stops the loader between batches: the job's iterator is still
    # suspended (the traceback holds its frame) when the child is closed.
    child = ChildProcess()
    items = child.run(partial(pause_after_first, 60), encode_int, decode_int)
    assert next(items) == 0
    process = child._process
    assert process is not None
    started = time.monotonic()
    child.close()
    assert time.monotonic() - started < 5  # not waiting for the job (nor its 10 s grace)
    assert process.returncode is not None
    items.close()
    assert capfd.readouterr().err == ""


def test_a_child_whose_caller_has_gone_exits_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    child = ChildProcess()
    items = child.run(partial(pause_after_first, 0.2), encode_int, decode_int)
    assert next(items) == 0
    process = child._process
    assert process is not None and process.stdout is not None
    process.stdout.close()  # the caller's end of the pipe, as if the caller had died
    assert process.wait(timeout=10) == 0
    assert capfd.readouterr().err == ""  # Python 3.13 printed "Exception ignored ... Broken pipe"
    items.close()
    child.close()
