"""Text from files made safe to print: control characters escaped.

A scenario's name, a file's name or a value quoted in a message can hold terminal control sequences (YAML's
``"\\e[2J"`` clears the screen, ``"\\e]0;...\\a"`` retitles the window) and bidirectional overrides that
reorder what is shown. Printed through :func:`printable`, they appear as escapes (``\\x1b[2J``) instead.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 and C1 controls but newline and tab, DEL, and the bidirectional embedding, override and isolate marks
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = True) -> str:
    """``text`` with control characters escaped; newlines and tabs are kept when ``lines`` (messages of several
    lines), escaped otherwise (a name on one line)."""
    escaped = _UNSAFE.sub(_escape, str(text))
    if not lines:
        escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
    return escaped
