"""auditd logs (`/var/log/audit/audit.log`) → `JobEvent`s.

Records are grouped by event (`msg=audit(TIME:SERIAL)`); an event yields a job event when its
program is a scheduler tool (crontab, at, atq, atrm, batch, systemctl, systemd-run) or when it
writes a path of a scheduler (cron tables and folders, at spool, systemd unit folders). The
command line comes from EXECVE (`aN=`, hex when quoted-unsafe) or PROCTITLE (hex argv with NULs;
a malformed value is kept raw). Lines longer than MAX_LINE are Issues with their offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ..model import Issue, JobEvent
from .files import bounded_lines, evidence

MAX_LINE = 64 * 1024
MAX_OPEN_EVENTS = 10_000
TOOLS = {
    "crontab": "crontab_command",
    "at": "at_command",
    "atq": "at_command",
    "atrm": "at_command",
    "batch": "at_command",
    "systemctl": "systemctl_command",
    "systemd-run": "transient_unit_command",
}
SCHEDULER_PATHS = (
    "/etc/crontab",
    "/etc/cron.",
    "/etc/cron/",
    "/var/spool/cron",
    "/var/spool/at",
    "/var/spool/atjobs",
    "/etc/anacrontab",
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/system",
    "/.config/systemd/user",
)
_HEAD = re.compile(
    rb"^(?:node=\S+ )?type=(?P<type>\w+) msg=audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\): ?(?P<body>.*)$",
    re.DOTALL,
)
_FIELD = re.compile(r'(\w+)=("(?:[^"]*)"|\'[^\']*\'|\S+)')


def looks_like_audit(head: bytes) -> bool:
    return head.startswith((b"type=", b"node=")) and b"msg=audit(" in head[:300]


def read_audit(path: str, stream: BinaryIO, budget: float) -> Iterator[JobEvent | Issue]:
    groups: dict[str, list[tuple[str, dict[str, str], int, int]]] = {}
    times: dict[str, datetime] = {}
    for item in bounded_lines(path, stream, budget, MAX_LINE, "record"):
        if isinstance(item, Issue):
            yield item
            continue
        number, offset, line = item
        head = _HEAD.match(line.rstrip(b"\r\n"))
        if head is not None:
            key = (
                head.group("sec").decode()
                + "."
                + head.group("ms").decode()
                + ":"
                + head.group("serial").decode()
            )
            body = head.group("body").decode("utf-8", "surrogateescape")
            fields = dict(_FIELD.findall(body))  # raw: quoted text, or hex, or a bare word
            groups.setdefault(key, []).append((head.group("type").decode(), fields, number, offset))
            times.setdefault(key, datetime.fromtimestamp(int(head.group("sec")), UTC))
            if len(groups) > MAX_OPEN_EVENTS:
                first = next(iter(groups))
                yield from _event(path, times.pop(first), groups.pop(first))
    for key, records in groups.items():
        yield from _event(path, times[key], records)


def _value(raw: str) -> str:
    """A field's text: quoted text without its quotes, anything else as it is."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _text(raw: str) -> str:
    """An untrusted string field (argv, proctitle, path name): quoted as it is, unquoted as hex
    (argv joined by NULs); a malformed hex value (odd length...) is kept raw."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    if raw == "(null)" or not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", raw):
        return raw
    return bytes.fromhex(raw).replace(b"\x00", b" ").decode("utf-8", "surrogateescape").strip()


def _event(
    path: str, when: datetime, records: list[tuple[str, dict[str, str], int, int]]
) -> Iterator[JobEvent]:
    kinds = {kind: fields for kind, fields, _, _ in records}
    syscall = kinds.get("SYSCALL")
    if syscall is None:
        return
    exe = _text(syscall.get("exe", ""))
    tool = exe.rsplit("/", 1)[-1]
    command = _command(kinds)
    names = [
        _text(fields.get("name", ""))
        for kind, fields, _, _ in records
        if kind == "PATH" and fields.get("nametype") in ("CREATE", "NORMAL", "DELETE")
    ]
    cwd = _text(kinds.get("CWD", {}).get("cwd", ""))
    full = [n if n.startswith("/") else cwd.rstrip("/") + "/" + n for n in names]
    written = [n for n in full if any(p in n for p in SCHEDULER_PATHS)]
    _, _, line, offset = records[0]
    where = evidence(path, _value(syscall.get("node", "")), line, offset)
    extra: dict[str, object] = {
        "exe": exe,
        "syscall": syscall.get("syscall"),
        "auid": syscall.get("auid"),
        "uid": syscall.get("uid"),
        "key": _value(syscall.get("key", "")),
        "record_types": sorted(kinds),
        # every record of the event with its raw fields, for Sigma's auditd rules
        "records": [
            {"type": kind, "line": number, "offset": at, "fields": fields}
            for kind, fields, number, at in records
        ],
    }
    actor = _value(syscall.get("AUID") or syscall.get("auid") or "") or None
    if tool in TOOLS:
        yield JobEvent(
            when, "", TOOLS[tool], tool, where, actor, command, {**extra, "paths": written}
        )
    elif written:
        yield JobEvent(
            when,
            "",
            "file_written",
            written[-1],
            where,
            actor,
            command,
            {**extra, "paths": written, "cwd": cwd},
        )


def _command(kinds: dict[str, dict[str, str]]) -> str | None:
    execve = kinds.get("EXECVE")
    if execve is not None:
        try:
            count = int(execve.get("argc", "0"))
        except ValueError:
            count = 0
        words = [_text(execve.get(f"a{i}", "")) for i in range(min(count, 1024))]
        return " ".join(words)
    title = kinds.get("PROCTITLE", {}).get("proctitle")
    return _text(title) if title else None
