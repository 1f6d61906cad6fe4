"""The hunt and timeline outputs: JSON (`schedwarden.hunt/1`), JSONL, CSV and a table.

They use the structured writers' one mapping (`outputs.serialize.plain`) and the model's escaping:
JSON keeps evidence text exactly (undecodable bytes made visible), CSV cells are formula-safe and
escaped, the table renders every evidence string through `render_untrusted` as plain `Text`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from ..forked import ForkedStream
from ..model import Evidence, JobEvent, json_safe, render_csv_cell, render_untrusted
from ..outputs.json_text import Later, compact_record, dump_indented
from ..outputs.serialize import plain
from .report import HuntReport
from .timeline import Timeline, timelines

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

EVENT_COLUMNS = (
    "type",
    "time",
    "host",
    "action",
    "job_name",
    "actor",
    "command",
    "job_id",
    "severity",
    "rule",
    "path",
    "line",
    "record_id",
    "message",
)


def hunt_document(report: HuntReport) -> dict[str, Any]:
    """The JSON document of a hunt, all made now."""
    return {key: _made(value) for key, value in _document(report, plain).items()}


def write_hunt_json(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    """The JSON document, written as it is made: the events one by one (each one's text made by
    orjson from the record: a forked child making part of them gained nothing measurable once
    it was, 1.756 s against 1.757 s for a hunt of 8,255 events and 1,885 findings), then what
    follows them, whose findings may have been in the making meanwhile
    (`hunt(deferred=True)`)."""
    dump_indented(_document(report, _as_is), stream)  # records: written as `plain` maps them


def _document(report: HuntReport, record: Callable[[Any], Any]) -> dict[str, Any]:
    """The document with its records as `record` gives them, the events as they are read, and
    what follows them made when the writer comes to it."""
    return {
        "schema": report.schema,
        "tool": plain(report.tool),
        "source": plain(report.source),
        "events": map(record, report.events),
        "findings": Later(lambda: [record(f) for f in report.findings]),
        "issues": Later(lambda: [record(i) for i in report.issues]),
        "summary": Later(lambda: plain(report.summary())),
    }


def _as_is(value: Any) -> Any:
    return value


def _made(value: Any) -> Any:
    if type(value) is Later:
        return value.make()
    return list(value) if isinstance(value, Iterator) else value


def _jsonl(stream: TextIO, obj: dict[str, Any]) -> None:
    stream.write(_json_line(obj))
    stream.write("\n")


def _json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_hunt_jsonl(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    _jsonl(
        stream,
        {
            "type": "run",
            "schema": report.schema,
            "tool": plain(report.tool),
            "source": plain(report.source),
        },
    )
    events = report.events
    split = int(len(events) * (1 - CHILD_SHARE)) if len(events) >= FORKED_EVENTS else len(events)
    rest = ForkedStream.start(partial(_made_first, events[split:])) if split < len(events) else None
    if rest is None:
        split = len(events)
    try:
        for chunk in _event_chunks(events[:split]):
            _write_utf8(stream, chunk)
        if rest is not None:
            written = split
            for chunk in rest.items():
                _write_utf8(stream, chunk)
                written = min(len(events), written + WRITE_BATCH)
            if not rest.complete:  # the child failed: this process writes the rest
                for chunk in _event_chunks(events[written:]):
                    _write_utf8(stream, chunk)
    finally:
        if rest is not None:
            rest.cancel()
    for kind, records in (("finding", report.findings), ("issue", report.issues)):
        for record in records:
            stream.write(compact_record(record, {"type": kind}) + "\n")
    _jsonl(stream, {"type": "summary", **plain(report.summary())})


def _made_first(events: Sequence[JobEvent]) -> Iterator[bytes]:
    """In the child: `_event_chunks`, all made before the first is sent. Sent as they are made,
    they would wait for this process to read the pipe, which it does only once done with its
    own part (a pipe holds 64 KiB): that made the child's work serial (measured)."""
    yield from list(_event_chunks(events))


def _event_chunks(events: Sequence[JobEvent]) -> Iterator[bytes]:
    """The JSONL lines of `events`, each with its newline, WRITE_BATCH events at a time, in
    UTF-8 (the text is JSON-safe: no lone surrogate): as a forked child sends them, bytes
    crossing the pipe as they are, and as a UTF-8 file takes them."""
    lines = EventLines()
    for start in range(0, len(events), WRITE_BATCH):
        batch = events[start : start + WRITE_BATCH]
        yield "".join([lines.line(event) + "\n" for event in batch]).encode("utf-8")


def _write_utf8(stream: TextIO, data: bytes) -> None:
    """`data` (UTF-8 text) written to `stream`: straight to its byte buffer when the stream
    writes UTF-8 and no newline it writes can be translated (not on Windows), else decoded and
    written as text."""
    buffer = getattr(stream, "buffer", None)
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
    if buffer is not None and encoding in ("utf-8", "utf8") and os.linesep == "\n":
        stream.flush()
        buffer.write(data)
    else:
        stream.write(data.decode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Event lines of the JSONL output, built directly
#
# A hunt over a big syslog writes millions of events. `EventLines.line` gives the text that
# `_jsonl({"type": "event", **plain(event)})` writes, without the generic mapping: the evidence of
# one file is encoded once, with slots for its line and offset, a shared event time once, and the
# strings, numbers and flags of `extra` directly. An event of any other shape (a value of another
# type in `extra`, evidence with file facts, or a model whose fields changed) is written by
# orjson from the record (`compact_record`); tests compare both ways with the generic way.

WRITE_BATCH = 4096
# From this many events on, a forked child makes the text of the last CHILD_SHARE of them
# (`forked`), all of it made before it is sent WRITE_BATCH events at a time (`_made_first`): the
# same text. Less than half: the child's text still has to cross a pipe and be written by this
# process (measured: 1 GB syslog at 1% cron lines, 132,780 events).
FORKED_EVENTS = 20_000
CHILD_SHARE = 0.45
_EVENT = {"type": "event"}
# orjson writes these types otherwise than `plain` maps them: refused (then written generically)
_PLAIN_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
EVENT_FIELDS = ("time", "host", "action", "job_name", "evidence", "actor", "command", "extra")
EVIDENCE_KEY = ("source_kind", "host", "path")  # what one file's evidence template depends on
EVIDENCE_SLOTS = ("line", "offset")  # the values filled in per event, in this order
_string_json: Callable[[str], str] = json.encoder.encode_basestring  # as json.dumps encodes str


def _shape_is_known() -> bool:
    """Whether the model still has the fields, in the order, that the direct encoding writes."""
    names = tuple(f.name for f in dataclasses.fields(Evidence))
    return (
        tuple(f.name for f in dataclasses.fields(JobEvent)) == EVENT_FIELDS
        and names[: len(EVIDENCE_KEY)] == EVIDENCE_KEY
        and any(names[i : i + 2] == EVIDENCE_SLOTS for i in range(len(names)))
        and not any(isinstance(getattr(c, "kind", None), str) for c in (JobEvent, Evidence))
    )


# Evidence of a log event sets only the key and slot fields; the others keep their defaults.
_EVIDENCE_OTHER = tuple(
    f.name for f in dataclasses.fields(Evidence) if f.name not in EVIDENCE_KEY + EVIDENCE_SLOTS
)
_EVIDENCE_DEFAULTS = tuple(  # a field without a plain default never matches: generic path
    f.default for f in dataclasses.fields(Evidence) if f.name in _EVIDENCE_OTHER
)


_evidence_other: Callable[[Any], tuple[Any, ...]] = (
    attrgetter(*_EVIDENCE_OTHER)  # one C call
    if len(_EVIDENCE_OTHER) > 1
    else lambda evidence: tuple(getattr(evidence, name) for name in _EVIDENCE_OTHER)
)


class EventLines:
    """JSONL lines of job events for one write. It remembers, each up to MAX_MEMO entries, the
    evidence template of each file, the text of each time object and of short strings (hosts,
    actions, users: the same few in every event)."""

    MAX_MEMO = 4096
    SHORT = 32  # strings up to this length are remembered

    def __init__(self) -> None:
        self.direct = _shape_is_known()
        self._templates: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        self._times: dict[int, tuple[datetime, str]] = {}
        self._strings: dict[str, str] = {}

    def line(self, event: JobEvent) -> str:
        """`compact_record(event, {"type": "event"})`: `_json_line({"type": "event",
        **plain(event)})`, but for floats (in orjson's form)."""
        if self.direct:
            text = self._direct(event)
            if text is not None:
                return text
        return compact_record(event, _EVENT)

    def _direct(self, event: JobEvent) -> str | None:
        evidence = self._evidence(event.evidence)
        when = self._time(event.time)
        extra = self._mapping(event.extra)
        if evidence is None or when is None or extra is None:
            return None
        strings = self._strings
        texts: list[str] = []
        for value in (event.host, event.action, event.job_name, event.actor, event.command):
            if type(value) is not str:
                if value is None and len(texts) >= 3:  # actor and command may be None
                    texts.append("null")
                    continue
                return None
            text = strings.get(value)
            if text is None:
                text = _string_json(value if value.isascii() else json_safe(value))
                if len(value) <= self.SHORT:
                    if len(strings) >= self.MAX_MEMO:
                        strings.clear()
                    strings[value] = text
            texts.append(text)
        host, action, name, actor, command = texts
        return (
            f'{{"type":"event","time":{when},"host":{host},"action":{action},'
            f'"job_name":{name},"evidence":{evidence},"actor":{actor},'
            f'"command":{command},"extra":{extra}}}'
        )

    @staticmethod
    def _mapping(extra: object) -> str | None:
        """`extra` as JSON, by orjson: what `plain` makes of it, written; None when it is not a
        dict, or holds an integer past 64 bits."""
        if type(extra) is not dict:
            return None
        try:
            return orjson.dumps(extra, option=_PLAIN_ONLY).decode()
        except TypeError:  # a value `plain` maps: a lone surrogate, a datetime, a record...
            pass
        try:
            return orjson.dumps(plain(extra)).decode()
        except TypeError:
            return None

    def _time(self, when: object) -> str | None:
        if type(when) is not datetime:
            return None
        memo = self._times.get(id(when))
        if memo is not None and memo[0] is when:
            return memo[1]
        if len(self._times) >= self.MAX_MEMO:
            self._times.clear()
        text = _string_json(when.isoformat().replace("+00:00", "Z"))
        self._times[id(when)] = (when, text)  # kept, so that the id is not reused meanwhile
        return text

    def _evidence(self, evidence: object) -> str | None:
        if type(evidence) is not Evidence or _evidence_other(evidence) != _EVIDENCE_DEFAULTS:
            return None
        kind, host, path = evidence.source_kind, evidence.host, evidence.path
        if not isinstance(kind, str) or type(host) is not str or type(path) is not str:
            return None
        key = (kind, host, path)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= self.MAX_MEMO:
                self._templates.clear()
            template = self._templates[key] = _evidence_template(evidence)
        line, offset = _number(evidence.line), _number(evidence.offset)
        if line is None or offset is None:
            return None
        before, between, after = template
        return f"{before}{line}{between}{offset}{after}"


def _number(value: object) -> str | None:
    if value is None:
        return "null"
    return repr(value) if type(value) is int else None


def _evidence_template(evidence: Evidence) -> tuple[str, str, str]:
    """The JSON of `evidence` in three parts: before its line, between line and offset, after."""
    mapped: dict[str, Any] = plain(evidence)
    names = list(mapped)
    slot = names.index(EVIDENCE_SLOTS[0])
    head = _json_line({n: mapped[n] for n in names[:slot]})
    tail = _json_line({n: mapped[n] for n in names[slot + 2 :]})
    before = (head[:-1] + "," if len(head) > 2 else "{") + f'"{EVIDENCE_SLOTS[0]}":'
    after = ("," + tail[1:]) if len(tail) > 2 else "}"
    return before, f',"{EVIDENCE_SLOTS[1]}":', after


def _event_row(event: JobEvent, kind: str = "event") -> dict[str, object]:
    return {
        "type": kind,
        "time": plain(event.time),
        "host": event.host,
        "action": event.action,
        "job_name": event.job_name,
        "actor": event.actor,
        "command": event.command,
        "job_id": event.extra.get("job_id"),
        "path": event.evidence.path,
        "line": event.evidence.line,
        "record_id": event.extra.get("record_id"),
    }


def _csv(stream: TextIO, columns: Sequence[str]) -> Callable[[dict[str, object]], None]:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)

    def row(values: dict[str, object]) -> None:
        writer.writerow(
            render_csv_cell("" if values.get(c) is None else str(values[c])) for c in columns
        )

    return row


def write_hunt_csv(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    row = _csv(stream, EVENT_COLUMNS)
    for event in report.events:
        row(_event_row(event))
    for finding in report.findings:
        row(
            {
                "type": "finding",
                "severity": finding.severity.value,
                "rule": finding.rule_id,
                "job_id": finding.job_id,
                "path": finding.evidence.path,
                "line": finding.evidence.line,
                "message": finding.message,
            }
        )
    for issue in report.issues:
        row(
            {
                "type": "issue",
                "rule": issue.code,
                "path": issue.evidence.path,
                "line": issue.evidence.line,
                "message": issue.message,
            }
        )


def _provenance(event: JobEvent) -> str:
    record = event.extra.get("record_id")
    where = (
        f"#{record}"
        if record is not None
        else (f":{event.evidence.line}" if event.evidence.line else "")
    )
    return event.evidence.path + where


_EVENT_CELLS: dict[str, Callable[[JobEvent], object]] = {
    "time": lambda event: plain(event.time),
    "host": attrgetter("host"),
    "action": attrgetter("action"),
    "job": attrgetter("job_name"),
    "actor": attrgetter("actor"),
    "command": attrgetter("command"),
    "source": lambda event: _provenance(event),
}


def _events_table(events: Iterable[JobEvent], columns: Sequence[str], **options: Any) -> Table:
    """Events as table rows, one column per name in `columns` (see `_EVENT_CELLS`)."""
    from rich.table import Table  # rich is loaded for tables only (a tenth of a second)

    table = Table(**options)
    for column in columns:
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(*_event_cells(event, columns))
    return table


def _event_cells(event: JobEvent, columns: Sequence[str]) -> list[Text]:
    from ..outputs.rich_tables import cell

    return [cell(_EVENT_CELLS[column](event)) for column in columns]


TABLE_EVENTS = 1_000  # events from which the table shows a row per job (a row costs ~0.7 ms)
_MAX_NAMED = 3  # actors, hosts named in a job's row (then how many more)


def _jobs_table(found: Iterable[Timeline], **options: Any) -> Table:
    """One row per job: when it was first and last seen, where, its events counted by action
    (in the order they first came), by whom, its latest command, from how many files."""
    from rich.table import Table

    from ..outputs.rich_tables import cell

    table = Table(**options)
    for column in ("first", "last", "host", "job", "events", "actor", "command", "files"):
        table.add_column(column, overflow="fold")
    for timeline in found:
        events = timeline.events
        actions = Counter(event.action for event in events)
        commands = [event.command for event in events if event.command]
        table.add_row(
            cell(plain(events[0].time)),
            cell(plain(events[-1].time)),
            cell(_named(event.host for event in events)),
            cell(timeline.job_name),
            cell(", ".join(f"{action} {count}" for action, count in actions.items())),
            cell(_named(event.actor for event in events if event.actor)),
            cell(commands[-1] if commands else None),
            cell(len({event.evidence.path for event in events})),
        )
    return table


def _named(values: Iterable[str]) -> str:
    """The distinct values, in order, the first few named and the rest counted."""
    distinct = list(dict.fromkeys(values))
    named = ", ".join(distinct[:_MAX_NAMED])
    more = len(distinct) - _MAX_NAMED
    return named + (f" and {more} more" if more > 0 else "")


def _count(value: object) -> int:
    return len(value) if isinstance(value, list | tuple) else 0


def write_hunt_table(report: HuntReport, stream: TextIO, *, color: bool = True) -> None:
    from ..outputs.rich_tables import cell, console_for, findings_table, issues_table

    console = console_for(stream, color)
    console.print(cell(f"schedwarden hunt of {_count(report.source.get('logs'))} path(s)", "bold"))
    events = report.events
    if len(events) <= TABLE_EVENTS:
        columns = ("time", "host", "action", "job", "actor", "command", "source")
        console.print(_events_table(events, columns, title="Job events"))
    else:
        console.print(_jobs_table(timelines(events), title=f"Jobs of {len(events)} events"))
        console.print(
            cell(
                f"More than {TABLE_EVENTS} events: one row per job. Every event: -f json, jsonl "
                "or csv; every event of each job: `schedwarden timeline`."
            )
        )
    if report.findings:
        console.print(findings_table(report.findings, location="source"))
    if report.issues:
        console.print(issues_table(report.issues))
    summary = report.summary()
    console.print(
        cell(
            f"{summary['events']} events, {summary['findings']} findings, {summary['issues']} issues"
        )
    )


HUNT_WRITERS: dict[str, Callable[..., None]] = {
    "table": write_hunt_table,
    "json": write_hunt_json,
    "jsonl": write_hunt_jsonl,
    "csv": write_hunt_csv,
}

# ---------------------------------------------------------------------------------------------
# Timeline


def _timeline_object(timeline: Timeline) -> dict[str, Any]:
    return {
        "job_name": plain(timeline.job_name),
        "job_id": timeline.job_id,
        "key": plain(timeline.key),
        "events": [
            {
                **plain(e),
                "provenance": {
                    "path": plain(e.evidence.path),
                    "line": e.evidence.line,
                    "record_id": e.extra.get("record_id"),
                },
            }
            for e in timeline.events
        ],
    }


def write_timeline_json(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    document = {
        "schema": "schedwarden.timeline/1",
        "tool": plain(report.tool),
        "source": plain(report.source),
        "timelines": map(_timeline_object, timelines(report.events)),
        "issues": list(report.issues),  # a hunt may give them as a lazy sequence
    }
    dump_indented(document, stream)


def write_timeline_jsonl(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    for timeline in timelines(report.events):
        first = {
            "type": "event",
            "timeline": plain(timeline.job_name),
            "timeline_job_id": timeline.job_id,
        }
        for event in timeline.events:
            stream.write(compact_record(event, first) + "\n")
    for issue in report.issues:
        stream.write(compact_record(issue, {"type": "issue"}) + "\n")


def write_timeline_csv(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    row = _csv(stream, ("timeline", *EVENT_COLUMNS))
    for timeline in timelines(report.events):
        for event in timeline.events:
            row({"timeline": timeline.job_name, **_event_row(event)})
    for issue in report.issues:
        row(
            {
                "type": "issue",
                "rule": issue.code,
                "path": issue.evidence.path,
                "line": issue.evidence.line,
                "message": issue.message,
            }
        )


def write_timeline_table(report: HuntReport, stream: TextIO, *, color: bool = True) -> None:
    from rich.text import Text

    from ..outputs.rich_tables import cell, console_for

    console = console_for(stream, color)
    for timeline in timelines(report.events):
        title = timeline.job_name + (f" (job {timeline.job_id})" if timeline.job_id else "")
        shown = Text(render_untrusted(title))
        console.print(_timeline_table(timeline.events, title=shown, title_justify="left"))
    if report.issues:
        console.print(cell(f"{len(report.issues)} evidence problem(s); see `schedwarden hunt`"))


TIMELINE_RUN = 3  # more events alike than this in a row: first, a count of the others, last
_TIMELINE_COLUMNS = ("time", "action", "actor", "command", "source")


def _timeline_table(events: Sequence[JobEvent], **options: Any) -> Table:
    """A job's events, in order, each as a row; but a run of more than TIMELINE_RUN events alike
    (same host, action, actor and command: a cron job that runs every minute) as its first
    event, a row counting those between, and its last: a week of a job's runs is three rows,
    not ten thousand (rich lays out ~0.7 ms a row). Every event is in the other formats."""
    from ..outputs.rich_tables import cell

    table = _events_table((), _TIMELINE_COLUMNS, **options)  # its columns; rows below
    for run in _runs(events):
        if len(run) <= TIMELINE_RUN:
            for event in run:
                table.add_row(*_event_cells(event, _TIMELINE_COLUMNS))
            continue
        first, between, last = run[0], run[1:-1], run[-1]
        files = len({event.evidence.path for event in between})
        table.add_row(*_event_cells(first, _TIMELINE_COLUMNS))
        table.add_row(
            cell(f"{plain(between[0].time)} … {plain(between[-1].time)}", "dim"),
            cell(f"{len(between)} more {first.action}", "dim"),
            cell(first.actor, "dim"),
            cell(first.command, "dim"),
            cell(f"{files} file(s)", "dim"),
        )
        table.add_row(*_event_cells(last, _TIMELINE_COLUMNS))
    return table


def _runs(events: Sequence[JobEvent]) -> Iterator[Sequence[JobEvent]]:
    """The events cut into runs of consecutive events alike."""
    start = 0
    for index in range(1, len(events) + 1):
        if index == len(events) or _alike(events[index]) != _alike(events[start]):
            yield events[start:index]
            start = index


def _alike(event: JobEvent) -> tuple[str, str, str | None, str | None]:
    return event.host, event.action, event.actor, event.command


TIMELINE_WRITERS: dict[str, Callable[..., None]] = {
    "table": write_timeline_table,
    "json": write_timeline_json,
    "jsonl": write_timeline_jsonl,
    "csv": write_timeline_csv,
}
