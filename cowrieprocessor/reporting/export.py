"""Exports: the per-session rows of a window's sessions, streamed as NDJSON or CSV.

NDJSON keeps every value exact. In CSV a text cell that a spreadsheet would run as a
formula gets a leading ``'`` (attackers choose usernames and commands), JSON values become
their compact text and dates ISO text. Rows are written page by page, so memory stays flat
however long the window.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import IO, Any

import orjson

from cowrieprocessor.reporting.dal import DEFAULT_BATCH, ReportingDAL, Window

#: What can be exported: the per-session tables.
KINDS = ("sessions", "commands", "files")
#: Output formats.
FORMATS = ("ndjson", "csv")
#: Characters that make a spreadsheet read a cell as a formula (CSV injection) when they
#: come first, or after nothing but whitespace (spreadsheets skip a leading space or line
#: feed before ``=``).
FORMULA_START = ("=", "+", "-", "@")
#: Characters that are a risk as the very first one of a cell.
RISKY_FIRST = ("\t", "\r")


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula."""
    return text.startswith(RISKY_FIRST) or text.lstrip().startswith(FORMULA_START)


def csv_value(value: Any) -> Any:
    """``value`` as a CSV cell: JSON as text, dates in ISO form, formulas kept as text."""
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and is_formula(value):
        # Attacker text must stay text in a spreadsheet: the usual guard, a leading quote.
        return "'" + value
    return value


def write_export(
    dal: ReportingDAL,
    kind: str,
    window: Window,
    fmt: str,
    out: IO[str],
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Write the ``kind`` rows (see :data:`KINDS`) of the window's sessions to ``out`` in
    ``fmt`` (see :data:`FORMATS`); the number of rows written."""
    if kind not in KINDS or fmt not in FORMATS:
        raise ValueError(f"cannot export {kind!r} as {fmt!r}")
    pages = getattr(dal, f"iter_{kind}")(window, batch_size)
    writer: csv.DictWriter[str] | None = None
    written = 0
    for rows in pages:
        written += len(rows)
        if fmt == "ndjson":
            out.write("".join(orjson.dumps(r).decode() + "\n" for r in rows))
            continue
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
        writer.writerows({k: csv_value(v) for k, v in r.items()} for r in rows)
    return written
