"""`line_search.holds_any`: Hyperscan's caseless search equals lowercasing and searching."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden.logs.line_search import holds_any

WORDS = (b"schtasks", b"\\\\at.exe", b"taskcache")
texts = st.lists(
    st.one_of(
        st.sampled_from([b"SchTasks", b"schtask", b"\\\\AT.EXE", b"\\at.exe", b"TaskCach", b"e"]),
        st.binary(max_size=6),
    ),
    max_size=12,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_holds_any_is_a_caseless_search(data: bytes) -> None:
    low = data.lower()
    assert holds_any(data, WORDS) == any(word in low for word in WORDS)


def test_holds_any_finds_a_word_at_either_end() -> None:
    assert holds_any(b"TASKCACHE", WORDS)
    assert holds_any(b"x" * 5000 + b"SCHTASKS", WORDS)
    assert not holds_any(b"", WORDS)
    assert not holds_any(b"schtaskcach", WORDS)


def test_threads_search_at_once() -> None:
    """Each thread has its own Hyperscan scratch space (one serves one scan at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    data = (b"x" * 4000 + b"\n") * 200 + b"SchTasks\n"
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lambda _: holds_any(data, WORDS), range(400)))
