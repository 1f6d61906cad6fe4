"""The EVTX reader's keyword filter (records of the noisy ids kept only when a field names a task
word) gives exactly what the plain definition gives: each field's first FIELD_SLICE characters,
lowercased as text, searched for the words. The reader takes shortcuts (one Latin-1 lowering of
the whole record, a whole-record rejection first); these tests hold them to the definition,
including the characters whose lowercase form is ASCII (Kelvin sign, dotted capital I)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden.logs import evtx_reader
from schedwarden.logs.evtx_reader import FIELD_SLICE, KEYWORDS, _mentions


def reference(text: str, fields: tuple[str, ...], words: tuple[str, ...] | re.Pattern[str]) -> bool:
    """The definition, written the slow and obvious way."""
    pattern = (
        re.compile("|".join(re.escape(w) for w in words))
        if isinstance(words, tuple)
        else re.compile("^" + words.pattern)
    )
    for name in fields:
        start = text.find(name)
        if start >= 0 and pattern.search(text[start : start + FIELD_SLICE].lower()):
            return True
    return False


FIELDS = sorted({name for fields, _ in KEYWORDS.values() for name in fields})
WORDS = sorted(
    {w for _, words in KEYWORDS.values() if isinstance(words, tuple) for w in words}
    | {'"logontype":3', '"LogonType":"3"', '"LogonType":30'}
)
# Upper-case forms, and characters that lowercase to ASCII or change length or context
TRICKY = ["K", "\u212a", "\u0130", "I", "\u03a3", "\u00ae", "\u00df", "\u017f", "\\", '"', "é", "€"]


def _variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [word, word.upper(), word.title(), word.replace("k", "\u212a"), word.replace("i", "\u0130")]
    )


pieces = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(WORDS).flatmap(_variants),
    st.sampled_from(TRICKY),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz:,{} ", max_size=12),
    st.integers(min_value=1, max_value=FIELD_SLICE + 40).map(lambda n: "x" * n),
)
records = st.lists(pieces, max_size=24).map("".join)


@settings(max_examples=600, deadline=None)
@given(records)
def test_filter_is_the_definition(text: str) -> None:
    for event_id, (fields, words) in KEYWORDS.items():
        assert _mentions(text, fields, words) == reference(text, fields, words), event_id


def test_words_at_the_edge_of_the_window() -> None:
    fields, words = KEYWORDS[1]
    field = '"CommandLine":"'
    for gap in (FIELD_SLICE - len(field) - 8, FIELD_SLICE - len(field) - 7, FIELD_SLICE):
        text = field + "a" * gap + "SCHTASKS /create"
        assert _mentions(text, fields, words) == reference(text, fields, words)
    inside = field + "a" * (FIELD_SLICE - len(field) - 8) + "SCHTASKS"
    assert _mentions(inside, fields, words)
    assert not _mentions(inside[:-1], fields, words)


def test_letters_that_lowercase_to_ascii_are_words() -> None:
    fields, words = KEYWORDS[1]
    kelvin = '"Image":"C:\\\\Windows\\\\System32\\\\SCHTAS\u212aS.EXE"'
    assert _mentions(kelvin, fields, words)  # K (U+212A) lowercases to k, as before
    fields, words = KEYWORDS[12]
    assert _mentions('{"TargetObject":"HKLM\\\\TASKCACHE\u0130"}', fields, words)
    assert not _mentions('{"TargetObject":"HKLM\\\\TASKCACH\u00c9"}', fields, words)


def test_a_word_outside_the_fields_is_not_enough() -> None:
    fields, words = KEYWORDS[5145]
    text = '{"ShareName":"\\\\\\\\*\\\\IPC$","Other":"atsvc","RelativeTargetName":"srvsvc"}'
    assert not _mentions(text, fields, words)
    assert _mentions(text.replace("srvsvc", "ATSVC"), fields, words)


def test_patterns_are_anchored_at_the_field() -> None:
    fields, words = KEYWORDS[4624]
    assert isinstance(words, re.Pattern)
    assert _mentions('{"LogonType":3,"X":1}', fields, words)
    assert _mentions('{"LogonType":"3"}', fields, words)
    assert not _mentions('{"LogonType":31}', fields, words)
    assert not _mentions('{"LogonType":2,"Note":"\\"logontype\\":3"}', fields, words)


def test_every_keyword_id_is_wanted() -> None:
    assert set(KEYWORDS) <= evtx_reader.WANTED


# Records' JSON as the parser writes it (objects, strings with any character, 64-bit integers,
# floats), and the texts orjson refuses and `json` takes: the decoder gives what `json` gives.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_records_decode_as_json_decodes_them(value: object) -> None:
    import json

    text = json.dumps({"Event": value}, ensure_ascii=False)
    assert evtx_reader._decoded(text) == json.loads(text)


def test_texts_orjson_refuses_decode_as_json_decodes_them() -> None:
    import json
    import math

    import pytest

    lone = '{"Event": {"EventData": {"Image": "a\\ud800b"}}}'
    assert evtx_reader._decoded(lone) == json.loads(lone)
    assert evtx_reader._decoded(lone)["Event"]["EventData"]["Image"] == "a\ud800b"
    assert math.isnan(evtx_reader._decoded('{"Event": NaN}')["Event"])
    deep = '{"Event": ' + "[" * 2000 + "]" * 2000 + "}"
    with pytest.raises(RecursionError):  # as `json` fails; the reader makes it an Issue
        evtx_reader._decoded(deep)
    with pytest.raises(ValueError):
        evtx_reader._decoded('{"Event": ')
