"""Logs for the report tests: generated dirty logs plus handmade events the generator lacks."""

from __future__ import annotations

import gzip
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cowrieprocessor.samples import SampleConfig, write_sample_logs

#: Tuesday 2024-02-27 .. Wednesday 2024-03-06: crosses an ISO week and a month boundary.
CONFIG = SampleConfig(seed=11, start=date(2024, 2, 27), days=9, sessions_per_day=24, compress="gz")
LAST_DAY = CONFIG.start + timedelta(days=CONFIG.days - 1)


def _event(sid: str, sensor: str, ts: str, eventid: str, **fields: Any) -> dict[str, Any]:
    return {"eventid": eventid, "timestamp": ts, "session": sid, "sensor": sensor, **fields}


def _scan(sid: str, sensor: str, ts: str, sha: str, positives: int, *names: str) -> dict:
    scans = {f"E{i}": {"detected": bool(n), "result": n or None} for i, n in enumerate(names)}
    return _event(
        sid,
        sensor,
        ts,
        "cowrie.virustotal.scanfile",
        sha256=sha,
        positives=positives,
        total=60,
        scans=scans,
    )


def extra_events() -> list[dict[str, Any]]:
    """What the generator never writes: VirusTotal detection names, IP-less sessions."""
    a, b = "honeypot-a", "honeypot-b"
    s1, s2, s3 = "1" * 64, "2" * 64, "3" * 64
    return [
        # February: Old.Label is seen, so it is not new in March.
        _event(
            "feb000000001",
            a,
            "2024-02-28T10:00:00.000001Z",
            "cowrie.session.connect",
            src_ip="192.0.2.50",
            protocol="ssh",
        ),
        _event(
            "feb000000001",
            a,
            "2024-02-28T10:00:03Z",
            "cowrie.session.file_download",
            src_ip="192.0.2.50",
            url="http://192.0.2.9/o",
            shasum=s3,
        ),
        _scan("feb000000001", a, "2024-02-28T10:00:04Z", s3, 5, "Old.Label"),
        # March: a download scanned twice (the later verdict wins) and an upload whose
        # engines tie between two names (the smaller in code-point order wins).
        _event(
            "mar000000001",
            a,
            "2024-03-02T23:59:58.5Z",
            "cowrie.session.connect",
            src_ip="192.0.2.51",
            protocol="telnet",
        ),
        _event(
            "mar000000001",
            a,
            "2024-03-02T23:59:59Z",
            "cowrie.session.file_download",
            src_ip="192.0.2.51",
            url="http://192.0.2.9/m",
            shasum=s1,
        ),
        _scan("mar000000001", a, "2024-03-03T00:00:01Z", s1, 0),
        _scan(
            "mar000000001",
            a,
            "2024-03-03T00:00:02Z",
            s1,
            2,
            "Trojan.Mirai",
            "Trojan.Mirai",
            "Backdoor.X",
            "",
        ),
        _event(
            "mar000000001",
            a,
            "2024-03-03T00:00:03Z",
            "cowrie.session.file_upload",
            src_ip="192.0.2.51",
            filename="up",
            shasum=s2,
        ),
        _scan("mar000000001", a, "2024-03-03T00:00:04Z", s2, 1, "Zeta", "Backdoor.Gafgyt"),
        _event(
            "mar000000001",
            a,
            "2024-03-03T00:00:05Z",
            "cowrie.session.file_download",
            src_ip="192.0.2.51",
            url="http://192.0.2.9/o",
            shasum=s3,
        ),
        _scan("mar000000001", a, "2024-03-03T00:00:06Z", s3, 5, "Old.Label"),
        # A session on another sensor, no src_ip on any event, same file: not flagged here.
        _event(
            "mar000000002",
            b,
            "2024-03-05T12:00:00Z",
            "cowrie.login.failed",
            username="",
            password="",
        ),
        _event(
            "mar000000002",
            b,
            "2024-03-05T12:00:01Z",
            "cowrie.session.file_download",
            url="http://192.0.2.9/m",
            shasum=s1,
        ),
        _scan("mar000000002", b, "2024-03-05T12:00:02Z", s1, 0),
        # Values that are not strings where Cowrie writes strings: a login whose username or
        # password is one is left out of the credential figures (a null one counts as ''),
        # a command counts as compact JSON with sorted keys, alike on both dialects.
        *[
            _event(
                "mar000000003",
                b,
                f"2024-03-05T13:00:0{i}Z",
                "cowrie.login.failed",
                src_ip="192.0.2.52",
                username=user,
                password=password,
            )
            for i, (user, password) in enumerate(
                [
                    ({"b": 1, "a": [1, 2]}, True),
                    (123, 1.5),
                    (None, ["x"]),
                    ("root", False),
                    (None, "pw"),
                    ("", None),
                    (10**30, "big"),
                ]
            )
        ],
        _event(
            "mar000000003",
            b,
            "2024-03-05T13:00:05Z",
            "cowrie.command.input",
            src_ip="192.0.2.52",
            input={"z": True, "a": 1},
        ),
        # Events without a sensor: a session none of whose events names one, and a session
        # id that two sensors name: both take the default sensor ('unknown'). (The sample
        # logs' own sensor-less events join the session of their id that names a sensor.)
        *[
            {k: v for k, v in e.items() if k != "sensor"}
            for e in (
                _event(
                    "nosensor0001",
                    "",
                    "2024-03-04T09:00:00Z",
                    "cowrie.session.connect",
                    src_ip="192.0.2.60",
                    protocol="ssh",
                ),
                _event(
                    "nosensor0001",
                    "",
                    "2024-03-04T09:00:05Z",
                    "cowrie.login.failed",
                    src_ip="192.0.2.60",
                    username="guest",
                    password="guest",
                ),
            )
        ],
        _event("twice0000001", a, "2024-03-04T10:00:00Z", "cowrie.session.connect", src_ip="x"),
        _event("twice0000001", b, "2024-03-04T10:00:01Z", "cowrie.session.connect", src_ip="y"),
        _event(
            "twice0000001",
            "",
            "2024-03-04T10:00:02Z",
            "cowrie.login.failed",
            src_ip="y",
            username="neither",
            password="sensor",
        ),
        # A burst of new addresses on one day: an ip_spike for honeypot-b on 2024-03-06.
        *[
            _event(
                f"burst{i:07d}",
                b,
                f"2024-03-06T08:{i:02d}:00Z",
                "cowrie.session.connect",
                src_ip=f"198.18.0.{i}",
                protocol="ssh",
            )
            for i in range(40)
        ],
    ]


def dirty_logs(out: Path) -> list[Path]:
    """Sample logs plus one gz day file split in two, shuffled, with repeated lines."""
    summary = write_sample_logs(out, CONFIG)
    files = list(summary.files)
    for victim in (p for p in files if p.suffix == ".gz"):
        lines = gzip.decompress(victim.read_bytes()).splitlines(keepends=True)
        if all(line.strip() != b"{" for line in lines):  # no pretty-printed block
            break
    rng = random.Random(5)
    rng.shuffle(lines)
    half = len(lines) // 2
    victim.write_bytes(gzip.compress(b"".join(lines[:half])))
    extra = victim.parent / "cowrie.json.extra"
    extra.write_bytes(b"".join(lines[half:] + lines[:10]))  # 10 lines written twice
    files.append(extra)
    handmade = out / "handmade" / "cowrie.json.handmade"
    handmade.parent.mkdir()
    handmade.write_text("".join(json.dumps(e) + "\n" for e in reversed(extra_events())))
    files.append(handmade)
    rng.shuffle(files)  # ingest order unrelated to time order
    return files
