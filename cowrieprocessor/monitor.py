"""Read a status directory written by :class:`~cowrieprocessor.status.StatusEmitter`.

:func:`read_snapshot` turns the directory into plain data (:class:`Snapshot`); it never
raises on bad files: unreadable or corrupt ones become phases with ``problem`` set.
:func:`render_snapshot` turns a snapshot into a Rich renderable (Rich is imported lazily;
every string from a status file is rendered as plain ``Text`` with control characters
escaped, so attacker- or user-controlled text cannot inject markup or terminal escapes).
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cowrieprocessor.status import AGGREGATE_NAME

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "DEFAULT_STALE_AFTER",
    "PhaseStatus",
    "Snapshot",
    "pid_alive",
    "read_snapshot",
    "render_snapshot",
]

DEFAULT_STALE_AFTER = 60.0
"""Seconds without an update after which a running phase is shown as stale."""

_MAX_FILE_BYTES = 4 * 1024 * 1024


def pid_alive(host: str | None, pid: int | None) -> bool | None:
    """Whether process ``pid`` runs; ``None`` when unknown (other host, no pid)."""
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def _parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


@dataclass(frozen=True)
class PhaseStatus:
    """One phase as found on disk.

    ``payload`` is the decoded status document (``None`` when unreadable, then ``problem``
    says why). ``stale`` is set for a ``running`` phase whose last update is older than the
    threshold or whose process is gone (``stale_reason`` says which).
    """

    name: str
    source: Path
    payload: Mapping[str, Any] | None = None
    problem: str | None = None
    stale: bool = False
    stale_reason: str | None = None
    age_seconds: float | None = None

    @property
    def state(self) -> str:
        """``running``/``finished``/``failed``, ``stale``, or ``unreadable``."""
        if self.payload is None:
            return "unreadable"
        if self.stale:
            return "stale"
        state = self.payload.get("state")
        return state if isinstance(state, str) else "unknown"


@dataclass(frozen=True)
class Snapshot:
    """Everything found in a status directory at ``taken_at``."""

    status_dir: Path
    taken_at: datetime.datetime
    exists: bool
    phases: tuple[PhaseStatus, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        """No phases were found."""
        return not self.phases


def _load(path: Path) -> tuple[Any, str | None]:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            return None, f"too large ({size} bytes)"
        return orjson.loads(path.read_bytes()), None
    except FileNotFoundError:
        return None, "vanished while reading"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    except orjson.JSONDecodeError as exc:
        return None, f"corrupt JSON: {exc}"


def _phase(
    name: str,
    source: Path,
    payload: Any,
    now: datetime.datetime,
    stale_after: float,
    alive: Callable[[str | None, int | None], bool | None],
) -> PhaseStatus:
    if not isinstance(payload, dict):
        return PhaseStatus(name, source, problem="not a status object")
    updated = _parse_time(payload.get("updated_at"))
    age = (now - updated).total_seconds() if updated else None
    stale_reason = None
    if payload.get("state") == "running":
        host = payload.get("host")
        is_alive = alive(host if isinstance(host, str) else None, payload.get("pid"))
        if is_alive is False:
            stale_reason = f"process {payload.get('pid')} is gone"
        elif age is None:
            stale_reason = "no valid updated_at"
        elif age > stale_after:
            stale_reason = f"no update for {age:.0f}s"
    return PhaseStatus(
        name,
        source,
        payload=payload,
        stale=stale_reason is not None,
        stale_reason=stale_reason,
        age_seconds=age,
    )


def read_snapshot(
    status_dir: Path | str,
    *,
    stale_after: float = DEFAULT_STALE_AFTER,
    now: datetime.datetime | None = None,
    alive: Callable[[str | None, int | None], bool | None] = pid_alive,
) -> Snapshot:
    """Read every ``<phase>.json`` in ``status_dir`` (plus phases only in ``status.json``).

    Never raises for bad content: corrupt, unreadable or odd files become phases with
    ``problem`` set. ``now`` and ``alive`` can be injected for tests.
    """
    status_dir = Path(status_dir)
    now = now or datetime.datetime.now(datetime.UTC)
    if not status_dir.is_dir():
        return Snapshot(status_dir, now, exists=False)
    phases: dict[str, PhaseStatus] = {}
    try:
        entries = sorted(status_dir.iterdir())
    except OSError:
        return Snapshot(status_dir, now, exists=False)
    for path in entries:
        if path.name.startswith(".") or path.suffix != ".json" or path.name == AGGREGATE_NAME:
            continue
        payload, problem = _load(path)
        if problem is not None:
            phases[path.stem] = PhaseStatus(path.stem, path, problem=problem)
        else:
            phases[path.stem] = _phase(path.stem, path, payload, now, stale_after, alive)
    aggregate_path = status_dir / AGGREGATE_NAME
    if aggregate_path.exists():
        aggregate, problem = _load(aggregate_path)
        if problem is None and isinstance(aggregate, dict):
            for name, payload in aggregate.items():
                if isinstance(name, str) and name not in phases:
                    phases[name] = _phase(name, aggregate_path, payload, now, stale_after, alive)
        elif problem is not None and not phases:
            phases[AGGREGATE_NAME] = PhaseStatus(AGGREGATE_NAME, aggregate_path, problem=problem)
    return Snapshot(status_dir, now, exists=True, phases=tuple(phases[k] for k in sorted(phases)))


# --------------------------------------------------------------------------------------
# Rendering


def _clean(value: Any, limit: int = 200) -> str:
    """A one-line string for display, control and invisible characters escaped."""
    # imported here: safe_text loads Rich, which reading a snapshot does not need
    from cowrieprocessor.reporting.safe_text import escape_controls

    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = escape_controls(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _clean(value, 40)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _fmt_duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    seconds = int(seconds)
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _fmt_time(value: Any) -> str:
    parsed = _parse_time(value)
    if parsed is None:
        return "-" if value is None else _clean(value, 30)
    return parsed.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _pairs(mapping: Any, number: bool = True) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "-"
    parts = []
    for key, value in mapping.items():
        shown = _fmt_number(value) if number else _clean(value, 160)
        parts.append(f"{_clean(key, 40)}={shown}")
    return "  ".join(parts)


_STATE_STYLES = {
    "running": "bold cyan",
    "finished": "green",
    "failed": "bold red",
    "interrupted": "yellow",
    "stale": "bold yellow",
    "unreadable": "bold magenta",
}


def render_snapshot(snapshot: Snapshot) -> RenderableType:
    """A Rich renderable for ``snapshot``: a header, a table of phases, details and errors."""
    from rich.console import Group
    from rich.text import Text

    header = Text(
        f"cowrieprocessor status: {_clean(str(snapshot.status_dir), 300)}  "
        f"(at {snapshot.taken_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%SZ})",
        style="bold",
    )
    if not snapshot.exists:
        return Group(
            header,
            Text(
                "Status directory does not exist: nothing has reported progress here yet. "
                "Set --status-dir or COWRIE_STATUS_DIR to where jobs write status.",
                style="yellow",
            ),
        )
    if snapshot.empty:
        return Group(
            header,
            Text(
                "No status files yet: no ingest, refresh or reporting job has run here.",
                style="yellow",
            ),
        )
    blocks: list[Any] = [header]
    for phase in snapshot.phases:
        blocks.append(_render_phase(phase, Text))
    return Group(*blocks)


def _render_phase(phase: PhaseStatus, text_cls: Any) -> Any:
    payload = phase.payload or {}
    block = text_cls("\n")
    block.append(_clean(phase.name, 60), style="bold")
    block.append("  ")
    block.append(phase.state, style=_STATE_STYLES.get(phase.state, ""))
    if phase.stale_reason:
        block.append(f" ({phase.stale_reason})", style="yellow")
    host, pid = payload.get("host"), payload.get("pid")
    if host is not None or pid is not None:
        block.append(f"  {_clean(host, 60)} pid {_clean(pid, 12)}", style="dim")
    if phase.problem:
        block.append(f"\n  unreadable {phase.source.name}: {_clean(phase.problem, 200)}",
                     style="magenta")  # fmt: skip
        return block
    if phase.source.name == AGGREGATE_NAME:
        block.append(f"  (from {AGGREGATE_NAME})", style="dim")
    updated = _fmt_time(payload.get("updated_at"))
    if phase.age_seconds is not None:
        updated += f" ({_fmt_duration(max(0.0, phase.age_seconds))} ago)"
    block.append(
        f"\n  started {_fmt_time(payload.get('started_at'))}  updated {updated}"
        f"  elapsed {_fmt_duration(payload.get('elapsed_seconds'))}"
    )
    block.append(f"\n  counters: {_pairs(payload.get('counters'))}")
    block.append(f"\n  rate/s:   {_pairs(payload.get('rate'))}")
    details = payload.get("details")
    if isinstance(details, dict) and details:
        block.append(f"\n  details:  {_pairs(details, number=False)}")
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        block.append("\n  errors:", style="red")
        for entry in errors[:10]:
            if isinstance(entry, dict):
                reason = _clean(entry.get("reason", "?"), 60)
                count = _fmt_number(entry.get("count", "?"))
                message = _clean(entry.get("message", ""), 160)
                block.append(f"\n    {reason} x{count}: {message}")
            else:
                block.append(f"\n    {_clean(entry, 160)}")
        if len(errors) > 10:
            block.append(f"\n    ... {len(errors) - 10} more")
    return block
