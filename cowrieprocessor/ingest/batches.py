"""Cut a log file into parsed batches of records, each ending at a byte position."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cowrieprocessor.ingest.parse import BadRecord, Event, parse_record
from cowrieprocessor.ingest.reader import iter_records, open_log


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
