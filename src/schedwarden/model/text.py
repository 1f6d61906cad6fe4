"""The one choke point that makes evidence text safe for a terminal, a log line or a CSV cell.

Attackers control job names, commands and file names. A raw ESC, CR, backspace, C1 control or bidi
override in them can rewrite what an analyst sees (hidden cron lines with `\\r`, ANSI cursor moves,
Trojan-Source reordering). `render_untrusted` maps every such character to a visible escape and
doubles a backslash where it could be read as the start of one (before `x`, `u` or another
backslash), so the mapping stays reversible while Windows paths keep their single backslashes.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, undecodable bytes (surrogate escapes), bidi and zero-width controls,
# line/paragraph separators and BOM; and a backslash wherever it could start an escape: before `x`,
# `u`, another backslash or any of those characters (whose escape begins with a backslash).
_CONTROLS = "\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\udc80-\udcff"
_UNSAFE = re.compile(f"\\\\(?=[xu\\\\{_CONTROLS}])|[{_CONTROLS}]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8 in the evidence
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:  # C0 controls and DEL; `\\x80`..`\\xff` are kept for undecodable bytes
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def render_untrusted(text: str) -> str:
    """Escape every control, bidi and undecodable character; printable text is unchanged."""
    return _UNSAFE.sub(_escape_char, text)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render_csv_cell(text: str) -> str:
    """`render_untrusted`, then neutralise spreadsheet formulas (`=`, `+`, `-`, `@` first)."""
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return render_untrusted(text)


_LONE_SURROGATE = re.compile("[\udc80-\udcff]")


def json_safe(text: str) -> str:
    """Text for JSON: undecodable evidence bytes become the visible four characters `\\xNN`.

    Everything else is kept exactly (the JSON encoder escapes controls itself), so a JSON consumer
    sees the real command, and the output is valid UTF-8 for any strict parser.
    """
    if text.isascii() or text.isprintable() or not _LONE_SURROGATE.search(text):
        return text  # a lone surrogate is neither ASCII nor printable (category Cs)
    return _LONE_SURROGATE.sub(lambda m: f"\\x{ord(m.group(0)) - 0xDC00:02x}", text)
