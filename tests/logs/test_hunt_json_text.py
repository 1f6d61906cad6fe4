"""`hunt -f json` writes exactly what the standard library's indented encoder would, also when
a forked child makes the text of the last events, or dies doing so."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence

import pytest

from schedwarden import engine, forked
from schedwarden.logs import render
from schedwarden.logs.render import hunt_document, write_hunt_json
from schedwarden.model import JobEvent

from ..conftest import corpus_path


@pytest.mark.parametrize("child", ["none", "helps", "dies"])
def test_hunt_json_is_the_standard_indented_json(
    child: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = engine.hunt([str(corpus_path("windows", "evtx")), str(corpus_path("linux"))])
    completed: list[bool] = []
    if child != "none":
        monkeypatch.setattr(render, "JSON_FORKED_EVENTS", 10)
        monkeypatch.setattr(render, "WRITE_BATCH", 7)  # several batches
        monkeypatch.setattr(forked, "processors", lambda: 2)

        class Recorded(forked.ForkedStream[list[str]]):
            def cancel(self) -> None:
                if self._pid:
                    super().cancel()
                    completed.append(self.complete)

        monkeypatch.setattr(render, "ForkedStream", Recorded)
    if child == "dies":  # after sending its first batch
        parent, made = os.getpid(), render._texts_made_first

        def dies(events: Sequence[JobEvent]) -> Iterator[list[str]]:
            for number, texts in enumerate(made(events)):
                if number == 1 and os.getpid() != parent:
                    os._exit(3)
                yield texts

        monkeypatch.setattr(render, "_texts_made_first", dies)
    written = io.StringIO()
    write_hunt_json(report, written)
    assert len(report.events) > 20 and report.findings
    assert (
        written.getvalue() == json.dumps(hunt_document(report), indent=2, ensure_ascii=False) + "\n"
    )
    assert completed == {"none": [], "helps": [True], "dies": [False]}[child]
