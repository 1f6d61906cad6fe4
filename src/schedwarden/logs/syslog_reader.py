"""syslog text → `JobEvent`s: cronie, Debian/vixie and busybox cron, crontab(1), anacron, atd.

Timestamps: RFC 3164 (`Mar 11 22:55:30`, the year inferred: a line cannot be later than the file's
modification time, so a month after it belongs to the year before, which also places the lines
of a rotated file across New Year), RFC 5424 (`<13>1 2026-01-02T03:04:05Z host app pid - - msg`),
ISO-8601 (rsyslog's high-precision format), and loghub's `- epoch YYYY.MM.DD node` prefix.
Lines are read as bytes and capped; an oversized line is an Issue with its offset.

Speed: only the lines holding a keyword are decoded and parsed (the others are passed over at
memory speed, in place in each block: `line_search`), a timestamp's time is worked out once per file,
and a big file is read by two processes (a compressed one: inflated and searched by a helper
while this process parses).
"""

from __future__ import annotations

import io
import os
import re
import stat
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import BinaryIO

from ..forked import ForkedStream
from ..model import Evidence, Issue, JobEvent
from .files import INFLATING, evidence, issue, open_log
from .line_search import KeywordLines, count_newlines

MAX_LINE = 64 * 1024
BLOCK = 4 << 20
MAX_STAMPS = 4096  # distinct timestamps remembered per file (cleared when full)
# A line is looked at when it holds `cron` in any ASCII case, `atd` or `USER ` (busybox crond).
keyword_lines = KeywordLines(caseless=(b"cron",), exact=(b"atd", b"USER "))
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
_EVENT_PREFIXES = tuple(CRON_EVENTS)


Line = tuple[int, int, bytes]  # a keyword line: its number, its file offset, its bytes


def read_syslog(
    path: str, stream: BinaryIO, mtime: datetime, budget: float
) -> Iterator[JobEvent | Issue]:
    """Every cron, crontab, anacron and atd event of one syslog file.

    The file is read in blocks; only lines holding a keyword of these daemons are looked at
    (found by a search over the block, not line by line). A line longer than MAX_LINE is an
    Issue and is skipped however long it is; the time budget is checked after each block.
    A big file is read by two processes (`Tail`): the same blocks, the same events."""
    started = time.monotonic()
    stamps: dict[bytes, datetime | None] = {}  # timestamp text → time: lines share their second
    messages = Messages()
    for item in _keyword_lines_of(path, stream, started, budget):
        if isinstance(item, Issue):
            yield item
        else:
            number, offset, raw = item
            event = _parse(raw, path, number, offset, mtime, stamps, messages)
            if event is not None:
                yield event


def _keyword_lines_of(
    path: str, stream: BinaryIO, started: float, budget: float
) -> Iterator[Line | Issue]:
    """The keyword lines and the issues of the file, in file order."""
    reading = Reading(path)
    tail = Tail.start(path, stream, started + budget)
    try:
        stop = tail.split if tail is not None else None
        while stop is None or reading.position < stop:
            chunk = stream.read(BLOCK if stop is None else min(BLOCK, stop - reading.position))
            if not chunk:
                yield from reading.finish()
                return
            yield from reading.feed(chunk)
            if time.monotonic() - started > budget:
                yield reading.out_of_time(budget)
                return
        assert tail is not None
        first = reading.number  # of the line across the split: the helper's line 0
        while reading.carry and not reading.skipping:  # that line, up to its newline
            chunk = stream.read(BLOCK)
            if not chunk:
                yield from reading.finish()
                break
            newline = chunk.find(b"\n")
            yield from reading.feed(chunk if newline < 0 else chunk[: newline + 1])
        resume: Checkpoint = (0, tail.split, tail.across)  # where the helper's reading stands
        for found, checkpoint in tail.helper.items():
            for kind, number, offset, raw in found:
                if kind == "line":
                    yield first + number, offset, raw
                elif kind == "long":
                    yield _too_long(path, first + number, offset)
                else:
                    yield _out_of_time(path, budget, first + number, offset)
            resume = checkpoint or resume
        if tail.helper.complete:
            return
        number, position, skipping = resume  # the helper failed: read on here from there
        reading = Reading(path, first + number, position, skipping)
        stream.seek(position)
        size = BLOCK - position % BLOCK  # up to the end of the helper's block: the same blocks
        while chunk := stream.read(size):
            size = BLOCK
            yield from reading.feed(chunk)
            if time.monotonic() - started > budget:
                yield reading.out_of_time(budget)
                return
        yield from reading.finish()
    finally:
        if tail is not None:
            tail.helper.cancel()


class Reading:
    """Where the block-by-block reading of one syslog file stands: the line number and file
    offset of `carry` (the start of a line that a later block ends), and whether an oversized
    line is being skipped up to its newline."""

    def __init__(self, path: str, number: int = 1, position: int = 0, skipping: bool = False):
        self.path = path
        self.number = number
        self.base = position  # file offset of carry[0], or of the next byte to read
        self.carry = b""
        self.skipping = skipping

    @property
    def position(self) -> int:
        """File offset of the next byte to read."""
        return self.base + len(self.carry)

    def feed(self, chunk: bytes) -> Iterator[Line | Issue]:
        """The keyword lines that `chunk`, the next bytes read, ends. Blocks are not copied:
        a block's lines are scanned in place, only the line begun before it is put together."""
        low = 0  # where the unread part of `chunk` begins
        if self.skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                self.base += len(chunk)
                return
            low = newline + 1
            self.base += low
            self.number += 1
            self.skipping = False
        last = chunk.rfind(b"\n", low)
        if last < 0:
            self.carry += chunk[low:]
        else:
            if self.carry:  # the line begun in the block before
                first = chunk.find(b"\n", low) + 1
                head = self.carry + chunk[low:first]
                self.number = yield from self._scan(head, 0, len(head), self.base)
                self.base += len(head)
                low = first
            high = last + 1
            self.number = yield from self._scan(chunk, low, high, self.base - low)
            self.base += high - low
            self.carry = chunk[high:]
        if len(self.carry) > MAX_LINE:
            yield _too_long(self.path, self.number, self.base)
            self.base += len(self.carry)
            self.carry = b""
            self.skipping = True

    def finish(self) -> Iterator[Line | Issue]:
        """The last line, when the file does not end with a newline."""
        yield from self._scan(self.carry, 0, len(self.carry), self.base)

    def out_of_time(self, budget: float) -> Issue:
        return _out_of_time(self.path, budget, self.number, self.base)

    def _scan(
        self, data: bytes, low: int, high: int, base: int
    ) -> Generator[Line | Issue, None, int]:
        """The keyword lines of `data[low:high]` (whole lines), `base` being the file offset of
        `data[0]`; returns the number of the line after them. Newlines are counted once, from
        one keyword line to the next."""
        number, counted = self.number, low
        for start, end in keyword_lines(data, low, high):
            number += count_newlines(data, counted, start)
            counted = start
            if end - start > MAX_LINE:
                yield _too_long(self.path, number, base + start)
            else:
                yield number, base + start, data[start:end]
        return number + count_newlines(data, counted, high)


def _too_long(path: str, number: int, offset: int) -> Issue:
    return issue(
        "LOG_LINE_TOO_LONG", f"line longer than {MAX_LINE} bytes skipped", path, number, offset
    )


def _out_of_time(path: str, budget: float, number: int, offset: int) -> Issue:
    message = f"reading stopped after {budget:g} s at line {number}"
    return issue("LOG_TIME_BUDGET", message, path, number, offset)


# ---------------------------------------------------------------------------------------------
# A big plain file is read by two processes: this one reads the first blocks and a forked helper
# the rest, from a block boundary on. The helper only finds keyword lines (and overlong lines and
# the time budget's end) exactly as this process would, counting lines from the one across the
# boundary; this process then finishes that line and parses the helper's lines in order. Same
# blocks, same events, same issues. If the helper fails, this process reads the rest itself.
# A compressed file cannot be cut: its helper inflates all of it (through a stream of its own)
# and searches it, from block 0, while this process parses what it sends (1 GB of syslog with
# 1% cron lines in a 105 MB gzip: 4.0 s → 3.0 s).

HELPER_MIN = 256 << 20  # plain files from this size on get a helper
INFLATED_HELPER_MIN = 16 << 20  # compressed files from this size on (about 150 MB of text)
# This process searches the start of the file and parses the keyword lines it finds, then parses
# the lines the helper found in the rest, as the helper sends them. Searching costs about 0.9 ns
# per byte (reading from the page cache included), parsing a keyword line about 7 µs (measured:
# 1 GB logs, 0.1% to 25% cron lines): one line parsed is worth this many bytes searched.
PARSE_BYTES = 8000
SAMPLES, SAMPLE_SIZE = 8, 256 << 10  # the density of keyword lines, from 2 MiB across the file
MIN_SHARE, MAX_SHARE = 0.5, 0.95  # of the file, for the helper
Record = tuple[str, int, int, bytes]  # ("line" | "long" | "time", number, offset, bytes)
# Where the helper's reading stands after a block: line number, file offset, skipping a long line
Checkpoint = tuple[int, int, bool]
Sent = tuple[list[Record], Checkpoint | None]  # what the helper found in a block, and then


class Tail:
    """The end of a big plain file, from `split`, searched by a helper process (a fork) that
    sends what it finds block by block: this process parses it as it comes once done with its
    own share, and reads on from the last block received if the helper fails."""

    def __init__(self, helper: ForkedStream[Sent], split: int, across: bool) -> None:
        self.helper, self.split, self.across = helper, split, across

    @classmethod
    def start(cls, path: str, stream: BinaryIO, deadline: float) -> Tail | None:
        """A helper for the rest of `stream`, or None: the file is small or not a regular file,
        there is one processor only, or no process can be started. A compressed file cannot be
        split: its helper inflates and searches all of it (`split` 0), this process parses."""
        if isinstance(stream, INFLATING):
            return cls._inflated(path, stream, deadline)
        if not isinstance(stream, io.BufferedReader) or not isinstance(stream.raw, io.FileIO):
            return None
        try:
            descriptor = stream.fileno()
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_size < HELPER_MIN or stream.tell() != 0:
                return None
            share = helper_share(descriptor, info.st_size)
            split = int(info.st_size * (1 - share)) // BLOCK * BLOCK
            if split <= 0:
                return None
            across = os.pread(descriptor, 1, split - 1) != b"\n"  # a line runs across split
        except OSError:
            return None
        helper = ForkedStream.start(partial(scan_tail, path, descriptor, split, across, deadline))
        return None if helper is None else cls(helper, split, across)

    @classmethod
    def _inflated(cls, path: str, stream: BinaryIO, deadline: float) -> Tail | None:
        try:
            if os.stat(path).st_size < INFLATED_HELPER_MIN or stream.tell() != 0:
                return None
        except OSError:
            return None
        helper = ForkedStream.start(partial(scan_inflated, path, deadline))
        return None if helper is None else cls(helper, 0, False)


def helper_share(descriptor: int, size: int) -> float:
    """The share of the file the helper searches so that the whole reading ends soonest, from
    the density of keyword lines in samples across the file. With `a` the time to search the
    file and `b` to parse its keyword lines, this process takes `x·a + b` (its share searched,
    every line parsed, the helper's as they come), the helper `(1 - x)·a`: both end together
    at 1 - x = (a + b) / 2a, all of the file for the helper when parsing costs more than
    searching."""
    lines = sampled = 0
    for index in range(SAMPLES):
        data = os.pread(descriptor, SAMPLE_SIZE, size * index // SAMPLES)
        lines += len(keyword_lines(data))
        sampled += len(data)
    parse = lines / max(sampled, 1) * PARSE_BYTES  # b / a
    return min(MAX_SHARE, max(MIN_SHARE, (1 + parse) / 2))


def scan_tail(
    path: str, descriptor: int, split: int, across: bool, deadline: float
) -> Iterator[Sent]:
    """`scan_blocks` of the file from `split` on, read with `pread` on the descriptor this
    process shares with the reader, whose position it leaves alone."""
    yield from scan_blocks(path, _preads(descriptor, split), split, across, deadline)


def _preads(descriptor: int, position: int) -> Iterator[bytes]:
    while chunk := os.pread(descriptor, BLOCK, position):
        position += len(chunk)
        yield chunk


def scan_inflated(path: str, deadline: float) -> Iterator[Sent]:
    """`scan_blocks` of all of a compressed file, inflated through a stream of its own: opened
    again, its descriptor's position is not the reader's."""
    with open_log(path) as (stream, _):
        blocks = iter(partial(stream.read, BLOCK), b"")
        yield from scan_blocks(path, blocks, 0, False, deadline)


def scan_blocks(
    path: str, blocks: Iterable[bytes], split: int, across: bool, deadline: float
) -> Iterator[Sent]:
    """What each block (BLOCK bytes, the last shorter) of the file from `split` (a block
    boundary) on holds: its keyword lines, overlong lines and end of time, numbered from the
    line across `split` (0), and where the reading stands after it."""
    reading = Reading(path, number=0, position=split, skipping=across)
    for chunk in blocks:
        found = [_record(item) for item in reading.feed(chunk)]
        if time.monotonic() > deadline:
            found.append(("time", reading.number, reading.base, b""))
            yield found, None
            return
        yield found, (reading.number, reading.base, reading.skipping)
    yield [_record(item) for item in reading.finish()], None


def _record(item: Line | Issue) -> Record:
    if isinstance(item, Issue):
        return "long", item.evidence.line or 0, item.evidence.offset or 0, b""
    number, offset, raw = item
    return "line", number, offset, raw


def parse_line(raw: bytes, path: str, number: int, offset: int, mtime: datetime) -> JobEvent | None:
    return _parse(raw, path, number, offset, mtime, {}, Messages())


def _parse(
    raw: bytes,
    path: str,
    number: int,
    offset: int,
    mtime: datetime,
    stamps: dict[bytes, datetime | None],
    messages: Messages,
) -> JobEvent | None:
    """`parse_line`, with the times of the timestamps seen before in `stamps` (by the text
    before the host, which holds everything the time is read from) and what the `messages` seen
    before were made into."""
    header = _HEADER.match(raw.rstrip(b"\r\n"))
    if header is None:
        return None
    stamp = raw[: header.start("host")]
    try:
        when = stamps[stamp]
    except KeyError:
        if len(stamps) >= MAX_STAMPS:
            stamps.clear()
        when = stamps[stamp] = _when(header, mtime)
    if when is None:
        return None
    host_bytes, rest_bytes, rfc5424 = header.group("host", "rest", "iso5424")
    host = host_bytes.decode("utf-8", "surrogateescape")
    rest = rest_bytes.decode("utf-8", "surrogateescape")
    if rfc5424:
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
        ident, pid, sub, message = tag.group("ident", "pid", "sub", "msg")
    if ident.rsplit("/", 1)[-1].casefold() not in CRON_IDENTS:
        return None  # before the evidence is made: most keyword lines are other programs'
    host = host.split("/", 1)[0]
    where = evidence(path, host, number, offset)
    local = header.group("iso5424") is None and not _ZONED.search(header.group("iso") or b"")
    return messages.event(when, host, ident, pid, sub, message, where, rest, local)


class Messages:
    """What `parse_message` made of each message seen before in one file. A daemon logs the same
    few messages over and over (a job's CMD line every minute); the event of a message depends
    on its program, message text and zone flag, on whether it has a pid, and on the time, host,
    evidence, line text and pid of the line, which are set anew for every line."""

    MAX_MESSAGES = 4096  # remembered (cleared when full)
    MAX_LENGTH = 1024  # longer messages are not remembered

    def __init__(self) -> None:
        self._made: dict[tuple[str, str | None, str, bool, bool], _Made | None] = {}

    def event(
        self,
        when: datetime,
        host: str,
        ident: str,
        pid: str | None,
        sub: str | None,
        message: str,
        where: Evidence,
        text: str,
        local: bool,
    ) -> JobEvent | None:
        with_pid = bool(pid) and pid != "-"
        key = (ident, sub, message, local, with_pid)
        try:
            made = self._made[key]
        except KeyError:
            event = parse_message(
                when, host, ident, pid, sub, message, where, text, local_time=local
            )
            if len(message) <= self.MAX_LENGTH:
                if len(self._made) >= self.MAX_MESSAGES:
                    self._made.clear()
                self._made[key] = None if event is None else _Made.of(event)
            return event
        if made is None:
            return None
        extra = made.extra.copy()  # the line's own values in their places (the key order stays)
        extra["line_text"] = text
        if with_pid:
            extra["pid"] = pid
        return JobEvent(
            when, host, made.action, made.job_name, where, made.actor, made.command, extra
        )


@dataclass(frozen=True, slots=True)
class _Made:
    """The parts of a message's event that depend on the message only."""

    action: str
    job_name: str
    actor: str | None
    command: str | None
    extra: dict[str, object]

    @classmethod
    def of(cls, event: JobEvent) -> _Made:
        extra = dict(event.extra)  # a copy: the event's own may be changed later
        return cls(event.action, event.job_name, event.actor, event.command, extra)


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
    if not message.startswith("("):  # busybox's `USER u pid n cmd c`, Debian's `Error: ...`
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
        return None
    # `(user) EVENT (detail)`: an upper-case event, or a lower-case `bad ...` (never both)
    cron = _CRON_MSG.match(message)
    if cron is None:
        bad = _BAD_FIELD.match(message)
        if bad is None:
            return None
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
    event, user, detail = cron.group("event", "user", "detail")
    detail = detail or ""
    if not detail:  # `NUMBER OF HARD LINKS > 1 (/etc/cron.d/x)`: the file is the last (...)
        last = _LAST_PARENS.search(cron.group("tail"))
        detail = last.group(1) if last else ""
    if event not in CRON_EVENTS and event.startswith(_EVENT_PREFIXES):
        event = next(e for e in CRON_EVENTS if event.startswith(e))
    found = CRON_EVENTS.get(event)
    if found is None:
        return None  # INFO and other daemon chatter
    action = found
    extra = base  # made for this message: filled in place
    extra["event"] = event
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
