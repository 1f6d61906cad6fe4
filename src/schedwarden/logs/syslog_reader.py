"""syslog text → `JobEvent`s: cronie, Debian/vixie and busybox cron, crontab(1), anacron, atd.

Timestamps: RFC 3164 (`Mar 11 22:55:30`, the year inferred: a line cannot be later than the file's
modification time, so a month after it belongs to the year before, which also places the lines
of a rotated file across New Year), RFC 5424 (`<13>1 2026-01-02T03:04:05Z host app pid - - msg`),
ISO-8601 (rsyslog's high-precision format), and loghub's `- epoch YYYY.MM.DD node` prefix.
Lines are read as bytes and capped; an oversized line is an Issue with its offset.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from ..model import Evidence, Issue, JobEvent
from .files import evidence, issue

MAX_LINE = 64 * 1024
BLOCK = 4 << 20
_KEYWORD = re.compile(rb"[cC][rR][oO][nN]|atd|USER ")
MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
CRON_IDENTS = frozenset({"cron", "crond", "crontab", "anacron", "atd", "busybox"})

_HEADER = re.compile(
    rb"^(?:<\d{1,3}>)?"
    rb"(?:- \d+ (?P<lyear>\d{4})\.\d\d\.\d\d \S+ )?"  # loghub prefix
    rb"(?:(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) (?P<clock>\d\d:\d\d:\d\d)"
    rb"|1 (?P<iso5424>\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d))"
    rb"|(?P<iso>\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?))"
    rb" (?P<host>\S+) (?P<rest>.*)$",
    re.DOTALL,
)
_TAG = re.compile(
    r"^(?P<ident>[^\s\[:(]+)(?:\((?P<sub>[^)]*)\))?(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$", re.DOTALL
)
_5424_REST = re.compile(r"^(?P<ident>\S+) (?P<pid>\S+) \S+ (?:-|\[.*?\]) ?(?P<msg>.*)$", re.DOTALL)
_CRON_MSG = re.compile(
    r"^\((?P<user>[^)]*)\) (?P<event>[A-Z][A-Z' ]*[A-Z])(?: \((?P<detail>.*)\))?(?P<tail>.*)$",
    re.DOTALL,
)
_BAD_FIELD = re.compile(r"^\((?P<user>[^)]*)\) (?P<event>bad [a-z -]+) \((?P<detail>.*)\)$")
_DEBIAN_ERROR = re.compile(r"^Error: (?P<what>bad [a-z -]+); while reading (?P<file>.*)$")
_BUSYBOX_RUN = re.compile(r"^USER (?P<user>\S+) pid +(?P<pid>\d+) cmd (?P<cmd>.*)$")
_ANACRON_JOB = re.compile(r"^Job [`'](?P<job>[^']*)' (?P<what>started|terminated.*)$")
_TWO_PARTS = re.compile(r"^\((?P<reason>[^()]*)\) \((?P<target>.*)\)$", re.DOTALL)
_LAST_PARENS = re.compile(r"\(([^()]*)\)\s*$")
_AT_START = re.compile(r"^Starting job (?P<job>\d+) \((?P<file>[^)]*)\) for user '(?P<user>[^']*)'")
_PAM = re.compile(r"session (?P<what>opened|closed) for user (?P<user>[^\s(]+)")
_ZONED = re.compile(rb"(?:Z|[+-]\d\d:\d\d)$")

CRON_EVENTS = {
    "CMD": "ran",
    "CMDEND": "finished",
    "CMDOUT": "output",
    "END": "finished",
    "RELOAD": "reloaded",
    "REPLACE": "crontab_replaced",
    "BEGIN EDIT": "crontab_edit_begin",
    "END EDIT": "crontab_edit_end",
    "LIST": "crontab_listed",
    "DELETE": "crontab_deleted",
    "ORPHAN": "orphan",
    "INSECURE MODE": "insecure_mode",
    "WRONG FILE OWNER": "wrong_file_owner",
    "BAD FILE MODE": "bad_file_mode",
    "BAD LINK COUNT": "bad_link_count",
    "NUMBER OF HARD LINKS": "bad_link_count",
    "NOT REGULAR": "not_regular",
    "CAN'T OPEN": "cannot_open",
    "AUTH": "auth_denied",
    "FAILED": "failed",
    "EXEC FAILED": "failed",
    "ERROR": "error",
    "STARTUP": "daemon_started",
}


def read_syslog(
    path: str, stream: BinaryIO, mtime: datetime, budget: float
) -> Iterator[JobEvent | Issue]:
    """Every cron, crontab, anacron and atd event of one syslog file.

    The file is read in blocks; only lines holding a keyword of these daemons are looked at
    (found by a search over the block, not line by line). A line longer than MAX_LINE is an
    Issue and is skipped however long it is; the time budget is checked after each block."""
    started = time.monotonic()
    number, base = 1, 0  # line number and file offset of the first byte of `data`
    carry = b""
    skipping = False  # inside an oversized line: discard up to its newline
    while True:
        chunk = stream.read(BLOCK)
        final = not chunk
        data = carry + chunk
        carry = b""
        if skipping:
            newline = data.find(b"\n")
            if newline < 0:
                base += len(data)
                if final:
                    return
                continue
            data = data[newline + 1 :]
            base += newline + 1
            number += 1
            skipping = False
        end = len(data) if final else data.rfind(b"\n") + 1
        block, carry = data[:end], data[end:]
        yield from _scan(block, path, number, base, mtime)
        number += block.count(b"\n")
        base += end
        if len(carry) > MAX_LINE:
            yield issue(
                "LOG_LINE_TOO_LONG",
                f"line longer than {MAX_LINE} bytes skipped",
                path,
                number,
                base,
            )
            base += len(carry)
            carry = b""
            skipping = True
        if final:
            return
        if time.monotonic() - started > budget:
            yield issue(
                "LOG_TIME_BUDGET",
                f"reading stopped after {budget:g} s at line {number}",
                path,
                number,
                base,
            )
            return


def _scan(
    block: bytes, path: str, number: int, base: int, mtime: datetime
) -> Iterator[JobEvent | Issue]:
    """The events of the lines of `block` (whole lines) that hold a keyword."""
    position = counted = 0
    while True:
        match = _KEYWORD.search(block, position)
        if match is None:
            return
        start = block.rfind(b"\n", 0, match.start()) + 1
        end = block.find(b"\n", match.end())
        end = len(block) if end < 0 else end + 1
        number += block.count(b"\n", counted, start)
        counted = start
        if end - start > MAX_LINE:
            yield issue(
                "LOG_LINE_TOO_LONG",
                f"line longer than {MAX_LINE} bytes skipped",
                path,
                number,
                base + start,
            )
        else:
            event = parse_line(block[start:end], path, number, base + start, mtime)
            if event is not None:
                yield event
        position = end


def parse_line(raw: bytes, path: str, number: int, offset: int, mtime: datetime) -> JobEvent | None:
    header = _HEADER.match(raw.rstrip(b"\r\n"))
    if header is None:
        return None
    when = _when(header, mtime)
    if when is None:
        return None
    host = header.group("host").decode("utf-8", "surrogateescape")
    rest = header.group("rest").decode("utf-8", "surrogateescape")
    if header.group("iso5424"):
        parts = _5424_REST.match(rest)
        if parts is None:
            return None
        ident, pid, sub, message = (
            parts.group("ident"),
            parts.group("pid"),
            None,
            parts.group("msg"),
        )
    else:
        tag = _TAG.match(rest)
        if tag is None:
            return None
        ident, pid, sub, message = (
            tag.group("ident"),
            tag.group("pid"),
            tag.group("sub"),
            tag.group("msg"),
        )
    host = host.split("/", 1)[0]
    where = evidence(path, host, number, offset)
    local = header.group("iso5424") is None and not _ZONED.search(header.group("iso") or b"")
    return parse_message(when, host, ident, pid, sub, message, where, rest, local_time=local)


def parse_message(
    when: datetime,
    host: str,
    ident: str,
    pid: str | None,
    sub: str | None,
    message: str,
    where: Evidence,
    text: str,
    *,
    local_time: bool = False,
) -> JobEvent | None:
    """The event of one message of a cron, crontab, anacron or atd process (from syslog or
    the journal); None for any other process or message. `local_time`: the time is the wall
    clock the line was written with, no zone given (it is kept as if it were UTC, and marked
    `local_time` for the analytics that compare it with a schedule)."""
    daemon = ident.rsplit("/", 1)[-1]
    key = daemon.casefold()
    if key not in CRON_IDENTS:
        return None
    base: dict[str, object] = {"daemon": daemon, "line_text": text}
    if local_time:
        base["local_time"] = True
    if pid and pid != "-":
        base["pid"] = pid
    if sub == "pam_unix" or message.startswith("pam_unix("):
        pam = _PAM.search(message)
        if pam is None:
            return None
        mechanism = "at" if key == "atd" else "cron"
        return JobEvent(
            when,
            host,
            f"session_{pam.group('what')}",
            mechanism,
            where,
            pam.group("user"),
            None,
            base,
        )
    if key == "anacron":
        job = _ANACRON_JOB.match(message)
        if job is None:
            return None
        what = "started" if job.group("what") == "started" else "finished"
        return JobEvent(when, host, what, f"anacron:{job.group('job')}", where, None, None, base)
    if key == "atd":
        started = _AT_START.match(message)
        if started is not None:
            name = f"at:{started.group('job')}"
            extra = {**base, "job_file": started.group("file")}
            return JobEvent(when, host, "ran", name, where, started.group("user"), None, extra)
        return JobEvent(when, host, "error", "at", where, None, None, {**base, "message": message})
    busy = _BUSYBOX_RUN.match(message)
    if busy is not None:
        return JobEvent(
            when, host, "ran", "cron", where, busy.group("user"), busy.group("cmd"), base
        )
    error = _DEBIAN_ERROR.match(message)
    if error is not None:
        return JobEvent(
            when,
            host,
            "syntax_error",
            error.group("file"),
            where,
            None,
            None,
            {**base, "message": error.group("what")},
        )
    bad = _BAD_FIELD.match(message)
    if bad is not None:
        return JobEvent(
            when,
            host,
            "syntax_error",
            bad.group("detail"),
            where,
            bad.group("user"),
            None,
            {**base, "message": bad.group("event")},
        )
    cron = _CRON_MSG.match(message)
    if cron is None:
        return None
    event = cron.group("event")
    user = cron.group("user")
    detail = cron.group("detail") or ""
    if not detail:  # `NUMBER OF HARD LINKS > 1 (/etc/cron.d/x)`: the file is the last (...)
        last = _LAST_PARENS.search(cron.group("tail"))
        detail = last.group(1) if last else ""
    if event not in CRON_EVENTS and event.startswith(tuple(CRON_EVENTS)):
        event = next(e for e in CRON_EVENTS if event.startswith(e))
    found = CRON_EVENTS.get(event)
    if found is None:
        return None  # INFO and other daemon chatter
    action = found
    extra = {**base, "event": event}
    if action in ("ran", "finished", "output"):
        command = detail.replace("^M", "\r")
        if "^M" in detail:
            extra["carriage_return_marker"] = True
        return JobEvent(when, host, action, "cron", where, user, command, extra)
    if key == "crontab":
        extra["target_user"] = detail
        return JobEvent(when, host, action, f"crontab:{detail}", where, user, None, extra)
    target = detail
    two = _TWO_PARTS.match(f"({detail}){cron.group('tail')}")
    if two is not None:
        extra["reason"] = two.group("reason")
        target = two.group("target")
    if action == "orphan":
        extra["reason"] = detail
        target = f"crontab:{user}"
    return JobEvent(when, host, action, target or user, where, user, None, extra)


def _when(header: re.Match[bytes], mtime: datetime) -> datetime | None:
    iso = header.group("iso5424") or header.group("iso")
    try:
        if iso:
            moment = datetime.fromisoformat(iso.decode("ascii").replace("Z", "+00:00"))
            return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
        month = MONTHS.get(header.group("mon").decode("ascii").lower())
        if month is None:
            return None
        hour, minute, second = (int(x) for x in header.group("clock").split(b":"))
        day = int(header.group("day"))
        if header.group("lyear"):
            year = int(header.group("lyear"))
        else:
            year = mtime.year if month <= mtime.month else mtime.year - 1
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if header.group("lyear") is None and when > mtime + timedelta(days=1):
            when = when.replace(year=year - 1)
        return when
    except (ValueError, UnicodeDecodeError):
        return None
