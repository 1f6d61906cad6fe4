"""The hunt and timeline outputs: JSON (`schedwarden.hunt/1`), JSONL, CSV and a table.

They use the structured writers' one mapping (`outputs.serialize.plain`) and the model's escaping:
JSON keeps evidence text exactly (undecodable bytes made visible), CSV cells are formula-safe and
escaped, the table renders every evidence string through `render_untrusted` as plain `Text`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rich.table import Table
from rich.text import Text

from ..model import JobEvent, render_csv_cell, render_untrusted
from ..outputs.rich_tables import cell, console_for, findings_table, issues_table
from ..outputs.serialize import plain
from .report import HuntReport
from .timeline import Timeline, timelines

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


def _event(event: JobEvent) -> dict[str, Any]:
    data: dict[str, Any] = plain(event)
    return data


def hunt_document(report: HuntReport) -> dict[str, Any]:
    return {
        "schema": report.schema,
        "tool": plain(report.tool),
        "source": plain(report.source),
        "events": [_event(e) for e in report.events],
        "findings": [plain(f) for f in report.findings],
        "issues": [plain(i) for i in report.issues],
        "summary": plain(report.summary()),
    }


def write_hunt_json(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    json.dump(hunt_document(report), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _jsonl(stream: TextIO, obj: dict[str, Any]) -> None:
    stream.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    stream.write("\n")


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
    for kind, records in (
        ("event", report.events),
        ("finding", report.findings),
        ("issue", report.issues),
    ):
        for record in records:
            _jsonl(stream, {"type": kind, **plain(record)})
    _jsonl(stream, {"type": "summary", **plain(report.summary())})


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


def _count(value: object) -> int:
    return len(value) if isinstance(value, list | tuple) else 0


def write_hunt_table(report: HuntReport, stream: TextIO, *, color: bool = True) -> None:
    console = console_for(stream, color)
    console.print(cell(f"schedwarden hunt of {_count(report.source.get('logs'))} path(s)", "bold"))
    events = Table(title="Job events")
    for column in ("time", "host", "action", "job", "actor", "command", "source"):
        events.add_column(column, overflow="fold")
    for event in report.events:
        events.add_row(
            cell(plain(event.time)),
            cell(event.host),
            cell(event.action),
            cell(event.job_name),
            cell(event.actor),
            cell(event.command),
            cell(_provenance(event)),
        )
    console.print(events)
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
        "timelines": [_timeline_object(t) for t in timelines(report.events)],
        "issues": [plain(i) for i in report.issues],
    }
    json.dump(document, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def write_timeline_jsonl(report: HuntReport, stream: TextIO, *, color: bool = False) -> None:
    for timeline in timelines(report.events):
        for event in timeline.events:
            _jsonl(
                stream,
                {
                    "type": "event",
                    "timeline": plain(timeline.job_name),
                    "timeline_job_id": timeline.job_id,
                    **plain(event),
                },
            )
    for issue in report.issues:
        _jsonl(stream, {"type": "issue", **plain(issue)})


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
    console = console_for(stream, color)
    for timeline in timelines(report.events):
        title = timeline.job_name + (f" (job {timeline.job_id})" if timeline.job_id else "")
        table = Table(title=Text(render_untrusted(title)), title_justify="left")
        for column in ("time", "action", "actor", "command", "source"):
            table.add_column(column, overflow="fold")
        for event in timeline.events:
            table.add_row(
                cell(plain(event.time)),
                cell(event.action),
                cell(event.actor),
                cell(event.command),
                cell(_provenance(event)),
            )
        console.print(table)
    if report.issues:
        console.print(cell(f"{len(report.issues)} evidence problem(s); see `schedwarden hunt`"))


TIMELINE_WRITERS: dict[str, Callable[..., None]] = {
    "table": write_timeline_table,
    "json": write_timeline_json,
    "jsonl": write_timeline_jsonl,
    "csv": write_timeline_csv,
}
