"""Tests for the sample Cowrie log generator."""

import bz2
import datetime
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from cowrieprocessor.cli.sample import command as sample_command
from cowrieprocessor.samples import (
    BAD_LINE_KINDS,
    SampleConfig,
    generate_sessions,
    write_event_file,
    write_sample_logs,
)

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|\+0000)$")
COMMON = ("eventid", "session", "src_ip", "timestamp", "message")


def read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".bz2":
        return bz2.decompress(path.read_bytes())
    return path.read_bytes()


def records(path: Path) -> list[tuple[bytes, bool]]:
    """Split a file into records: (raw bytes, ends with newline); pretty blocks joined."""
    data = read_bytes(path)
    lines = data.split(b"\n")
    last_complete = data.endswith(b"\n")
    if last_complete:
        lines.pop()
    out: list[tuple[bytes, bool]] = []
    block: list[bytes] | None = None
    for i, line in enumerate(lines):
        complete = last_complete or i < len(lines) - 1
        if block is not None:
            block.append(line)
            if line == b"}":
                out.append((b"\n".join(block), True))
                block = None
        elif line == b"{":
            block = [line]
        else:
            out.append((line, complete))
    assert block is None
    return out


def classify(raw: bytes, complete: bool) -> tuple[str, dict | None]:
    """'good' or a bad-line kind, with the parsed event."""
    try:
        obj = json.loads(raw.decode("utf-8", "surrogateescape"))
    except ValueError:
        return ("not_json" if complete else "truncated"), None
    if not isinstance(obj, dict):
        return "json_array", None
    if "eventid" not in obj:
        return "no_eventid", None
    if not obj["eventid"].startswith("cowrie."):
        return "legacy_eventid", None
    if "timestamp" not in obj:
        return "missing_timestamp", None
    if not isinstance(obj["timestamp"], str) or not TS_RE.match(obj["timestamp"]):
        return "bad_timestamp", None
    try:
        parse_ts(obj["timestamp"])
    except ValueError:
        return "bad_timestamp", None
    if "session" not in obj:
        return "no_session", None
    return "good", obj


def parse_ts(ts: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    config = SampleConfig(
        days=3, sessions_per_day=250, sensors=("s-modern", "s-mid", "s-old"),
        styles=("modern", "mid", "old"), compress="gz",
    )  # fmt: skip
    return config, write_sample_logs(out, config)


def test_generate_sessions_is_deterministic():
    config = SampleConfig(days=2, sessions_per_day=50)
    first = list(generate_sessions(config))
    assert first == list(generate_sessions(config))
    assert first != list(generate_sessions(SampleConfig(days=2, sessions_per_day=50, seed=1)))
    assert len(first) == 2 * 50 + 1  # one forced midnight session
    for events in first:
        assert events[0]["eventid"] == "cowrie.session.connect"
        assert events[-1]["eventid"] == "cowrie.session.closed"
        assert len({e["session"] for e in events}) == 1
        stamps = [parse_ts(e["timestamp"]) for e in events]
        assert stamps == sorted(stamps)


def test_write_sample_logs_is_byte_identical_for_a_seed(tmp_path):
    config = SampleConfig(days=3, sessions_per_day=40, compress="bz2")
    a = write_sample_logs(tmp_path / "a", config)
    b = write_sample_logs(tmp_path / "b", config)
    assert [p.relative_to(tmp_path / "a") for p in a.files] == [
        p.relative_to(tmp_path / "b") for p in b.files
    ]
    for pa, pb in zip(a.files, b.files, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    gz = write_sample_logs(tmp_path / "gz1", SampleConfig(days=4, sessions_per_day=10))
    gz2 = write_sample_logs(tmp_path / "gz2", SampleConfig(days=4, sessions_per_day=10))
    assert [p.read_bytes() for p in gz.files] == [p.read_bytes() for p in gz2.files]


def test_file_layout(sample):
    config, summary = sample
    names = sorted(str(p.relative_to(summary.out_dir)) for p in summary.files)
    assert names == sorted(
        f"{sensor}/{name}"
        for sensor in config.sensors
        for name in ("cowrie.json", "cowrie.json.2024-03-01.gz", "cowrie.json.2024-03-02")
    )


def test_dirt_counts_match_summary_and_good_lines_are_valid(sample):
    config, summary = sample
    kinds: Counter[str] = Counter()
    good = 0
    duplicates = 0
    missing_sensor = empty_sensor = 0
    sensors_seen = set()
    for path in summary.files:
        prev_line = None
        stamps = []
        for raw, complete in records(path):
            kind, event = classify(raw, complete)
            if kind != "good":
                kinds[kind] += 1
                prev_line = None
                continue
            good += 1
            if raw == prev_line:
                duplicates += 1
            prev_line = raw
            for key in COMMON:
                assert key in event, (key, event)
            if "sensor" not in event:
                missing_sensor += 1
            elif event["sensor"] == "":
                empty_sensor += 1
            else:
                assert event["sensor"] == path.parent.name
                sensors_seen.add(event["sensor"])
            assert event["src_ip"]
            stamps.append(parse_ts(event["timestamp"]))
        assert stamps == sorted(stamps), path
        day = path.name.split(".")[2] if path.name != "cowrie.json" else "2024-03-03"
        assert {s.date().isoformat() for s in stamps} == {day}
    assert kinds == summary.bad_lines
    assert set(kinds) == {*BAD_LINE_KINDS, "truncated"}
    assert sum(kinds.values()) == config.bad_lines + 1
    assert good == summary.events
    all_lines = Counter(
        raw for path in summary.files for raw, ok in records(path) if classify(raw, ok)[1]
    )
    assert sum(n - 1 for n in all_lines.values()) == summary.duplicates
    assert duplicates == summary.duplicates > 0
    assert missing_sensor == summary.dirt["missing_sensor"]
    assert empty_sensor == summary.dirt["empty_sensor"]
    assert missing_sensor + empty_sensor == config.sensorless_events
    assert summary.dirt["pretty_printed"] == 1
    assert summary.dirt["long_commands"] == 1
    assert summary.dirt["dirty_strings"] > 0
    assert sensors_seen == set(config.sensors)


def test_midnight_crossing_sessions_span_two_files(sample):
    config, summary = sample
    assert summary.midnight_sessions >= config.days - 1
    for sensor in config.sensors:
        files = sorted(p for p in summary.files if p.parent.name == sensor)
        per_file = []
        for path in files:
            per_file.append(
                {ev["session"] for raw, ok in records(path) for k, ev in [classify(raw, ok)] if ev}
            )
        shared = set().union(*(a & b for a in per_file for b in per_file if a is not b))
        if shared:
            break
    else:
        pytest.fail("no session found in two daily files")


def test_version_styles(sample):
    _, summary = sample
    by_sensor: dict[str, list[tuple[bytes, dict]]] = {}
    for path in summary.files:
        for raw, complete in records(path):
            _, event = classify(raw, complete)
            if event is not None and raw.startswith(b"{") and b"\n" not in raw:
                by_sensor.setdefault(path.parent.name, []).append((raw, event))
    for raw, ev in by_sensor["s-modern"]:
        assert re.fullmatch(r"[0-9a-f]{12}", ev["session"])
        assert ev["timestamp"].endswith("Z")
        assert ev["protocol"] in ("ssh", "telnet")
        assert "uuid" in ev
        assert b'", "' not in raw[:40]
        if ev["eventid"] == "cowrie.session.closed":
            assert isinstance(ev["duration_ms"], int)
            assert "duration" not in ev
    mid = by_sensor["s-mid"]
    assert all(ev["timestamp"].endswith("+0000") for _, ev in mid)
    versions = [ev["version"] for _, ev in mid if ev["eventid"] == "cowrie.client.version"]
    assert versions and all(v.startswith("b'SSH-") for v in versions)
    closed = [ev for _, ev in mid if ev["eventid"] == "cowrie.session.closed"]
    assert any(isinstance(ev["duration"], str) for ev in closed)
    old = by_sensor["s-old"]
    assert all(re.fullmatch(r"[0-9a-f]{8}", ev["session"]) for _, ev in old)
    assert all("uuid" not in ev for _, ev in old)
    assert all(("protocol" in ev) == (ev["eventid"] == "cowrie.session.connect") for _, ev in old)
    assert not any(ev["eventid"] == "cowrie.client.kex" for _, ev in old)
    assert all(b'", "' in raw for raw, _ in old)
    first_keys = Counter(next(iter(ev)) for _, ev in old)
    assert len(first_keys) > 3  # random key order
    closed = [ev for _, ev in old if ev["eventid"] == "cowrie.session.closed"]
    assert all(isinstance(ev["duration"], float) for ev in closed)


def test_event_shapes(sample):
    _, summary = sample
    seen: dict[str, dict] = {}
    for path in summary.files:
        for raw, complete in records(path):
            _, ev = classify(raw, complete)
            if ev is not None:
                seen.setdefault(ev["eventid"], ev)
    expected = {
        "cowrie.session.connect": ("src_port", "dst_ip", "dst_port", "protocol"),
        "cowrie.login.failed": ("username", "password"),
        "cowrie.login.success": ("username", "password"),
        "cowrie.client.version": ("version",),
        "cowrie.client.kex": ("hassh", "hasshAlgorithms", "kexAlgs", "keyAlgs", "encCS"),
        "cowrie.client.fingerprint": ("username", "fingerprint", "key", "type"),
        "cowrie.command.input": ("input",),
        "cowrie.command.failed": ("input",),
        "cowrie.session.file_download": ("url", "outfile", "shasum", "destfile"),
        "cowrie.session.file_download.failed": ("url",),
        "cowrie.session.file_upload": ("filename", "outfile", "shasum"),
        "cowrie.virustotal.scanfile": ("sha256", "is_new", "positives", "total", "scan_date"),
        "cowrie.direct-tcpip.request": ("dst_ip", "dst_port"),
        "cowrie.log.closed": ("ttylog", "size", "shasum"),
        "cowrie.session.closed": (),
        "cowrie.session.params": ("arch",),
        "cowrie.client.size": ("width", "height"),
    }
    for eventid, fields in expected.items():
        assert eventid in seen, eventid
        for name in fields:
            assert name in seen[eventid], (eventid, name)
    assert re.fullmatch(r"[0-9a-f]{64}", seen["cowrie.session.file_download"]["shasum"])


def test_addresses_are_skewed_with_some_ipv6():
    config = SampleConfig(days=1, sessions_per_day=3000, ipv6_share=0.05)
    ips = Counter(events[0]["src_ip"] for events in generate_sessions(config))
    assert any(":" in ip for ip in ips)
    top = sum(n for _, n in ips.most_common(config.effective_ip_pool // 100))
    assert top > 0.4 * 3000  # hot scanners dominate
    assert 400 < len(ips) < config.effective_ip_pool


def test_clean_config_has_no_dirt(tmp_path):
    summary = write_sample_logs(tmp_path, SampleConfig(days=2, sessions_per_day=60).clean())
    assert summary.duplicates == 0
    assert not summary.bad_lines
    for path in summary.files:
        for raw, complete in records(path):
            assert complete
            kind, ev = classify(raw, complete)
            assert kind == "good"
            assert ev["sensor"] == path.parent.name


def test_write_event_file(tmp_path):
    path = tmp_path / "cowrie.json"
    n = write_event_file(path, 5000, seed=3)
    lines = path.read_bytes().splitlines()
    assert n == len(lines) >= 5000
    events = [json.loads(line) for line in lines]
    assert {e["sensor"] for e in events} == {"bench-a", "bench-b", "bench-c"}
    stamps = [parse_ts(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    assert write_event_file(tmp_path / "again.json", 5000, seed=3) == n
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_sample_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        sample_command,
        [str(tmp_path / "out"), "--days", "2", "--sessions-per-day", "20", "--sensors", "x,y",
         "--compress", "none", "--no-dirt"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 4 files" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "x").iterdir()) == [
        "cowrie.json",
        "cowrie.json.2024-03-01",
    ]
