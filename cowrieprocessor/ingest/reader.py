"""Find log files and read them as records with byte offsets.

A record is one line, or a pretty-printed event spread over several lines (a line that is
just ``{`` up to the next line that is just ``}``). Offsets count bytes of the
decompressed stream, so a cursor can resume exactly where the last run stopped.
"""

from __future__ import annotations

import bz2
import fnmatch
import glob
import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

#: A record longer than this is set aside instead of being held in memory.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: A pretty-printed event longer than this many lines is taken as unterminated.
MAX_RECORD_LINES = 10_000
_FIRST_LINE_BYTES = 64 * 1024
#: How much of the bytes before a cursor :func:`tail_hash` looks at.
TAIL_BYTES = 4096
_COMPRESSED = frozenset({".gz", ".bz2"})
#: What reading a found log can raise: a file gone or unreadable since it was found, a disk
#: error, damaged gzip or bzip2 data (``OSError``, ``EOFError`` or ``zlib.error``).
READ_ERRORS = (OSError, EOFError, zlib.error)


#: ``problem`` of the empty record :func:`read_records` ends a fully read stream with.
END = "end"


class Record(NamedTuple):
    """Raw bytes of one record; ``complete`` is False for a last line without newline."""

    offset: int
    end: int
    data: bytes
    complete: bool
    problem: str | None = None  # set when the reader itself rejects the record


class PathError(OSError):
    """A path given by the user does not exist, cannot be read or is not a log file.

    ``problem`` says what is wrong and ``path`` is the argument as given (attacker-chosen
    file names included: escape it before printing it to a terminal).
    """

    def __init__(self, problem: str, path: str) -> None:
        super().__init__(f"{problem}: {path}")
        self.problem = problem
        self.path = path


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


def open_log(path: Path) -> io.BufferedIOBase:
    """Open a plain, gzip or bzip2 log for binary reading."""
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")
    if path.suffix == ".bz2":
        return bz2.BZ2File(path, "rb")
    return open(path, "rb")


def _is_log_name(name: str) -> bool:
    return ".json" in name or Path(name).suffix in _COMPRESSED


def discover(paths: Iterable[str]) -> list[Path]:
    """Expand files, directories (recursively, files named like ``*.json*``) and globs.

    Symbolic links to directories are followed, each real directory once, so a tree with
    link loops is searched once, whether given as a directory or as a ``**`` glob. Returns
    each file once (by its resolved path). Raises ``PathError`` naming the first argument
    that matches nothing, cannot be read or is not a regular file (a named pipe would block
    the run forever).
    """
    found: dict[Path, None] = {}
    for arg in paths:
        matches = sorted(_glob(arg)) if glob.has_magic(arg) else []
        for match in matches or [Path(arg)]:
            for path in _expand(match, arg):
                found[path] = None
    return list(found)


def _expand(match: Path, arg: str) -> list[Path]:
    """The log files of one match: itself if a regular file, those below it if a directory."""
    try:
        mode = match.stat().st_mode
    except OSError:
        raise PathError("no such file or directory", arg) from None
    if stat.S_ISDIR(mode):
        try:
            os.scandir(match).close()
        except OSError as exc:
            raise PathError(f"cannot read directory ({exc.strerror})", arg) from None
        return sorted(p.resolve() for p in _walk(match))
    if not stat.S_ISREG(mode):
        raise PathError(f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special')})", arg)
    if not os.access(match, os.R_OK):
        raise PathError("cannot read (permission denied)", arg)
    return [match.resolve()]


_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _real_dir(path: Path | str) -> tuple[int, int] | None:
    """(device, inode) of the directory at ``path`` (links followed), None if it is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:  # unreadable or gone: searched like an empty one
        return []


def _walk(top: Path) -> Iterator[Path]:
    """Log files below ``top``, entering each real directory once (links followed)."""
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        real = _real_dir(directory)
        if real is None or real in seen:
            continue
        seen.add(real)
        for entry in _entries(directory):
            try:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.is_file() and _is_log_name(entry.name):
                    yield Path(entry.path)
            except OSError:
                continue


def _glob(pattern: str) -> Iterator[Path]:
    """Paths matching a shell ``pattern`` as :func:`glob.glob` with ``recursive=True`` finds
    them (``*`` and ``**`` skip names starting with a dot), except that a ``**`` enters each
    real directory once and, as the last part, stands for the directory itself."""
    parts = [part for part in pattern.split(os.sep) if part]
    expanded: set[tuple[int, int, int]] = set()  # (part, device, inode) a ** went through

    def match(base: Path, i: int) -> Iterator[Path]:
        part = parts[i]
        last = i == len(parts) - 1
        if part == "**":
            real = _real_dir(base)
            if real is None or (i, *real) in expanded:
                return
            expanded.add((i, *real))
            if last:  # the directory and everything below it: searched as a directory
                yield base
                return
            yield from match(base, i + 1)
            for entry in _entries(base):
                if not entry.name.startswith("."):
                    yield from match(Path(entry.path), i)
        elif glob.has_magic(part):
            hidden = part.startswith(".")
            for entry in _entries(base):
                if fnmatch.fnmatchcase(entry.name, part) and (
                    hidden or not entry.name.startswith(".")
                ):
                    yield from _next(Path(entry.path), i, last)
        else:
            yield from _next(base / part, i, last)

    def _next(path: Path, i: int, last: bool) -> Iterator[Path]:
        if last:
            if os.path.lexists(path):
                yield path
        elif _real_dir(path) is not None:
            yield from match(path, i + 1)

    if not parts:
        return iter(())
    return match(Path(os.sep) if pattern.startswith(os.sep) else Path(), 0)


def first_line_hash(path: Path) -> str | None:
    """Hash of the file's first line (bounded), used to notice a replaced or rotated file."""
    try:
        with open_log(path) as fh:
            line = fh.readline(_FIRST_LINE_BYTES)
    except READ_ERRORS:  # reading it for real then ends in a read_error dead letter
        return None
    return hashlib.blake2b(line, digest_size=16).hexdigest() if line else None


def tail_hash(data: bytes) -> str:
    """Hash of the last line of ``data`` (its trailing white space left out, at most
    :data:`TAIL_BYTES`): what identifies the bytes a cursor was left after."""
    window = data[-TAIL_BYTES:].rstrip()
    line = window[window.rfind(b"\n") + 1 :]
    return hashlib.blake2b(line, digest_size=16).hexdigest()


def tail_hash_at(path: Path, offset: int) -> str | None:
    """:func:`tail_hash` of the bytes before ``offset`` of the log's (decompressed) stream, as
    they are now; None if the stream is shorter or cannot be read. Costs a seek in a plain
    file, decompressing up to ``offset`` in a compressed one."""
    start = max(0, offset - TAIL_BYTES)
    try:
        with open_log(path) as fh:
            fh.seek(start)
            data = fh.read(offset - start)
    except READ_ERRORS:
        return None
    return tail_hash(data) if len(data) == offset - start else None


def read_records(path: Path, start: int = 0) -> Iterator[Record]:
    """The records of the log at ``path`` from byte ``start`` of its (decompressed) stream.

    The last record is an empty one with problem :data:`END` at the end of the stream (after
    any blank lines), when the whole file could be read. If reading fails, the records read
    so far stand and a last ``read_error`` record, at the end of the last good one, carries
    the error message instead: the rest of the file is set aside and the run goes on.
    """
    offset = start
    try:
        with open_log(path) as fh:
            if start:
                fh.seek(start)
            for record in iter_records(fh, start, end_marker=True):
                offset = record.end
                yield record
    except READ_ERRORS as exc:
        message = f"{type(exc).__name__}: {exc}".encode("utf-8", "backslashreplace")
        yield Record(offset, offset, message, True, "read_error")


def iter_records(
    fh: io.BufferedIOBase, start: int = 0, *, end_marker: bool = False
) -> Iterator[Record]:
    """Yield records from ``fh`` positioned at byte ``start`` of the (decompressed) stream,
    with ``end_marker`` then an empty ``"end"`` record at the end of the stream."""
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
            offset += _skip_rest_of_line(readline)
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
    if end_marker:
        yield Record(offset, offset, b"", True, END)


def _skip_rest_of_line(readline: Callable[[int], bytes]) -> int:
    """Read past the end of an oversized line without holding it; the bytes skipped."""
    skipped = 0
    while (more := readline(1024 * 1024)) and not more.endswith(b"\n"):
        skipped += len(more)
    return skipped + len(more)
