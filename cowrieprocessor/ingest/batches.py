"""Cut a log file into parsed batches, and parse ahead on a background thread.

Parsing is pure Python while database writes spend most of their time in C code that
releases the GIL, so reading the next batch while the current one is written overlaps the
two and uses the second core.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cowrieprocessor.ingest.parse import BadRecord, Event, parse_record
from cowrieprocessor.ingest.reader import iter_records, open_log

T = TypeVar("T")


@dataclass
class Batch:
    """Parsed records of one stretch of a file, ending at byte ``position``."""

    events: list[tuple[Event, int]] = field(default_factory=list)  # (event, offset)
    dead: list[tuple[int, str, bytes]] = field(default_factory=list)  # (offset, reason, raw)
    records: int = 0
    position: int = 0


def read_batches(
    path: Path,
    start: int,
    *,
    compressed: bool,
    default_sensor: str | None,
    batch_size: int,
) -> Iterator[Batch]:
    """Yield batches of at most ``batch_size`` records from byte ``start``; the last may be empty.

    A last line without newline in a plain file is being written: if it does not parse yet,
    it is reported as ``truncated_line`` and the position stays before it, so the next run
    reads it whole. In a compressed file it is simply a bad record.
    """
    batch = Batch(position=start)
    with open_log(path) as fh:
        if start:
            fh.seek(start)
        for record in iter_records(fh, start):
            batch.records += 1
            if record.problem is not None:
                batch.dead.append((record.offset, record.problem, record.data))
            else:
                try:
                    batch.events.append((parse_record(record.data, default_sensor), record.offset))
                except BadRecord as bad:
                    if not record.complete:
                        batch.dead.append((record.offset, "truncated_line", record.data))
                        if not compressed:
                            break
                    else:
                        batch.dead.append((record.offset, bad.reason, record.data))
            batch.position = record.end
            if len(batch.events) + len(batch.dead) >= batch_size:
                yield batch
                batch = Batch(position=batch.position)
    yield batch


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a background thread, up to ``depth`` items ahead.

    Exceptions from the producer are re-raised in the consumer; closing the returned
    generator (or an exception in the consumer) stops the producer.
    """
    slots: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("done", None))
        except BaseException as exc:  # handed to the consumer
            slots.put(("error", exc))

    worker = threading.Thread(target=produce, name="cowrie-parse", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)
