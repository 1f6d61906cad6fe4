"""`hunt -f json` and `timeline -f json|jsonl` write exactly what the standard library's
encoders would."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from schedwarden import engine, forked, hunting
from schedwarden.logs.render import (
    _timeline_object,
    hunt_document,
    write_hunt_json,
    write_timeline_json,
    write_timeline_jsonl,
)
from schedwarden.logs.timeline import timelines
from schedwarden.outputs.serialize import plain

from ..conftest import corpus_path


def test_hunt_json_is_the_standard_indented_json() -> None:
    report = engine.hunt([str(corpus_path("windows", "evtx")), str(corpus_path("linux"))])
    written = io.StringIO()
    write_hunt_json(report, written)
    assert len(report.events) > 20 and report.findings
    assert (
        written.getvalue() == json.dumps(hunt_document(report), indent=2, ensure_ascii=False) + "\n"
    )


def test_timeline_json_and_jsonl_are_the_standard_library_s(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(b"ElfFile\x00" + b"\xff" * 5000)  # an issue
    logs = [corpus_path("windows", "evtx"), corpus_path("linux"), damaged]
    report = engine.hunt([str(path) for path in logs])
    found = timelines(report.events)
    assert len(found) > 10 and report.issues
    written = io.StringIO()
    write_timeline_json(report, written)
    document = {
        "schema": "schedwarden.timeline/1",
        "tool": plain(report.tool),
        "source": plain(report.source),
        "timelines": [_timeline_object(t) for t in found],
        "issues": [plain(i) for i in report.issues],
    }
    assert written.getvalue() == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    written = io.StringIO()
    write_timeline_jsonl(report, written)
    lines = [
        {"type": "event", "timeline": plain(t.job_name), "timeline_job_id": t.job_id, **plain(e)}
        for t in found
        for e in t.events
    ] + [{"type": "issue", **plain(i)} for i in report.issues]
    expected = "".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines
    )
    assert written.getvalue() == expected


def test_timeline_json_of_a_deferred_hunt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its findings and issues are a lazy sequence until the Sigma child is done."""
    logs = [str(corpus_path("windows", "evtx"))]
    expected = io.StringIO()
    write_timeline_json(engine.hunt(logs), expected)
    monkeypatch.setattr(hunting, "SIGMA_FORKED_EVENTS", 1)
    monkeypatch.setattr(forked, "processors", lambda: 2)
    report = hunting.hunt(logs, deferred=True)
    assert not isinstance(report.issues, tuple)  # the lazy sequence
    written = io.StringIO()
    write_timeline_json(report, written)
    assert (
        json.loads(written.getvalue())["timelines"] == json.loads(expected.getvalue())["timelines"]
    )
