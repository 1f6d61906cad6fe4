"""The JSONL writer's event lines, built directly, are the generic mapping's lines exactly.

`EventLines` writes an event without `plain` (evidence templates per file, remembered times and
short strings); `generic` below is what the writer wrote before, and writes still for any event
of another shape. Both must give the same text for every event, whatever its strings hold."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedwarden import forked
from schedwarden.logs import render
from schedwarden.logs.render import EventLines, write_hunt_jsonl
from schedwarden.logs.report import HuntReport
from schedwarden.logs.syslog_reader import parse_line
from schedwarden.model import Evidence, Finding, Issue, JobEvent, Severity, SourceKind
from schedwarden.outputs.serialize import plain


def generic(record: Any, kind: str = "event") -> str:
    return json.dumps({"type": kind, **plain(record)}, ensure_ascii=False, separators=(",", ":"))


def same_line(line: str, record: Any, kind: str = "event") -> bool:
    """`line` is the generic line of `record`: exactly, but for floats, which may be written in
    orjson's form (the same numbers), NaN and infinities as null."""
    expected = generic(record, kind)
    if line == expected:
        return True
    value = json.loads(expected)
    return _holds_float(value) and json.loads(line) == _nulled(value)


def _holds_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_float(v) for v in value)
    return isinstance(value, float)


def _nulled(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nulled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulled(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def test_the_model_has_the_shape_written_directly() -> None:
    """If this fails the model changed: update EVENT_FIELDS / EVIDENCE_* in logs/render.py."""
    assert EventLines().direct


def test_reader_events_are_written_directly() -> None:
    lines = EventLines()
    mtime = datetime(2026, 11, 28, tzinfo=UTC)
    for raw in (
        b"Nov 27 10:00:01 h CRON[1]: (root) CMD (run-parts /etc/cron.hourly)",
        b"Nov 27 10:00:01 h CRON[1]: (root) CMD (echo hi^M   # hidden)",
        b"Nov 27 10:00:01 h CRON[1]: (r\xc3\xb6ot) CMD (caf\xc3\xa9 \xff\xfe \x1b[31m \xe2\x80\xae)",
        b"<78>1 2026-01-02T03:04:05+02:00 host CRON - - - (root) CMD (x)",
        b"Nov 27 10:00:01 h atd[9]: Starting job 5 (a0000501a1b2c3) for user 'root' (0)",
    ):
        event = parse_line(raw, "/var/log/syslog", 7, 300, mtime)
        assert event is not None
        assert lines._direct(event) is not None  # the direct way, not the fallback
        assert lines.line(event) == generic(event)


TRICKY = '\udcff\udc80\x00\x1b\r\n"\\/\u202e\u2028é€\U0001f600'
texts = st.text(alphabet=st.sampled_from(list(TRICKY) + list("abc xyz-_./()")), max_size=12)
plain_values = st.one_of(texts, st.integers(-(2**70), 2**70), st.booleans(), st.none())
other_values = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -0.0, 1e16]),
    st.floats(allow_nan=True),
    st.lists(texts, max_size=2),
    st.dictionaries(texts, texts, max_size=2),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from([SourceKind.FILE, Severity.HIGH]),
)
extras = st.dictionaries(
    st.one_of(st.sampled_from(["daemon", "pid", "line_text", "event", "job_id"]), texts),
    st.one_of(plain_values, plain_values, other_values),
    max_size=5,
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(0))])
times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    zones,
)
numbers = st.one_of(st.none(), st.integers(0, 2**40))
hosts = st.sampled_from(["", "h", "höst"]) | texts
paths = st.sampled_from(["/var/log/syslog", "C:\\Logs\\x.evtx"]) | texts
log_evidences = st.builds(  # what the log readers make
    lambda kind, host, path, line, offset: Evidence(kind, host, path, line=line, offset=offset),
    st.sampled_from(list(SourceKind)),
    hosts,
    paths,
    numbers,
    numbers,
)
other_evidences = st.builds(
    Evidence,
    st.sampled_from(list(SourceKind)),
    hosts,
    paths,
    st.sampled_from([(), ("a",)]),
    numbers,
    numbers,
    st.sampled_from([None, None, None, "ab" * 32]),
    st.sampled_from([None, None, "root"]),
    st.none(),
    st.sampled_from([None, None, 0]),
    st.none(),
    st.none(),
    st.sampled_from([None, None, datetime(2026, 1, 1, tzinfo=UTC)]),
)
evidences = st.one_of(log_evidences, log_evidences, other_evidences)
events = st.builds(
    JobEvent,
    times,
    st.sampled_from(["h", "host1"]) | texts,
    st.sampled_from(["ran", "registered"]) | texts,
    st.sampled_from(["cron", "\\Microsoft\\Task"]) | texts,
    evidences,
    st.none() | texts,
    st.none() | texts,
    extras,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(events, min_size=1, max_size=30))
def test_every_event_line_is_the_generic_line(batch: list[JobEvent]) -> None:
    lines = EventLines()  # one writer's memo for all of them, as in a real write
    shared = datetime(2026, 1, 1, tzinfo=UTC)
    for event in batch + [JobEvent(shared, "h", "ran", "cron", e.evidence) for e in batch]:
        assert same_line(lines.line(event), event)


def test_other_shapes_go_the_generic_way() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    where = Evidence(SourceKind.FILE, "h", "/x", line=1, offset=2)
    lines = EventLines()
    for event in (
        JobEvent(when, "h", "ran", "cron", Evidence(SourceKind.FILE, "h", "/x", sha256="ab")),
        JobEvent(when, "h", "ran", "cron", where, extra={"big": 2**64}),
        JobEvent(when, "h", "ran", "cron", where, extra=MappingProxyType({"a": "x"})),
    ):
        assert lines._direct(event) is None
        assert lines.line(event) == generic(event)


def test_extra_values_plain_maps_are_written_directly() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    where = Evidence(SourceKind.FILE, "h", "/x", line=1, offset=2)
    lines = EventLines()
    for extra in (
        {"definition": ["a", 1.5, {"b": None}]},
        {"\udcff": "x", "y": ["\udcfe"]},
        {1: "x", None: 2, 1.5: True},
        {"when": when, "kind": SourceKind.FILE, "level": Severity.HIGH},
        {"where": where},
    ):
        event = JobEvent(when, "h", "ran", "cron", where, extra=extra)  # type: ignore[arg-type]
        assert lines._direct(event) is not None
        assert lines.line(event) == generic(event)


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-16"])  # None: a StringIO
@pytest.mark.parametrize("child", ["none", "helps", "dies"])
def test_whole_jsonl_output_is_the_generic_output(
    child: str, encoding: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when a forked child makes the text of the last events (sent as UTF-8, written to
    a UTF-8 file's bytes as they are), or dies doing so."""
    if child != "none":
        monkeypatch.setattr(render, "FORKED_EVENTS", 100)
        monkeypatch.setattr(forked, "processors", lambda: 2)
    if child == "dies":  # after sending its first batch of events
        parent, chunks = os.getpid(), render._made_first

        def dies(events: Sequence[JobEvent]) -> Iterator[bytes]:
            for number, chunk in enumerate(chunks(events)):
                if number == 1 and os.getpid() != parent:
                    os._exit(3)
                yield chunk

        monkeypatch.setattr(render, "_made_first", dies)
    results: list[object] = []

    class Recorded(forked.ForkedStream[bytes]):
        def cancel(self) -> None:
            if self._pid:
                super().cancel()
                results.append(self.complete)

    monkeypatch.setattr(render, "ForkedStream", Recorded)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    where = Evidence(SourceKind.FILE, "h", "/var/log/syslog", line=3, offset=40)
    events = tuple(
        JobEvent(when + timedelta(seconds=i // 3), "h", "ran", "cron", where, "root", f"jöb {i}")
        for i in range(10_000)  # more than one write batch
    )
    report = HuntReport(
        tool={"name": "schedwarden"},
        source={"logs": ["/var/log/syslog"]},
        events=events,
        findings=(Finding("R", "title", Severity.HIGH, ("T1053.003",), None, where, "why", "fix"),),
        issues=(Issue("LOG_LINE_TOO_LONG", "long", where),),
    )
    raw = io.BytesIO()
    out = io.StringIO() if encoding is None else io.TextIOWrapper(raw, encoding, newline="")
    write_hunt_jsonl(report, out)
    expected = [
        json.dumps(
            {
                "type": "run",
                "schema": report.schema,
                "tool": plain(report.tool),
                "source": plain(report.source),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        *(generic(e) for e in report.events),
        *(generic(f, "finding") for f in report.findings),
        *(generic(i, "issue") for i in report.issues),
        generic(report.summary(), "summary"),
    ]
    if isinstance(out, io.TextIOWrapper):
        out.flush()
        written = raw.getvalue().decode(out.encoding)
    else:
        written = out.getvalue()
    assert written == "\n".join(expected) + "\n"
    assert results == {"none": [], "helps": [True], "dies": [False]}[child]
