"""The child process that parses ahead of the loader: a fresh interpreter serving job after
job, its items in order, its failures raised in the caller."""

from __future__ import annotations

import os
import sys
import threading
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
