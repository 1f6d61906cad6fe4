"""Sigma rules over the Linux records the readers kept (`hunt --sigma DIR` and our own pack).

The log sources SigmaHQ writes Linux rules for, and the rows each gets:

- `product: linux, service: cron`: every cron, crontab, anacron and atd message (syslog or the
  journal). SigmaHQ's cron rules are keyword rules, matched against the message (`Text`: the
  line's MSG content without its `ident[pid]: ` tag, as ECS `message`); `program`, `pid`,
  `user`, `command` and `hostname` are there too.
- `product: linux, service: syslog`: the same lines, and the service manager's messages about
  timers and their services from a journal export (`UNIT`, `MESSAGE`, `JOB_RESULT`).
- `product: linux, service: auditd`: one row per auditd record of the events kept, with the
  record's own field names as auditd writes them (`type`, `key`, `exe`, `comm`, `syscall`,
  `a0`…, `name`, `nametype`, `proctitle`, ...), values unquoted, and hex-encoded strings
  (`exe`, `comm`, `name`, `cwd`, `proctitle`, `cmd`, `key`, EXECVE arguments) decoded; `Text`
  is the record as written, for keyword rules.
- `product: linux, category: process_creation`: each execve event auditd logged (Sysmon for
  Linux's field names: `Image`, `CommandLine`, `CurrentDirectory`, `User`, `LogonId` (the audit
  login uid, 4294967295 for a process outside any login session), `ProcessId`,
  `ParentProcessId`, `TerminalSessionId`).
- `product: linux, category: file_event`: each file an auditd event created or wrote (a PATH
  record of nametype CREATE or NORMAL of an event that is not an execve; a relative name is
  taken in the event's working directory, as the reader does): `TargetFilename`, with `Image`,
  `CommandLine`, `User`, `LogonId`, `ProcessId`.
- `product: linux` with neither: every row above that has a `Text`.

As on the Windows side, only rules about scheduled jobs are used (tagged T1053 or naming cron,
at, systemd-run or timers), and the records are only those the readers kept for scheduler
activity. There is no `service: journald` in SigmaHQ: journal entries feed the cron and syslog
sources. Evaluation goes through the same pySigma SQLite backend and table as every other rule.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Evidence, Finding, JobEvent
from .sigma_table import JobTable, RegexError

if TYPE_CHECKING:
    from sigma.rule import SigmaRule

    from .log_sigma import LogRule, LogRuleSet

PREFIX = "linux/"
# (`\v`: a vertical tab is a space to `re`, not to RE2, which tests ASCII files: log_sigma)
LINUX_RELEVANT = re.compile(
    r"t1053|cron|/at['\"\s\v]|/atd\b|/var/spool/at|systemd-run|\.timer\b", re.IGNORECASE
)
SERVICES = frozenset({"cron", "syslog", "auditd"})
CATEGORIES = frozenset({"process_creation", "file_event"})
ANY = PREFIX + "any"
# auditd fields that hold an untrusted string (quoted, or hex when it has unsafe characters)
HEX_FIELDS = frozenset({"exe", "comm", "name", "cwd", "proctitle", "cmd", "key", "path", "data"})
_ARGUMENT = re.compile(r"^a\d+$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_WRITTEN = frozenset({"CREATE", "NORMAL"})
MAX_TEXT = 4096


def linux_scope(rule: SigmaRule) -> str | None:
    """The Linux log source of a rule from a file about scheduled jobs (`LINUX_RELEVANT`), or
    None."""
    source = rule.logsource
    if (source.product or "").casefold() != "linux":
        return None
    category = (source.category or "").casefold()
    service = (source.service or "").casefold()
    if category:
        return PREFIX + category if category in CATEGORIES and not service else None
    if service:
        return PREFIX + service if service in SERVICES else None
    return ANY


TEXT_SCOPES = (PREFIX + "cron", PREFIX + "syslog", ANY)
UNIT_SCOPES = (PREFIX + "syslog", ANY)
_5424 = re.compile(r"^\S+ \S+ \S+ (?:-|\[.*?\]) ?(.*)$", re.DOTALL)


def linux_rows(
    events: Sequence[JobEvent],
) -> Iterator[tuple[tuple[str, ...], JobEvent, dict[str, object], Evidence]]:
    """(scopes, event, row, evidence) for every Linux record the events came from."""
    for event in events:
        extra = event.extra
        records = extra.get("records")
        if isinstance(records, list):
            yield from _audit_rows(event, records)
        elif "daemon" in extra:
            yield TEXT_SCOPES, event, _cron_row(event), event.evidence
        elif "unit_event" in extra:
            yield UNIT_SCOPES, event, _unit_row(event), event.evidence


def _cron_row(event: JobEvent) -> dict[str, object]:
    extra = event.extra
    return {
        "Text": message_of(extra),
        "program": extra.get("daemon"),
        "pid": extra.get("pid"),
        "hostname": event.host,
        "user": event.actor,
        "command": event.command,
    }


def _unit_row(event: JobEvent) -> dict[str, object]:
    message = _text(event.extra.get("message"))
    return {
        "Text": message,
        "MESSAGE": message,
        "UNIT": event.job_name,
        "JOB_RESULT": event.extra.get("job_result"),
        "hostname": event.host,
    }


def message_of(extra: Mapping[str, object]) -> str:
    """The message of a cron line without its tag (`CRON[42]: `) or RFC 5424 header, as
    syslog's MSG content and ECS `message` are; a journal entry's MESSAGE as it is."""
    text = extra.get("line_text")
    if not isinstance(text, str):
        return ""
    if "cursor" in extra:
        return text
    head, sep, tail = text.partition(": ")
    if sep and " " not in head:  # `ident[pid]: message`
        return tail
    found = _5424.match(text)
    return found.group(1) if found else text


def _audit_rows(
    event: JobEvent, records: list[object]
) -> Iterator[tuple[tuple[str, ...], JobEvent, dict[str, object], Evidence]]:
    decoded: list[tuple[str, dict[str, str], Evidence]] = []
    for record in records:
        if not isinstance(record, Mapping) or not isinstance(record.get("fields"), Mapping):
            continue
        kind = str(record.get("type") or "")
        raw = {str(k): str(v) for k, v in record["fields"].items()}
        line, offset = record.get("line"), record.get("offset")
        where = event.evidence.at(
            line if isinstance(line, int) else event.evidence.line,
            offset if isinstance(offset, int) else event.evidence.offset,
        )
        fields = {name: decode(kind, name, value) for name, value in raw.items()}
        decoded.append((kind, fields, where))
        text = " ".join([f"type={kind}", *(f"{k}={v}" for k, v in raw.items())])[:MAX_TEXT]
        yield (PREFIX + "auditd", ANY), event, {**fields, "type": kind, "Text": text}, where
    syscall = next((f for k, f, _ in decoded if k == "SYSCALL"), None)
    if syscall is None:
        return
    process: dict[str, object] = {
        "Image": syscall.get("exe"),
        "CommandLine": event.command,
        "CurrentDirectory": next((f.get("cwd") for k, f, _ in decoded if k == "CWD"), None),
        "User": syscall.get("UID") or syscall.get("uid"),
        "LogonId": syscall.get("auid"),
        "ProcessId": syscall.get("pid"),
        "ParentProcessId": syscall.get("ppid"),
        "TerminalSessionId": syscall.get("ses"),
    }
    if any(k == "EXECVE" for k, _, _ in decoded):
        yield (PREFIX + "process_creation",), event, process, event.evidence
        return  # the PATH records of an execve are the program and its interpreter: not writes
    folder = str(process["CurrentDirectory"] or "")
    for kind, fields, where in decoded:
        name = fields.get("name")
        if kind != "PATH" or not name or fields.get("nametype") not in _WRITTEN:
            continue
        target = name if name.startswith("/") else folder.rstrip("/") + "/" + name
        row = {"TargetFilename": target, **{k: process[k] for k in _FILE_CONTEXT}}
        yield (PREFIX + "file_event",), event, row, where


_FILE_CONTEXT = ("Image", "CommandLine", "User", "LogonId", "ProcessId")


def decode(kind: str, name: str, raw: str) -> str:
    """One auditd field value as text: quotes removed, hex-encoded strings decoded (argv and
    proctitle NULs as spaces). Numbers and other hex-looking values of other fields stay."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    hexed = name in HEX_FIELDS or (kind == "EXECVE" and _ARGUMENT.match(name) is not None)
    if not hexed or not _HEX.match(raw):
        return raw
    data = bytes.fromhex(raw)
    if name == "proctitle":
        data = data.replace(b"\x00", b" ").strip()
    return data.decode("utf-8", "surrogateescape")


Item = tuple[Sequence[JobEvent], dict[str, object], Evidence | None]


def evaluate_linux(rules: LogRuleSet, events: Sequence[JobEvent]) -> Iterator[Finding]:
    """A finding per (rule, event) where a Linux rule matches one of the event's rows. Cron and
    journal lines are evaluated once per distinct row (of the fields the rules read): a year
    of syslog repeats a few hundred messages millions of times."""
    prepared = prepare_linux(rules, events)
    if prepared is not None:
        yield from linux_findings(prepared)


@dataclass(frozen=True, slots=True)
class LinuxItems:
    """The Linux rules by log source, and the rows of each source (`prepare_linux`)."""

    by_scope: dict[str, list[LogRule]]
    scoped: dict[str, list[Item]]


def prepare_linux(
    rules: LogRuleSet, events: Sequence[JobEvent], aside: list[JobEvent] | None = None
) -> LinuxItems | None:
    """The rows of the Linux records among the events for the Linux rules, or None when no
    rule is for a Linux log source. Given `aside`, the events with a `channel` (Windows
    records) are put there, in their order, and are no Linux record: the same pass over the
    events sorts both (when None is returned, `aside` is left alone)."""
    by_scope: dict[str, list[LogRule]] = {}
    for rule in rules.rules:
        if rule.scope.startswith(PREFIX):
            by_scope.setdefault(rule.scope, []).append(rule)
    if not by_scope:
        return None
    text_fields = {f.casefold() for s in TEXT_SCOPES for r in by_scope.get(s, ()) for f in r.fields}
    wants_text = any(s in by_scope for s in TEXT_SCOPES)
    wants_units = any(s in by_scope for s in UNIT_SCOPES)
    by_text: dict[object, list[JobEvent]] = {}
    units: list[JobEvent] = []
    audits: list[JobEvent] = []
    only_text = text_fields <= {"text"}
    windows = aside is not None
    put_aside = (aside if aside is not None else []).append
    for event in events:
        extra = event.extra
        if windows and "channel" in extra:
            put_aside(event)
        elif "daemon" in extra:
            if wants_text:
                key: object
                if only_text:  # message_of, its common case inline
                    text = extra.get("line_text")
                    if isinstance(text, str):
                        head, sep, key = text.partition(": ")
                        if not sep or " " in head or "cursor" in extra:
                            key = message_of(extra)
                    else:
                        key = message_of(extra)
                else:
                    key = tuple(sorted((k, str(v)) for k, v in _cron_row(event).items()))
                found = by_text.get(key)
                if found is None:
                    by_text[key] = [event]
                else:
                    found.append(event)
        elif "records" in extra:
            audits.append(event)
        elif "unit_event" in extra and wants_units:
            units.append(event)
    scoped: dict[str, list[Item]] = {}
    for same in by_text.values():
        for scope in TEXT_SCOPES:
            scoped.setdefault(scope, []).append((same, _cron_row(same[0]), None))
    for event in units:
        for scope in UNIT_SCOPES:
            scoped.setdefault(scope, []).append(([event], _unit_row(event), None))
    for scopes, event, row, where in linux_rows(audits):
        for scope in scopes:
            scoped.setdefault(scope, []).append(([event], row, where))
    return LinuxItems(by_scope, scoped)


def linux_findings(prepared: LinuxItems) -> Iterator[Finding]:
    """The findings of the rules over the rows `prepare_linux` made: one table per source."""
    for scope, scope_rules in prepared.by_scope.items():
        items = prepared.scoped.get(scope)
        if not items:
            continue
        table = JobTable(_columns(scope_rules, items), [row for _, row, _ in items])
        try:
            for rule in scope_rules:
                yield from _matches(rule, table, items)
        finally:
            table.close()


def _columns(rules: Sequence[LogRule], items: Sequence[Item]) -> list[str]:
    """The table's columns: the rules' fields, then the rows'. SQLite's column names ignore
    case and auditd's enriched format repeats fields in upper case (`UID` beside `uid`): the
    first spelling wins, the rules' own first."""
    names: dict[str, str] = {key: key for key in _RESERVED}
    for rule in rules:
        for name in rule.fields:
            names.setdefault(name.casefold(), name)
    for _, row, _ in items:
        for name in row:
            names.setdefault(name.casefold(), name)
    return sorted(v for k, v in names.items() if k not in _RESERVED)


_RESERVED = frozenset({"product", "mechanism", "_row"})


def _matches(rule: LogRule, table: JobTable, items: Sequence[Item]) -> Iterator[Finding]:
    hits: set[int] = set()
    for condition in rule.conditions:
        try:
            hits.update(table.select(condition))
        except (sqlite3.Error, RegexError):
            continue
    reported: set[int] = set()
    for index in sorted(hits):
        same, row, record = items[index]
        for event in same:
            if id(event) in reported:
                continue  # several records of one event: one finding
            reported.add(id(event))
            where = record or event.evidence
            job_id = event.extra.get("job_id")
            yield Finding(
                rule_id=rule.rule_id,
                title=rule.title,
                severity=rule.level,
                techniques=rule.techniques,
                job_id=job_id if isinstance(job_id, str) else None,
                evidence=where,
                message=f"Sigma rule {rule.title!r} matched {_what(row)} "
                f"({where.path} line {where.line})",
                remediation=f"See the rule in {rule.path}.",
            )


def _what(row: Mapping[str, object]) -> str:
    if "TargetFilename" in row:
        return f"the write of {row['TargetFilename']} by {row.get('Image') or 'a process'}"
    if "CommandLine" in row:
        return f"the execution of {row.get('CommandLine') or row.get('Image')!r}"
    if "type" in row:
        return (
            f"an auditd {row['type']} record of {row.get('exe') or row.get('comm') or 'a process'}"
        )
    return f"the line {_excerpt(row.get('Text'))!r}"


def _excerpt(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:120] + "…"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
