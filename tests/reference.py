"""Independent plain-Python computations from raw Cowrie log lines, to check the database.

Deliberately written without the package's parser: its own line reading, sanitising and
deduplication, so a bug in the loader cannot hide behind the same bug here.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_BAD = re.compile("[\x00\ud800-\udfff]")


def _sanitize(value: Any) -> Any:
    if isinstance(value, str):
        return _BAD.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    return value


def _open(path: Path) -> Any:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return open(path, "rb")


def _records(path: Path) -> list[bytes]:
    """Lines, with indented multi-line blocks ('{' ... '}') joined into one record."""
    out: list[bytes] = []
    block: list[bytes] | None = None
    with _open(path) as fh:
        for line in fh.read().splitlines(keepends=True):
            if block is not None:
                block.append(line)
                if line.rstrip() == b"}":
                    out.append(b"".join(block))
                    block = None
                continue
            if line.strip() == b"{":
                block = [line]
            elif line.endswith(b"\n"):
                out.append(line)
    return out


def parse_time(value: str) -> datetime:
    """Cowrie timestamp -> aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def load_events(paths: list[Path], default_sensor: str = "unknown") -> list[dict[str, Any]]:
    """Every distinct, valid Cowrie event in the files (sanitised, sensor filled in).

    An event without a sensor (missing, empty, not a string) takes the one sensor that the
    other events of its session id name, or ``default_sensor`` when they name none or two.
    """
    seen: set[str] = set()
    events = []
    for path in paths:
        for raw in _records(path):
            try:
                obj = json.loads(raw.decode("utf-8", errors="replace"), strict=False)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            obj = _sanitize(obj)
            eventid, session, ts = obj.get("eventid"), obj.get("session"), obj.get("timestamp")
            if not (isinstance(eventid, str) and eventid.startswith("cowrie.")):
                continue
            if not (isinstance(session, str) and session) or not isinstance(ts, str):
                continue
            try:
                when = parse_time(ts)
            except ValueError:
                continue
            key = json.dumps(obj, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            obj["_time"] = when
            events.append(obj)
    named: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if _names_sensor(event):
            named[event["session"]].add(event["sensor"])
    for event in events:
        if _names_sensor(event):
            event["_sensor"] = event["sensor"]
        else:
            sensors = named[event["session"]]
            event["_sensor"] = min(sensors) if len(sensors) == 1 else default_sensor
    return events


def _names_sensor(event: dict[str, Any]) -> bool:
    return isinstance(event.get("sensor"), str) and event["sensor"] != ""


def _unwrap_version(version: str) -> str:
    if version.startswith("b'") and version.endswith("'") and len(version) >= 3:
        return version[2:-1]
    return version


def session_summaries(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Expected ``session_summaries`` rows keyed by (sensor, session id)."""
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_session[(event["_sensor"], event["session"])].append(event)
    result = {}
    for key, evs in by_session.items():
        evs.sort(key=lambda e: e["_time"])
        kinds = [e["eventid"] for e in evs]
        successes = [e for e in evs if e["eventid"] == "cowrie.login.success"]
        # The first successful login whose credentials count (strings, or none).
        counted = [
            e
            for e in successes
            if all(e.get(k) is None or isinstance(e[k], str) for k in ("username", "password"))
        ]
        versions = [
            _unwrap_version(e["version"])
            for e in evs
            if e["eventid"] == "cowrie.client.version" and isinstance(e.get("version"), str)
        ]
        hasshes = [
            e["hassh"]
            for e in evs
            if e["eventid"] == "cowrie.client.kex" and isinstance(e.get("hassh"), str)
        ]
        protocols = [e["protocol"] for e in evs if isinstance(e.get("protocol"), str)]
        ips = [e["src_ip"] for e in evs if isinstance(e.get("src_ip"), str)]
        verdicts: dict[str, int] = {}
        for e in evs:
            if e["eventid"] == "cowrie.virustotal.scanfile" and e.get("sha256"):
                verdicts[e["sha256"]] = int(e.get("positives") or 0)
        downloads = [e for e in evs if e["eventid"] == "cowrie.session.file_download"]
        transfers = downloads + [e for e in evs if e["eventid"] == "cowrie.session.file_upload"]
        first, last = evs[0]["_time"], evs[-1]["_time"]
        result[key] = {
            "src_ip": min(ips) if ips else None,
            "protocol": max(protocols) if protocols else None,
            "first_event_at": first,
            "first_day": first.date(),
            "last_event_at": last,
            "duration_seconds": (last - first).total_seconds(),
            "client_version": max(versions) if versions else None,
            "hassh": max(hasshes) if hasshes else None,
            "login_attempts": sum(
                k in ("cowrie.login.success", "cowrie.login.failed") for k in kinds
            ),
            "login_successes": len(successes),
            "username": counted[0].get("username") if counted else None,
            "password": counted[0].get("password") if counted else None,
            "command_count": kinds.count("cowrie.command.input"),
            "file_downloads": len(downloads),
            "file_uploads": kinds.count("cowrie.session.file_upload"),
            "vt_flagged": any(verdicts.get(e.get("shasum") or "", 0) > 0 for e in transfers),
        }
    return result
