"""Reading files: offsets, multi-line events, truncated lines, compression, discovery."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path

import pytest

from cowrieprocessor.ingest.reader import (
    END,
    TAIL_BYTES,
    PathError,
    discover,
    first_line_hash,
    iter_records,
    open_log,
    read_records,
    tail_hash,
    tail_hash_at,
)


def records(data: bytes, start: int = 0) -> list:
    stream = io.BytesIO(data)
    stream.seek(start)
    return list(iter_records(stream, start))


def test_offsets_cover_the_stream() -> None:
    data = b'{"a":1}\n\n{"b":2}\n'
    got = records(data)
    assert [(r.offset, r.end, r.data) for r in got] == [
        (0, 8, b'{"a":1}\n'),
        (9, 17, b'{"b":2}\n'),
    ]
    assert records(data, 9)[0].data == b'{"b":2}\n'


def test_pretty_printed_event_is_one_record() -> None:
    data = b'{"a":1}\n{\n  "b": 2,\n  "c": {\n    "d": 3\n  }\n}\n{"e":5}\n'
    got = records(data)
    assert [r.data for r in got] == [
        b'{"a":1}\n',
        b'{\n  "b": 2,\n  "c": {\n    "d": 3\n  }\n}\n',
        b'{"e":5}\n',
    ]
    assert got[1].offset == 8 and got[2].offset == got[1].end


def test_unterminated_block_does_not_swallow_good_lines() -> None:
    data = b'{\n  "x": 1\n{"f":6}\n'
    got = records(data)
    assert got[0].problem == "unterminated_block"
    assert got[1].data == b'{"f":6}\n' and got[1].problem is None


def test_last_line_without_newline_is_incomplete() -> None:
    got = records(b'{"a":1}\n{"b":')
    assert got[-1].complete is False and got[-1].data == b'{"b":'


def test_compressed_files_read_like_plain_ones(tmp_path: Path) -> None:
    payload = b'{"a":1}\n{"b":2}\n'
    (tmp_path / "c.json.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "c.json.bz2").write_bytes(bz2.compress(payload))
    for name in ("c.json.gz", "c.json.bz2"):
        with open_log(tmp_path / name) as fh:
            assert [r.data for r in iter_records(fh)] == [b'{"a":1}\n', b'{"b":2}\n']
    assert first_line_hash(tmp_path / "c.json.gz") == first_line_hash(tmp_path / "c.json.bz2")


def damaged(data: bytes) -> bytes:
    """``data`` with a stretch of its middle flipped."""
    out = bytearray(data)
    for i in range(len(out) // 2, len(out) // 2 + 64):
        out[i] ^= 0x55
    return bytes(out)


def test_a_file_that_cannot_be_read_ends_with_a_read_error(tmp_path: Path) -> None:
    lines = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * (i % 50)) for i in range(3000))
    (tmp_path / "a.json.gz").write_bytes(damaged(gzip.compress(lines)))
    (tmp_path / "b.json.bz2").write_bytes(damaged(bz2.compress(lines)))
    (tmp_path / "c.json.gz").write_bytes(b"not gzip at all\n")
    for name in ("a.json.gz", "b.json.bz2", "c.json.gz", "gone.json"):
        got = list(read_records(tmp_path / name))
        last = got[-1]
        assert last.problem == "read_error", name
        assert last.offset == last.end == (got[-2].end if len(got) > 1 else 0)
        assert all(r.problem is None for r in got[:-1])
        assert sum(len(r.data) for r in got[:-1]) == last.offset  # gzip may yield garbage first
    assert b"Not a gzipped file" in got_message(tmp_path / "c.json.gz")
    assert b"FileNotFoundError" in got_message(tmp_path / "gone.json")


def test_a_file_damaged_at_its_first_block_has_no_first_line(tmp_path: Path) -> None:
    lines = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"%x" % (i * 7919)) for i in range(3000))
    data = bytearray(gzip.compress(lines))
    for i in range(12, 80):  # the header stays valid, the first deflate block does not
        data[i] ^= 0xAA
    (tmp_path / "a.json.gz").write_bytes(bytes(data))
    assert first_line_hash(tmp_path / "a.json.gz") is None
    assert list(read_records(tmp_path / "a.json.gz"))[-1].problem == "read_error"


def got_message(path: Path) -> bytes:
    return list(read_records(path))[-1].data


def test_read_records_resumes_at_an_offset(tmp_path: Path) -> None:
    (tmp_path / "c.json.gz").write_bytes(gzip.compress(b'{"a":1}\n{"b":2}\n'))
    assert [(r.offset, r.data) for r in read_records(tmp_path / "c.json.gz", 8)] == [
        (8, b'{"b":2}\n'),
        (16, b""),  # the end of the stream
    ]


def test_a_whole_read_ends_with_an_end_record_after_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b'{"a":1}\n\n  \n')
    (tmp_path / "b.json.bz2").write_bytes(bz2.compress(b'{"a":1}\n{"b":'))
    got = list(read_records(tmp_path / "a.json"))
    assert [(r.offset, r.end, r.problem) for r in got] == [(0, 8, None), (12, 12, END)]
    got = list(read_records(tmp_path / "b.json.bz2"))
    assert [(r.complete, r.problem) for r in got] == [(True, None), (False, None), (True, END)]
    assert got[-1].offset == 13


def test_tail_hash_identifies_the_last_line_before_an_offset(tmp_path: Path) -> None:
    long_line = b'{"c":"' + b"y" * (2 * TAIL_BYTES) + b'"}\n'
    data = b'{"a":1}\n{"b":2}\n' + long_line + b'{"d":4}\n'
    for name, pack in (("a.json", bytes), ("a.json.gz", gzip.compress)):
        (tmp_path / name).write_bytes(pack(data))
        cuts = [r.end for r in read_records(tmp_path / name) if r.problem is None]
        got = [tail_hash_at(tmp_path / name, cut) for cut in cuts]
        # The same hash from the record's own bytes, whatever the line's length.
        assert got == [tail_hash(r.data) for r in records(data)]
        assert len(set(got)) == len(got)
        assert tail_hash_at(tmp_path / name, len(data) + 1) is None  # shorter than that
    assert tail_hash(b'{"b":2}\n\n \n') == tail_hash(b'{"a":1}\n{"b":2}\n')


def test_discover_files_dirs_and_globs(tmp_path: Path) -> None:
    (tmp_path / "s1").mkdir()
    for name in ("s1/cowrie.json", "s1/cowrie.json.2024-01-01.gz", "s1/notes.txt", "x.json"):
        (tmp_path / name).write_text("{}\n")
    found = discover([str(tmp_path / "s1"), str(tmp_path / "*.json"), str(tmp_path / "x.json")])
    assert [p.name for p in found] == ["cowrie.json", "cowrie.json.2024-01-01.gz", "x.json"]
    with pytest.raises(PathError, match="no such file"):
        discover([str(tmp_path / "missing")])


def loop_tree(root: Path) -> set[Path]:
    """A tree whose links loop back (to a parent, to itself, to a sibling); its log files."""
    for name in ("a/b", "c", ".hidden"):
        (root / name).mkdir(parents=True)
    files = [root / "a/cowrie.json", root / "a/b/cowrie.json.2024-01-01.gz", root / "c/x.json"]
    for path in [*files, root / "c/notes.txt"]:
        path.write_text("{}\n")
    (root / ".hidden/cowrie.json").write_text("{}\n")
    for link, target in (("a/l1", ".."), ("a/l2", ".."), ("a/b/l3", "../.."), ("c/l4", "../a")):
        (root / link).symlink_to(target)
    (root / "a/b/self").symlink_to(".")
    return {p.resolve() for p in files}


def test_links_are_followed_once_per_real_directory_in_dirs_and_globs(tmp_path: Path) -> None:
    import subprocess
    import sys

    files = loop_tree(tmp_path / "t")
    forms = [
        str(tmp_path / "t"),
        str(tmp_path / "t/**"),
        str(tmp_path / "t/**/*.json*"),
        str(tmp_path / "t/*/l1/**/cowrie.json*"),
    ]
    # In a child with a time limit: a glob that follows the loops never ends.
    script = (
        "import sys; from cowrieprocessor.ingest.reader import discover;"
        " [print(p) for p in discover(sys.argv[1:2])]"
    )
    found = []
    for form in forms:
        done = subprocess.run(
            [sys.executable, "-c", script, form], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        found.append(done.stdout.splitlines())
    hidden_too = {*files, (tmp_path / "t/.hidden/cowrie.json").resolve()}
    assert {Path(p) for p in found[0]} == hidden_too  # a directory: every file below it
    assert found[1] == found[0]  # ** at the end stands for the directory
    assert {Path(p) for p in found[2]} == files  # like a shell: not into .hidden
    assert {Path(p) for p in found[3]} == {files_ for files_ in files if "/c/" not in str(files_)}
    assert all(len(set(f)) == len(f) for f in found)  # each file once


def test_paths_that_are_not_regular_files_or_are_missing_are_named(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "dir/cowrie.json")  # inside a directory: passed over
    (tmp_path / "dir/cowrie.json.1").write_text("{}\n")
    with pytest.raises(PathError) as raised:
        discover([str(tmp_path / "pipe.json")])
    assert raised.value.problem == "not a regular file (a named pipe)"
    assert raised.value.path == str(tmp_path / "pipe.json")
    with pytest.raises(PathError, match="not a regular file"):
        discover([str(tmp_path / "*.json")])
    assert discover([str(tmp_path / "dir")]) == [(tmp_path / "dir/cowrie.json.1").resolve()]
    with pytest.raises(PathError) as raised:
        discover([str(tmp_path / "nothing-*.json")])
    assert (raised.value.problem, raised.value.path) == (
        "no such file or directory",
        str(tmp_path / "nothing-*.json"),
    )
