"""Render attacker-controlled strings safely as Rich text.

Everything in a report that came from the wire (usernames, passwords, commands, URLs, hashes,
sensor names, alert messages) is data. It must never be interpreted as Rich markup
(``[bold]``, a stray ``[/x]`` raises), as emoji codes (``:smile:``), or as terminal control
sequences (``\\x1b[2J`` clears the operator's screen; ``\\u202e`` reverses the text that
follows). :func:`safe_text` builds a :class:`rich.text.Text` directly, which Rich never parses
for markup, emoji or highlighting, and makes invisible characters visible:

* ``\\n``, ``\\r``, ``\\t`` are shown as those two-character escapes;
* other C0/C1 control characters and DEL as ``\\xNN`` (NUL is ``\\x00``, ESC is ``\\x1b``);
* format characters (bidirectional overrides and isolates, zero-width characters, BOM),
  line and paragraph separators, surrogates and unusual spaces as ``\\uNNNN`` or
  ``\\UNNNNNNNN``.

Escapes are styled (:data:`ESCAPE_STYLE`) so that, on a colour terminal, they can be told
apart from a literal backslash typed by the attacker. Output is cut at ``max_len`` terminal
cells with a trailing ``…``; the work done is bounded by ``max_len``, not by the length of the
input, so a 100 KB command costs as much as a short one.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from rich.cells import get_character_cell_size
from rich.style import Style
from rich.text import Text

__all__ = ["ELLIPSIS", "ESCAPE_STYLE", "escape_controls", "safe_text", "visible_pieces"]

ELLIPSIS = "…"
ESCAPE_STYLE = Style(color="magenta", italic=True)

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Categories that are invisible or change how a terminal lays out the text that follows.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@lru_cache(maxsize=4096)
def _escape_for(char: str) -> str | None:
    """Return the visible escape for ``char``, or None when it can be shown as it is."""
    if " " <= char <= "~":
        return None
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    category = unicodedata.category(char)
    if category not in _UNSAFE_CATEGORIES and category != "Zs":
        return None
    code = ord(char)
    if code < 0x100:
        if category == "Zs" and code == 0x20:
            return None
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_controls(value: str) -> str:
    """Return ``value`` with every control or invisible character replaced by its escape.

    Unlike :func:`safe_text` this neither truncates nor styles; use it for plain-text output.
    """
    return "".join(_escape_for(char) or char for char in value)


def visible_pieces(value: str) -> list[tuple[str, bool]]:
    """``value`` cut into runs of plain text and escapes: ``[(text, is_escape), ...]``, so
    that a template can style the escapes (its autoescaping escapes both kinds)."""
    pieces: list[tuple[str, bool]] = []
    run: list[str] = []
    for char in str(value):
        escape = _escape_for(char)
        if escape is None:
            run.append(char)
            continue
        if run:
            pieces.append(("".join(run), False))
            run.clear()
        pieces.append((escape, True))
    if run:
        pieces.append(("".join(run), False))
    return pieces


def safe_text(value: str, max_len: int = 60) -> Text:
    """Return ``value`` as literal Rich text, controls escaped, cut to ``max_len`` cells.

    Args:
        value: Untrusted text. Non-string values are converted with ``str()``.
        max_len: Maximum width in terminal cells including the ``…`` that marks a cut;
            must be at least 1.

    Returns:
        A :class:`rich.text.Text` that never wraps (``no_wrap``) and shows ``…`` when a
        table column is too narrow for it.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, not {max_len}.")
    if not isinstance(value, str):
        value = str(value)
    # Zero-width characters (combining marks) still cost work: bound code points as well.
    max_chars = 4 * max_len
    pieces: list[tuple[str, bool, int]] = []  # (text, is_escape, cells)
    cells = 0
    truncated = False
    for index, char in enumerate(value):
        escape = _escape_for(char)
        width = len(escape) if escape is not None else get_character_cell_size(char)
        if cells + width > max_len or index >= max_chars:
            truncated = True
            break
        pieces.append((escape or char, escape is not None, width))
        cells += width
    if truncated:
        while pieces and cells + 1 > max_len:
            cells -= pieces.pop()[2]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    run: list[str] = []
    for piece, is_escape, _width in pieces:
        if is_escape:
            if run:
                text.append("".join(run))
                run.clear()
            text.append(piece, style=ESCAPE_STYLE)
        else:
            run.append(piece)
    if run:
        text.append("".join(run))
    if truncated:
        text.append(ELLIPSIS)
    return text
