"""journald exports (`journalctl -o json`, one JSON object per line) → `JobEvent`s.

Cron, crontab, anacron and atd messages (by SYSLOG_IDENTIFIER) are read as their syslog lines
are; the service manager's messages about units (by MESSAGE_ID: starting, started, failed,
stopped) are kept for timers, for transient units (`systemd-run`: `run-*`) and for services
that a timer of the same name in the export drives. Each event keeps its line and offset, and
the entry's cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO

from ..model import Issue, JobEvent
from .files import bounded_lines, evidence, issue
from .syslog_reader import MAX_LINE, parse_message

MESSAGE_IDS = {
    "7d4958e842da4a758f6c1cdc7b36dcc5": "starting",
    "39f53479d3a045ac8e11786248231fbf": "started",
    "be02cf6855d2428ba40df7e9d022f03d": "failed",
    "de5b426a63be47a7b6ac3eaac82e2f6f": "stopping",
    "9d1aaa27d60140bd96365438aad20286": "stopped",
}
MAX_JOURNAL_LINE = 1 << 20


def looks_like_journal(head: bytes) -> bool:
    return head.lstrip().startswith(b"{") and b"__REALTIME_TIMESTAMP" in head


def read_journal(path: str, stream: BinaryIO, budget: float) -> Iterator[JobEvent | Issue]:
    units: list[JobEvent] = []
    timers: set[str] = set()
    for item in bounded_lines(path, stream, budget, MAX_JOURNAL_LINE, "entry"):
        if isinstance(item, Issue):
            yield item
            continue
        number, offset, line = item
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError as error:
                yield issue(
                    "LOG_CORRUPT", f"journal entry is not JSON: {error}", path, number, offset
                )
                entry = None
            if isinstance(entry, dict):
                event = _event(entry, path, number, offset)
                if event is not None:
                    if event.job_name.endswith(".timer"):
                        timers.add(event.job_name[: -len(".timer")])
                    if "unit_event" in event.extra:
                        units.append(event)
                    else:
                        yield event
    for event in units:
        stem = event.job_name.rsplit(".", 1)[0]
        if event.job_name.endswith(".timer") or stem in timers or stem.startswith("run-"):
            yield event


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "surrogateescape")  # binary fields are byte arrays
    return "" if value is None else str(value)


def _event(entry: Mapping[str, Any], path: str, number: int, offset: int) -> JobEvent | None:
    try:
        when = datetime.fromtimestamp(int(_text(entry.get("__REALTIME_TIMESTAMP"))) / 1e6, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    host = _text(entry.get("_HOSTNAME"))
    where = evidence(path, host, number, offset)
    message = _text(entry.get("MESSAGE"))
    if len(message) > MAX_LINE:
        return None
    ident = _text(entry.get("SYSLOG_IDENTIFIER"))
    cursor = _text(entry.get("__CURSOR"))
    action = MESSAGE_IDS.get(_text(entry.get("MESSAGE_ID")))
    unit = _text(entry.get("UNIT") or entry.get("USER_UNIT"))
    if action is not None and unit:
        extra: dict[str, object] = {"unit_event": action, "message": message, "cursor": cursor}
        if entry.get("JOB_RESULT"):
            extra["job_result"] = _text(entry.get("JOB_RESULT"))
        if entry.get("USER_UNIT"):
            extra["user_manager"] = _text(entry.get("_SYSTEMD_UNIT"))
        return JobEvent(when, host, action, unit, where, None, None, extra)
    if not ident:
        return None
    event = parse_message(
        when, host, ident, _text(entry.get("SYSLOG_PID")) or None, None, message, where, message
    )
    if event is None:
        return None
    return JobEvent(
        event.time,
        event.host,
        event.action,
        event.job_name,
        event.evidence,
        event.actor,
        event.command,
        {**event.extra, "cursor": cursor},
    )
