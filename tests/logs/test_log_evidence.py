"""`files.evidence`: the evidence of a log event, built through the slots' setters, is exactly
the Evidence the dataclass builds (equal, hashed, pickled and shown alike)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedwarden.logs import files
from schedwarden.model import Evidence, SourceKind

numbers = st.one_of(st.none(), st.integers(min_value=0, max_value=2**40))


@given(st.text(), st.text(), numbers, numbers)
def test_evidence_is_the_dataclasss(
    path: str, host: str, line: int | None, offset: int | None
) -> None:
    made = files.evidence(path, host, line, offset)
    expected = Evidence(SourceKind.FILE, host, path, (), line, offset)
    assert type(made) is Evidence and made == expected and hash(made) == hash(expected)
    assert repr(made) == repr(expected) and pickle.loads(pickle.dumps(made)) == expected


def test_another_model_shape_is_built_the_plain_way(monkeypatch: pytest.MonkeyPatch) -> None:
    assert files._FAST_EVIDENCE  # the model as this module expects it
    monkeypatch.setattr(files, "_FAST_EVIDENCE", False)
    assert files.evidence("/var/log/syslog", "h", 3, 40) == Evidence(
        SourceKind.FILE, "h", "/var/log/syslog", (), 3, 40
    )
