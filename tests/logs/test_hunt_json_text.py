"""`hunt -f json` writes exactly what the standard library's indented encoder would."""

from __future__ import annotations

import io
import json

from schedwarden import engine
from schedwarden.logs.render import hunt_document, write_hunt_json

from ..conftest import corpus_path


def test_hunt_json_is_the_standard_indented_json() -> None:
    report = engine.hunt([str(corpus_path("windows", "evtx")), str(corpus_path("linux"))])
    written = io.StringIO()
    write_hunt_json(report, written)
    assert len(report.events) > 20 and report.findings
    assert (
        written.getvalue() == json.dumps(hunt_document(report), indent=2, ensure_ascii=False) + "\n"
    )
