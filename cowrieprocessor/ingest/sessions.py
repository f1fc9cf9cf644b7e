"""What a session's events add up to: the one definition of every per-session figure.

A :class:`SessionFacts` is always built from *all* stored events of a session (the loader
feeds it either a brand-new session's events from the batch, or every event of a known
session read back from the database), so its figures are recomputed, never incremented.
The same Python code runs for SQLite and PostgreSQL, so both store identical values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cowrieprocessor.db import limits
from cowrieprocessor.ingest.parse import sorted_json

LOGIN_SUCCESS = "cowrie.login.success"
LOGIN_FAILED = "cowrie.login.failed"
COMMAND_INPUT = "cowrie.command.input"
FILE_DOWNLOAD = "cowrie.session.file_download"
FILE_UPLOAD = "cowrie.session.file_upload"
VT_SCANFILE = "cowrie.virustotal.scanfile"
CLIENT_VERSION = "cowrie.client.version"
CLIENT_KEX = "cowrie.client.kex"


def as_text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, null as None, other values as compact JSON
    with sorted keys (the same text whichever key order the event was read back in)."""
    if value is None or isinstance(value, str):
        return value
    return sorted_json(value).decode()


def counts_as_credential(value: Any) -> bool:
    """Whether a username or password counts in credential figures: a string, or none
    (missing or null, counted as ``""``). A login whose username or password is another JSON
    value (a number, true, an object) is left out of them, as in the credential rollups."""
    return value is None or isinstance(value, str)


def _fitting(value: str | None, limit: int) -> str | None:
    """``value``, or None when it is longer than its column (the event keeps it whole)."""
    return value if value is None or len(value) <= limit else None


#: The bounds of the integer columns a logged number goes to (VirusTotal counts).
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _as_int(value: Any) -> int | None:
    """A logged count as an integer column holds it; None if it is not one or too big for it."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if _INT_MIN <= number <= _INT_MAX else None


def unwrap_version(version: str) -> str:
    """``"b'SSH-2.0-Go'"`` (a bytes repr logged by 2019-21 Cowrie) -> ``"SSH-2.0-Go"``."""
    if len(version) >= 3 and version.startswith("b'") and version.endswith("'"):
        return version[2:-1]
    return version


def vt_label(scans: Any) -> str | None:
    """Most common detection name among the engines that flagged a file (ties: A-Z)."""
    if not isinstance(scans, dict):
        return None
    names = Counter(
        v["result"]
        for v in scans.values()
        if isinstance(v, dict) and v.get("detected") and isinstance(v.get("result"), str)
    )
    if not names:
        return None
    return min(names.items(), key=lambda item: (-item[1], item[0]))[0]


class SessionFacts:
    """Accumulates one session's events; ``add`` every event once, then read the rows."""

    __slots__ = (
        "commands",
        "counts",
        "first",
        "hassh",
        "last",
        "protocol",
        "scans",
        "sensor",
        "session_id",
        "src_ip",
        "success",
        "transfers",
        "version",
    )

    def __init__(self, sensor: str, session_id: str) -> None:
        self.sensor = sensor
        self.session_id = session_id
        self.first = self.last = ""
        self.src_ip: str | None = None
        self.protocol: str | None = None
        self.version: str | None = None
        self.hassh: str | None = None
        self.counts: Counter[str] = Counter()
        self.success: tuple[str, bytes, Any, Any] | None = None  # (time, hash, user, pass)
        self.commands: dict[str, list[Any]] = {}  # input -> [count, first, last]
        self.transfers: dict[tuple[Any, ...], list[Any]] = {}  # key -> [count, first]
        self.scans: dict[str, tuple[str, bytes, dict[str, Any]]] = {}  # sha -> latest scan

    def add(
        self,
        event_type: str,
        timestamp: str,
        event_hash: bytes,
        src_ip: str | None,
        payload: dict[str, Any],
    ) -> None:
        """Take one event into account (``timestamp`` is stored UTC text)."""
        if not self.first or timestamp < self.first:
            self.first = timestamp
        if timestamp > self.last:
            self.last = timestamp
        if src_ip is not None and (self.src_ip is None or src_ip < self.src_ip):
            self.src_ip = src_ip
        protocol = payload.get("protocol")
        if (
            isinstance(protocol, str)
            and len(protocol) <= limits.PROTOCOL
            and (self.protocol is None or protocol > self.protocol)
        ):
            self.protocol = protocol
        self.counts[event_type] += 1
        step = _STEPS.get(event_type)
        if step is not None:
            step(self, event_type, timestamp, event_hash, payload)

    # -- one step per event kind: (event_type, timestamp, event_hash, payload) -------------

    def _command(self, _type: str, timestamp: str, _hash: bytes, payload: dict[str, Any]) -> None:
        command = as_text(payload.get("input"))
        if command is None:
            return
        seen = self.commands.get(command)
        if seen is None:
            self.commands[command] = [1, timestamp, timestamp]
        else:
            seen[0] += 1
            seen[1] = min(seen[1], timestamp)
            seen[2] = max(seen[2], timestamp)

    def _success(
        self, _type: str, timestamp: str, event_hash: bytes, payload: dict[str, Any]
    ) -> None:
        """The session's credentials: its first successful login that counts as one."""
        user, password = payload.get("username"), payload.get("password")
        if (
            counts_as_credential(user)
            and counts_as_credential(password)
            and (self.success is None or (timestamp, event_hash) < self.success[:2])
        ):
            self.success = (timestamp, event_hash, user, password)

    def _transfer(
        self, event_type: str, timestamp: str, _hash: bytes, payload: dict[str, Any]
    ) -> None:
        download = event_type == FILE_DOWNLOAD
        key = (
            "download" if download else "upload",
            as_text(payload.get("url" if download else "filename")),
            _fitting(as_text(payload.get("shasum")), limits.SHASUM),
            as_text(payload.get("outfile")),
        )
        seen = self.transfers.get(key)
        if seen is None:
            self.transfers[key] = [1, timestamp]
        else:
            seen[0] += 1
            seen[1] = min(seen[1], timestamp)

    def _scan(self, _type: str, timestamp: str, event_hash: bytes, payload: dict[str, Any]) -> None:
        """A file's VirusTotal verdict: the latest scan event of its SHA-256 wins."""
        sha = payload.get("sha256")
        if isinstance(sha, str) and sha:
            latest = self.scans.get(sha)
            if latest is None or (timestamp, event_hash) > latest[:2]:
                self.scans[sha] = (timestamp, event_hash, payload)

    def _version(self, _type: str, _ts: str, _hash: bytes, payload: dict[str, Any]) -> None:
        version = payload.get("version")
        if isinstance(version, str):
            version = unwrap_version(version)
            if self.version is None or version > self.version:
                self.version = version

    def _kex(self, _type: str, _ts: str, _hash: bytes, payload: dict[str, Any]) -> None:
        hassh = payload.get("hassh")
        if (
            isinstance(hassh, str)
            and len(hassh) <= limits.HASSH
            and (self.hassh is None or hassh > self.hassh)
        ):
            self.hassh = hassh

    # -- rows ---------------------------------------------------------------------------
    # Rows are tuples in the column order of FILE_COLUMNS / COMMAND_COLUMNS / SUMMARY_COLUMNS,
    # with timestamps as stored UTC text, ready for a driver-level executemany.

    def file_rows(self) -> list[tuple[Any, ...]]:
        """Rows of ``files``: one per distinct transfer, with the latest VirusTotal verdict."""
        rows = []
        for (direction, url, shasum, outfile), (count, first) in self.transfers.items():
            scan = self.scans.get(shasum or "")
            verdict = scan[2] if scan else {}
            rows.append(
                (
                    self.sensor,
                    self.session_id,
                    direction,
                    url,
                    shasum,
                    outfile,
                    count,
                    first,
                    _as_int(verdict.get("positives")),
                    _as_int(verdict.get("total")),
                    vt_label(verdict.get("scans")),
                )
            )
        return rows

    def command_rows(self) -> list[tuple[Any, ...]]:
        """Rows of ``command_stats``: one per distinct input string, holding the text (the
        store interns it: ``COMMAND_COLUMNS`` has its id there)."""
        return [
            (self.sensor, self.session_id, command, count, first, last)
            for command, (count, first, last) in self.commands.items()
        ]

    def summary_row(self, vt_flagged: bool, now: str | None) -> tuple[Any, ...]:
        """The ``session_summaries`` row; ``vt_flagged`` comes from the session's files."""
        duration = datetime.fromisoformat(self.last) - datetime.fromisoformat(self.first)
        counts = self.counts
        success = self.success
        return (
            self.sensor,
            self.session_id,
            self.src_ip,
            self.protocol,
            self.first,
            self.first[:10],
            self.last,
            duration.total_seconds(),
            self.version,
            self.hassh,
            counts[LOGIN_SUCCESS] + counts[LOGIN_FAILED],
            counts[LOGIN_SUCCESS],
            success[2] if success else None,
            success[3] if success else None,
            counts[COMMAND_INPUT],
            counts[FILE_DOWNLOAD],
            counts[FILE_UPLOAD],
            vt_flagged,
            now,
        )


_Step = Callable[[SessionFacts, str, str, bytes, dict[str, Any]], None]
#: The step of each event kind with more to it than being counted (a failed login: none).
_STEPS: dict[str, _Step] = {
    COMMAND_INPUT: SessionFacts._command,
    LOGIN_SUCCESS: SessionFacts._success,
    FILE_DOWNLOAD: SessionFacts._transfer,
    FILE_UPLOAD: SessionFacts._transfer,
    VT_SCANFILE: SessionFacts._scan,
    CLIENT_VERSION: SessionFacts._version,
    CLIENT_KEX: SessionFacts._kex,
}

FILE_COLUMNS = (
    "sensor",
    "session_id",
    "direction",
    "url",
    "shasum",
    "outfile",
    "occurrences",
    "first_seen",
    "vt_positives",
    "vt_total",
    "vt_label",
)
COMMAND_COLUMNS = ("sensor", "session_id", "command_id", "occurrences", "first_seen", "last_seen")
SUMMARY_COLUMNS = (
    "sensor",
    "session_id",
    "src_ip",
    "protocol",
    "first_event_at",
    "first_day",
    "last_event_at",
    "duration_seconds",
    "client_version",
    "hassh",
    "login_attempts",
    "login_successes",
    "username",
    "password",
    "command_count",
    "file_downloads",
    "file_uploads",
    "vt_flagged",
    "updated_at",
)
