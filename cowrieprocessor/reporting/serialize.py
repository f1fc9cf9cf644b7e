"""Report documents as JSON and NDJSON, exactly as built (no Rich: ``show --format json``
imports only this)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["to_json", "to_ndjson"]

# JSON allows these raw inside strings, but Python's str.splitlines() and some log shippers
# treat them as line breaks; escaping them keeps one document per NDJSON line.
_LINE_BREAK_ESCAPES = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _json_default(value: object) -> object:
    """Serialise the few non-JSON types a builder may hand over (dates, SQL decimals)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _dumps(document: object, *, indent: int | None) -> str:
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(
        document,
        ensure_ascii=False,
        allow_nan=False,
        indent=indent,
        separators=separators,
        default=_json_default,
    )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"Report document holds text that is not valid Unicode: {exc}") from exc
    return text.translate(_LINE_BREAK_ESCAPES)


def to_json(document: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """Serialise one document (or a list of them) as indented JSON (2 spaces), keys in the
    order built.

    Non-ASCII text is written as UTF-8, not ``\\u`` escapes; control characters are escaped
    as JSON requires, so ``json.loads(to_json(doc)) == doc`` for every JSON-able document.
    NaN and infinity are refused (``ValueError``): they are not JSON.
    """
    return _dumps(document, indent=2)


def to_ndjson(documents: Iterable[Mapping[str, Any]]) -> str:
    """Serialise documents as NDJSON: one compact JSON document per line, each ending in ``\\n``.

    No line holds a raw line break of any kind (U+2028, U+2029 and U+0085 are escaped too).
    """
    return "".join(_dumps(document, indent=None) + "\n" for document in documents)
