"""The one escaping choke point: nothing unsafe gets through, and the mapping is reversible."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden.model import render_untrusted

_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _decode(text: str) -> str:
    """The inverse documented in model/text.py: `\\\\` → `\\`, `\\xNN`, `\\uNNNN`; any other
    backslash is itself. `\\xNN` from 0x80 up is an undecodable byte (a surrogate escape)."""

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == "\\":
            return "\\"
        code = int(body[1:], 16)
        if body[0] == "x" and code >= 0x80:
            return chr(0xDC00 + code)
        return chr(code)

    return _ESCAPE.sub(one, text)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=("Cs",)) | st.sampled_from(
    ["\\", "x", "u", "\x1b", "\r", "\u202e", "\udcff", "\udc80", "\x9b"])))  # fmt: skip
def test_escaping_is_safe_and_reversible(text: str) -> None:
    shown = render_untrusted(text)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]", shown)
    assert _decode(shown) == text


def test_windows_paths_keep_single_backslashes() -> None:
    assert render_untrusted(r"C:\Windows\System32\Tasks\Evil") == r"C:\Windows\System32\Tasks\Evil"
    assert render_untrusted(r"C:\Users\x41") == r"C:\Users\\x41"  # would read as an escape
