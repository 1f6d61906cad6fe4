"""Records cross the pipes of forked children pickled by their field values
(`records._pickled_by_fields`): every kind comes back equal, of its own class."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

from schedwarden import engine
from schedwarden.model import records

from ..conftest import corpus_path, run_audit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"


def _walk(value: object, found: dict[type, object]) -> None:
    """One instance of each record class met in `value`, at any depth."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found.setdefault(type(value), value)
        for item in dataclasses.fields(value):
            _walk(getattr(value, item.name), found)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, found)


def test_every_record_kind_comes_back_equal() -> None:
    hunted = engine.hunt([str(corpus_path("windows", "evtx")), str(corpus_path("linux"))])
    audited = [run_audit(root) for root in sorted(FIXTURES.iterdir()) if root.is_dir()]
    found: dict[type, object] = {}
    _walk([hunted.events, hunted.findings, hunted.issues], found)
    _walk([(r.jobs, r.findings, r.issues) for r in audited], found)
    assert {records.JobEvent, records.ScheduledJob, records.Evidence, records.Finding} <= set(found)
    for kind, value in found.items():
        if kind.__module__ != records.__name__:
            continue
        back = pickle.loads(
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        )  # allowed: our own pickle
        assert type(back) is kind and back == value
    everything = pickle.dumps(hunted.events, protocol=pickle.HIGHEST_PROTOCOL)
    assert pickle.loads(everything) == hunted.events  # allowed: our own pickle


def test_every_record_class_is_pickled_by_its_fields() -> None:
    classes = [
        value
        for value in vars(records).values()
        if isinstance(value, type)
        and dataclasses.is_dataclass(value)
        and value.__module__ == records.__name__
    ]
    assert len(classes) >= 19
    assert all(c.__reduce__ is not object.__reduce__ for c in classes)
