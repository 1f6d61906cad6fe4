"""`json_safe`: its fast path (ASCII or printable text returned as it is) changes no result."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from schedwarden.model import json_safe


def _json_safe_by_regex(text: str) -> str:
    """The definition, without a fast path: each undecodable byte becomes `\\xNN`."""
    return re.sub("[\udc80-\udcff]", lambda m: f"\\x{ord(m.group(0)) - 0xDC00:02x}", text)


_TRICKY = ["\udc80", "\udcff", "\udc7f", "\ud800", "\udfff", "\u00e9", "\u202e", "\x1b", "\x85",
           "\u2028", "\ufeff", "\U0001f600", "\t", "\n", " ", "a", "\\"]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec=None)
        | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
        | st.sampled_from(_TRICKY)
    )
)
@example("caf\u00e9 \udcff")
@example("\udc80")
@example("\u00e9\t")
def test_fast_path_gives_what_the_regex_gives(text: str) -> None:
    assert json_safe(text) == _json_safe_by_regex(text)


def test_undecodable_bytes_become_visible_and_the_rest_is_kept() -> None:
    assert json_safe("a\udcffb") == "a\\xffb"
    assert json_safe("caf\u00e9\u202e\x1b") == "caf\u00e9\u202e\x1b"  # the JSON encoder escapes
    assert json_safe("") == ""
