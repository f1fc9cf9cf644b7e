"""Find log files and read them as records with byte offsets.

A record is one line, or a pretty-printed event spread over several lines (a line that is
just ``{`` up to the next line that is just ``}``). Offsets count bytes of the
decompressed stream, so a cursor can resume exactly where the last run stopped.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

#: A record longer than this is set aside instead of being held in memory.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: A pretty-printed event longer than this many lines is taken as unterminated.
MAX_RECORD_LINES = 10_000
_FIRST_LINE_BYTES = 64 * 1024
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open}
#: What reading a found log can raise: a file gone or unreadable since it was found, a disk
#: error, damaged gzip or bzip2 data (``OSError``, ``EOFError`` or ``zlib.error``).
READ_ERRORS = (OSError, EOFError, zlib.error)


class Record(NamedTuple):
    """Raw bytes of one record; ``complete`` is False for a last line without newline."""

    offset: int
    end: int
    data: bytes
    complete: bool
    problem: str | None = None  # set when the reader itself rejects the record


class PathError(OSError):
    """A path given by the user does not exist or cannot be read."""


def path_text(path: Path | str) -> str:
    """A path as text any database or JSON document can hold: bytes of the name that are not
    UTF-8 (kept by Python as lone surrogates) become ``\\xNN`` escapes."""
    text = str(path)
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_compressed(path: Path) -> bool:
    """True for ``.gz`` and ``.bz2`` files (read whole, never appended to in place)."""
    return path.suffix in _COMPRESSED


def open_log(path: Path) -> BinaryIO:
    """Open a plain, gzip or bzip2 log for binary reading."""
    opener = _COMPRESSED.get(path.suffix)
    return opener(path, "rb") if opener else open(path, "rb")  # type: ignore[return-value]


def _is_log_file(path: Path) -> bool:
    return path.is_file() and (".json" in path.name or path.suffix in _COMPRESSED)


def discover(paths: Iterable[str]) -> list[Path]:
    """Expand files, directories (recursively, files named like ``*.json*``) and globs.

    Raises ``PathError`` naming the first argument that matches nothing or cannot be read.
    """
    found: dict[Path, None] = {}
    for arg in paths:
        matches = [Path(p) for p in sorted(glob.glob(arg, recursive=True))] or [Path(arg)]
        for match in matches:
            if match.is_dir():
                for child in sorted(match.rglob("*")):
                    if _is_log_file(child):
                        found[child.resolve()] = None
            elif match.is_file():
                if not os.access(match, os.R_OK):
                    raise PathError(f"cannot read {match}: permission denied")
                found[match.resolve()] = None
            else:
                raise PathError(f"no such file or directory: {arg}")
    return list(found)


def first_line_hash(path: Path) -> str | None:
    """Hash of the file's first line (bounded), used to notice a replaced or rotated file."""
    try:
        with open_log(path) as fh:
            line = fh.readline(_FIRST_LINE_BYTES)
    except READ_ERRORS:  # reading it for real then ends in a read_error dead letter
        return None
    return hashlib.blake2b(line, digest_size=16).hexdigest() if line else None


def read_records(path: Path, start: int = 0) -> Iterator[Record]:
    """The records of the log at ``path`` from byte ``start`` of its (decompressed) stream.

    If reading fails, the records read so far stand and a last ``read_error`` record, at the
    end of the last good one, carries the error message: the rest of the file is set aside
    and the run goes on.
    """
    offset = start
    try:
        with open_log(path) as fh:
            if start:
                fh.seek(start)
            for record in iter_records(fh, start):
                offset = record.end
                yield record
    except READ_ERRORS as exc:
        message = f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")
        yield Record(offset, offset, message, True, "read_error")


def iter_records(fh: BinaryIO, start: int = 0) -> Iterator[Record]:
    """Yield records from ``fh`` positioned at byte ``start`` of the (decompressed) stream."""
    offset = start
    readline = fh.readline
    block: list[bytes] = []
    block_start = 0
    while True:
        line = readline(MAX_RECORD_BYTES + 1)
        if not line:
            break
        line_start = offset
        offset += len(line)
        if not block and line[-2:] == b"}\n" and line[:1] == b"{":  # the usual one-line event
            yield Record(line_start, offset, line, True)
            continue
        if len(line) > MAX_RECORD_BYTES and not line.endswith(b"\n"):
            while (more := readline(1024 * 1024)) and not more.endswith(b"\n"):
                offset += len(more)
            offset += len(more)
            yield Record(line_start, offset, line[:4096], True, "oversized_record")
            continue
        if block:
            stripped = line.rstrip()
            if stripped == b"}":
                block.append(line)
                yield Record(block_start, offset, b"".join(block), True)
                block = []
            elif line[:1] in (b" ", b"\t") and len(block) < MAX_RECORD_LINES:
                block.append(line)
            else:  # the block never closed: set it aside, read this line normally
                yield Record(block_start, line_start, b"".join(block), True, "unterminated_block")
                block = []
            if block or stripped == b"}":
                continue
        if line.strip() == b"{":
            block = [line]
            block_start = line_start
            continue
        if line.endswith(b"\n"):
            if line.strip():
                yield Record(line_start, offset, line, True)
        else:
            yield Record(line_start, offset, line, False)
    if block:
        yield Record(block_start, offset, b"".join(block), False)
