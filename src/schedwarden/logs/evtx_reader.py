"""EVTX → `JobEvent`s through the `evtx` package (a Rust parser): Security task auditing
(4698-4702, 4624 network logons, 4688, 5145 on `atsvc`), TaskScheduler/Operational, and Sysmon
1/11/12/13/14 about tasks.

Records no analytic needs are left out before the parser renders them (`evtx_select`, from
their binary form); the rendered ones are filtered again on their event id (and, for the noisy
process and registry ids, on a keyword) in their JSON text before it is decoded, so records no
analytic needs are never turned into Python objects. A file whose Security records register tasks
is read a second time for the processes that ran them (`task_runs`). A file is read whole up to
IN_MEMORY bytes, else WINDOW_CHUNKS chunks at a time, each part chosen and parsed as a file of
its own. A chunk the parser rejects and a file shorter than its header says are Issues with the
file and offset; a per-file time budget stops a parse that runs too long.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache, partial
from sys import intern
from typing import Any, BinaryIO

import evtx
import orjson

from ..collectors.windows.definition import split_arguments
from ..model import Evidence, ExecAction, Issue, JobEvent, ScheduledJob
from .evtx_guard import (
    CHUNK_SIZE,
    HEADER_SIZE,
    check_depth,
    cut_link_cycles,
    failed_record_offset,
    record_offset,
)
from .evtx_select import RecordChooser
from .files import evidence, issue
from .line_search import holds_any
from .task_content import task_from_content
from .task_runs import PROCESS_IDS, ActionRuns

SECURITY = "Security"
TASK_OPERATIONAL = "Microsoft-Windows-TaskScheduler/Operational"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
MAX_COMPRESSED_EVTX = 1 << 30
IN_MEMORY = 64 << 20  # files up to this size are read into memory once (most are 1 to 20 MiB)

SECURITY_TASK_ACTIONS = {
    4698: "registered",
    4699: "deleted",
    4700: "enabled",
    4701: "disabled",
    4702: "updated",
}
OPERATIONAL_ACTIONS = {
    106: "registered",
    140: "updated",
    141: "deleted",
    142: "disabled",
    100: "started",
    102: "finished",
    107: "launched",
    108: "launched",
    109: "launched",
    110: "launched",
    117: "launched",
    118: "launched",
    119: "launched",
    129: "process_created",
    200: "action_started",
    201: "action_completed",
    101: "failed",
    103: "failed",
    202: "failed",
    203: "failed",
    111: "terminated",
    329: "terminated",
    146: "failed",
    153: "missed",
    332: "failed",
}
# The Task Scheduler as a process's parent: its service's svchost (`-s Schedule`, in Sysmon's
# ParentCommandLine) or its hosts (taskeng.exe before Windows 8, taskhostw.exe after). Not
# Windows 7's taskhost.exe, the parent of what COM-handler tasks start: it runs all the time, and
# its own process records would all be rendered.
_SCHEDULER_HOSTS = ("\\taskeng.exe", "\\taskhostw.exe")
_SCHEDULE_SERVICE = re.compile(r"\s-s\s+schedule(?:\s|$)", re.IGNORECASE)
# A task tool in the process's image or command line, or the Task Scheduler as its parent
_PROCESS = (
    "schtasks",
    "\\\\at.exe",
    "scheduledtask",
    "crontab",
    *(host.replace("\\", "\\\\") for host in _SCHEDULER_HOSTS),  # as the JSON text has them
    "-s schedule",
)
_PROCESS_FIELDS = (
    '"Image":',
    '"NewProcessName":',
    '"CommandLine":',
    '"ParentImage":',
    '"ParentProcessName":',
    '"ParentCommandLine":',
)
FIELD_SLICE = 2048
# Ids only some records of which matter: one of the words must appear in one of the fields
# (lowercased, their first FIELD_SLICE characters), found in the record's JSON text before it
# is decoded. Words are as the JSON text has them (a backslash doubled); a pattern is matched
# at the start of the field.
KEYWORDS: Mapping[int, tuple[tuple[str, ...], tuple[str, ...] | re.Pattern[str]]] = {
    1: (_PROCESS_FIELDS, _PROCESS),
    4688: (_PROCESS_FIELDS, _PROCESS),
    11: (('"TargetFilename":',), ("\\\\tasks\\\\",)),
    12: (('"TargetObject":',), ("taskcache",)),
    13: (('"TargetObject":',), ("taskcache",)),
    14: (('"TargetObject":',), ("taskcache",)),
    4624: (('"LogonType":',), re.compile(r'"logontype":"?3\b')),
    5145: (('"RelativeTargetName":',), ("atsvc",)),
}
_XML_FIELDS = frozenset({"TaskContent", "TaskContentNew"})
# Field names, and values up to this length (SIDs, user names, flags), are kept as one string
# object each: a file's events pickle them once (a child sends them so), and use less memory.
_SHARED_TEXT = 40
WANTED = frozenset({*SECURITY_TASK_ACTIONS, *OPERATIONAL_ACTIONS, *KEYWORDS})
_SEARCHED = {id: words for id, (_, words) in KEYWORDS.items() if isinstance(words, tuple)}
# Records of other ids are not rendered at all; of these, only those holding one of the words
CHOOSER = RecordChooser(
    always=WANTED - _SEARCHED.keys(),
    searched={id: {json.loads(f'"{word}"') for word in words} for id, words in _SEARCHED.items()},
)
# the id alone, or the text of an EventID with attributes (Qualifiers, in System logs)
_EVENT_ID = re.compile(r'"EventID":(?:\{(?:[^{}]|\{[^{}]*\})*"#text":)?"?(\d+)')
_TASKS_FOLDER = re.compile(r"\\(?:system32|syswow64)?\\?tasks\\(.+)$", re.IGNORECASE)
_TREE = re.compile(r"\\TaskCache\\Tree(\\.*?)(?:\\(SD|Index|Id))?$", re.IGNORECASE)


def read_evtx(
    path: str, stream: BinaryIO, compressed: bool, budget: float
) -> Iterator[JobEvent | Issue]:
    """Every task event of one EVTX file, then Issues for what could not be read."""
    data: bytes | None = None
    if compressed:
        data = stream.read(MAX_COMPRESSED_EVTX + 1)
        if len(data) > MAX_COMPRESSED_EVTX:
            yield issue(
                "LOG_OVERSIZED",
                f"decompressed EVTX larger than {MAX_COMPRESSED_EVTX} bytes: not parsed",
                path,
            )
            return
    elif _size(stream) <= IN_MEMORY:  # read once: the checks below and the parser read it all
        data = stream.read()
    # `source`, as the file has it, locates records for Issues
    source: BinaryIO = stream if data is None else io.BytesIO(data)
    truncated = _truncation(source)
    if truncated is not None:
        yield truncated_issue(path, *truncated)
    chunks, bad = _chunk_offsets(source)
    for position in bad:
        yield issue(
            "LOG_CORRUPT",
            "EVTX chunk header not recognised; its records are lost",
            path,
            offset=position,
        )
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    if not chunks and size > HEADER_SIZE:
        yield issue("LOG_CORRUPT", "EVTX file with no readable chunk", path, offset=HEADER_SIZE)
    reading = _Reading(path, source, chunks, budget)
    for read_part in (reading.part, reading.runs):  # then the processes that ran its tasks
        if read_part == reading.runs and not reading.actions.actions:
            return  # no task registered here
        for first, part in [(0, data)] if data is not None else _windows(source):
            yield from read_part(first, part)
            if reading.stopped:
                return


WINDOW_CHUNKS = 1024  # a file bigger than IN_MEMORY is read this many chunks (64 MiB) at a time


def _windows(source: BinaryIO) -> Iterator[tuple[int, bytearray]]:
    """A big file as EVTX files of WINDOW_CHUNKS chunks each: its header and those chunks, with
    the number of the first one in the file. A chunk's records never refer to another chunk.
    Each part is read into the same buffer: one is done with before the next is read."""
    source.seek(0)
    header = source.read(HEADER_SIZE)
    buffer = bytearray(len(header) + WINDOW_CHUNKS * CHUNK_SIZE)
    buffer[: len(header)] = header
    for first in itertools.count(0, WINDOW_CHUNKS):
        source.seek(HEADER_SIZE + first * CHUNK_SIZE)
        with memoryview(buffer) as view:
            read = _read_into(source, view[len(header) :])
        if not read:
            return
        if read < WINDOW_CHUNKS * CHUNK_SIZE:  # the end of the file
            del buffer[len(header) + read :]
        yield first, buffer


def _read_into(source: BinaryIO, view: memoryview) -> int:
    """Bytes of `source` read into `view`, until it is full or the stream ends."""
    readinto = getattr(source, "readinto", None)
    done = 0
    while done < len(view):
        if readinto is not None:
            count = readinto(view[done:])
        else:
            data = source.read(len(view) - done)
            view[done : done + len(data)] = data
            count = len(data)
        if not count:
            break
        done += count
    return done


class _Reading:
    """The reading of one file, part after part (the whole file, or `_windows` of a big one):
    records no analytic needs are skipped unrendered (`evtx_select`), Issues are located in
    the file, and the time budget counts from the first part. A second pass (`runs`) reads the
    process records that may be runs of the tasks the file registers (`task_runs`)."""

    def __init__(
        self, path: str, source: BinaryIO, chunks: Mapping[int, int], budget: float
    ) -> None:
        self.path, self.source, self.chunks, self.budget = path, source, chunks, budget
        self.started = time.monotonic()
        self.following = min(chunks, default=None)  # the id of the record after the last read
        self.stopped = False  # the rest of the file is not to be read
        self.actions = ActionRuns()

    def part(self, first: int, data: bytes | bytearray) -> Iterator[JobEvent | Issue]:
        """The events of a part: the file's header and its chunks from number `first` on."""
        for found in self._records(first, data, CHOOSER, _wanted):
            if isinstance(found, Issue):
                yield found
                continue
            for made in _events(self.path, *found):
                if isinstance(made, JobEvent):
                    self.actions.note(made)
                yield made

    def runs(self, first: int, data: bytes | bytearray) -> Iterator[JobEvent | Issue]:
        """The task processes of a part found by the actions of the tasks the file registers
        (after `part` read the whole file). Its Issues were given by `part`, but running out of
        time."""
        chooser = self.actions.chooser(CHOOSER.walked)
        if chooser is None:
            return
        handler = partial(_action_run, self.actions)
        for found in self._records(first, data, chooser, _a_process):
            if not isinstance(found, Issue):
                yield from _events(self.path, *found, handler)
            elif found.code == "LOG_TIME_BUDGET":  # the others `part` gave already
                yield found

    def _records(
        self,
        first: int,
        data: bytes | bytearray,
        chooser: RecordChooser,
        wanted: Callable[[int, str], bool],
    ) -> Iterator[tuple[int, int, Any] | Issue]:
        """(record id, event id, decoded `Event`) of the records of a part the chooser keeps and
        `wanted(event id, JSON text)` takes, and the Issues of what cannot be read."""
        path, source, chunks = self.path, self.source, self.chunks
        chosen = chooser.choose_in_file(data)
        read = chosen.numbers
        if read is None:  # every chunk of the part, as it is
            read = list(range(-(-max(0, len(data) - HEADER_SIZE) // CHUNK_SIZE)))
        numbers = [first + number for number in read]  # each chunk's number in the file
        parsed, cycles = cut_link_cycles(  # L03: the parser would loop on them
            path, io.BytesIO(chosen.data), partial(_file_offset, numbers)
        )
        yield from cycles
        try:
            parser = evtx.PyEvtxParser(parsed)
        except (OSError, RuntimeError, ValueError) as error:
            yield issue("LOG_CORRUPT", f"not a readable EVTX file: {error}", path, offset=0)
            self.stopped = True
            return
        except BaseException as error:
            yield _panic(path, error, following=None, source=source, chunks=chunks)
            self.stopped = True
            return
        records = parser.records_json()
        while True:
            if time.monotonic() - self.started > self.budget:
                yield issue(
                    "LOG_TIME_BUDGET",
                    f"parsing stopped after {self.budget:g} s; later records not read",
                    path,
                )
                self.stopped = True
                return
            try:
                record = next(records)
            except StopIteration:
                return
            except (RuntimeError, OSError, ValueError) as error:
                yield issue(
                    "LOG_CORRUPT",
                    f"EVTX record or chunk skipped: {_in_file(str(error), numbers)}",
                    path,
                    offset=_chunk_offset(str(error), chunks, numbers)
                    or failed_record_offset(source, str(error), chunks)
                    # an error that names no record (a record size of 0): the one after the last
                    or (
                        None
                        if self.following is None
                        else record_offset(source, chunks, self.following)
                    ),
                )
                continue
            except BaseException as error:
                yield _panic(path, error, self.following, source, chunks)
                self.stopped = True
                return
            if not isinstance(record, dict):
                continue
            record_id = int(record["event_record_id"])
            # after the records it covers now
            self.following = chosen.spans.get(record_id, record_id) + 1
            text = str(record["data"])
            match = _EVENT_ID.search(text)
            if match is None or not wanted(event_id := int(match.group(1)), text):
                continue
            try:
                event = _decoded(text)["Event"]
                check_depth(text, event)  # L03: deeper records break json and our output
            except (ValueError, KeyError, TypeError, RecursionError) as error:
                yield issue(
                    "LOG_CORRUPT",
                    f"record {record_id} not decodable: {error}",
                    path,
                    offset=record_offset(source, chunks, record_id),
                )
                continue
            yield record_id, event_id, event


def _wanted(event_id: int, text: str) -> bool:
    """Whether a rendered record is one an analytic needs: its id, and for the noisy ids a
    keyword in its fields."""
    if event_id not in WANTED:
        return False
    keywords = KEYWORDS.get(event_id)
    return keywords is None or _mentions(text, *keywords)


def _a_process(event_id: int, text: str) -> bool:
    return event_id in PROCESS_IDS


def _decoded(text: str) -> Any:
    """A record's JSON text decoded by orjson (twice as fast as `json`), or by `json` where
    orjson refuses it (a lone surrogate escaped, NaN, nesting past its limit), for the same
    values or error. The one difference, integers past 64 bits (orjson makes them floats), does
    not arise: the parser writes integers of BinXML's types, 64 bits at most."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _in_file(message: str, numbers: Sequence[int]) -> str:
    """The parser's message with the number of the chunk it names as the file numbers it (the
    parser counts the chunks it read, which may be some of the file's only)."""

    def renumbered(match: re.Match[str]) -> str:
        read = int(match.group(1))
        return match.group(0) if read >= len(numbers) else f"chunk number {numbers[read]}"

    return _CHUNK_NUMBER.sub(renumbered, message, count=1)


_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")


def _file_offset(numbers: Sequence[int], position: int) -> int:
    """The file offset of `position` in a part whose chunks are the file's chunks `numbers`."""
    index, within = divmod(position - HEADER_SIZE, CHUNK_SIZE)
    number = numbers[index] if 0 <= index < len(numbers) else index
    return HEADER_SIZE + number * CHUNK_SIZE + within


def _panic(
    path: str,
    error: BaseException,
    following: int | None,
    source: BinaryIO,
    chunks: Mapping[int, int],
) -> Issue:
    """The Issue of a Rust panic in the parser (pyo3 raises `PanicException`, which derives
    from BaseException, not Exception): the rest of the file is not read, the hunt goes on.
    An interrupt or an exit is raised again."""
    if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
        raise error
    return issue(
        "LOG_CORRUPT",
        f"the EVTX parser failed ({type(error).__name__}: {error}); the rest of the file is "
        "not read",
        path,
        offset=None if following is None else record_offset(source, chunks, following),
    )


def _mentions(text: str, fields: tuple[str, ...], words: tuple[str, ...] | re.Pattern[str]) -> bool:
    """Whether one of `words` is in the lowercased first FIELD_SLICE characters of one of
    `fields` (from the field's name on), or `words` matches there."""
    if isinstance(words, re.Pattern):
        for name in fields:
            start = text.find(name)
            if start >= 0 and words.match(text[start : start + FIELD_SLICE].lower()):
                return True
        return False
    try:
        # One byte per character, so offsets stay; no Latin-1 letter lowercases to ASCII,
        # so the ASCII words are found exactly where the lowercased text has them.
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        return _mentions_text(text, fields, words)
    if not holds_any(data, _ascii(words)):  # most records
        return False
    low = data.lower()
    found = [word for word in _ascii(words) if word in low]
    if not found:
        return False
    for name in fields:
        start = text.find(name)
        if start >= 0 and any(low.find(w, start, start + FIELD_SLICE) >= 0 for w in found):
            return True
    return False


def _mentions_text(text: str, fields: tuple[str, ...], words: tuple[str, ...]) -> bool:
    for name in fields:
        start = text.find(name)
        if start >= 0:
            window = text[start : start + FIELD_SLICE].lower()
            if any(word in window for word in words):
                return True
    return False


@lru_cache(maxsize=64)
def _ascii(words: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(word.encode("ascii") for word in words)


def _size(stream: BinaryIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return IN_MEMORY + 1  # not a file: read as a stream


def truncated_issue(path: str, expected: int, actual: int) -> Issue:
    return issue(
        "LOG_TRUNCATED",
        f"EVTX header announces {expected} bytes of chunks but the file has {actual}; records "
        "after the last whole chunk are lost",
        path,
        offset=actual,
    )


def _truncation(stream: BinaryIO) -> tuple[int, int] | None:
    """(expected, actual) sizes when the file ends before the chunks its header counts."""
    head = stream.read(HEADER_SIZE)
    end = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if len(head) < 0x2C or not head.startswith(b"ElfFile\x00"):
        return None
    (chunks,) = struct.unpack_from("<H", head, 0x2A)
    expected = HEADER_SIZE + chunks * CHUNK_SIZE
    return (expected, end) if end < expected else None


def _chunk_offsets(stream: BinaryIO) -> tuple[dict[int, int], list[int]]:
    """First record id of each chunk → the chunk's offset in the file (from the chunk headers),
    and the offsets of chunks whose header is neither a chunk's nor unused (all zeros)."""
    offsets: dict[int, int] = {}
    bad: list[int] = []
    position = HEADER_SIZE
    while True:
        stream.seek(position)
        head = stream.read(16)
        if len(head) < 16:
            break
        if head.startswith(b"ElfChnk\x00"):
            (first,) = struct.unpack_from("<Q", head, 8)
            offsets.setdefault(first, position)
        elif head.strip(b"\x00"):
            bad.append(position)
        position += CHUNK_SIZE
    stream.seek(0)
    return offsets, bad


def _chunk_offset(message: str, chunks: Mapping[int, int], numbers: Sequence[int]) -> int | None:
    """The offset of the chunk an error of the parser names by its number (of the chunks it
    read: `numbers` gives each one's number in the file) or by its record ids."""
    number = _CHUNK_NUMBER.search(message)
    if number is not None:
        read = int(number.group(1))
        return None if read >= len(numbers) else HEADER_SIZE + numbers[read] * CHUNK_SIZE
    match = re.search(r"record IDs (\d+)", message)
    return None if match is None else chunks.get(int(match.group(1)))


def _events(
    path: str,
    record_id: int,
    event_id: int,
    event: Mapping[str, Any],
    handler: Handler | None = None,
) -> Iterator[JobEvent | Issue]:
    """The events of a record: by its channel and id's handler, or by `handler`."""
    system = event.get("System") or {}
    channel = intern(str(system.get("Channel") or ""))
    data = event.get("EventData") or {}
    if not isinstance(data, Mapping):
        data = {}
    host = intern(str(system.get("Computer") or ""))
    when = _time(system)
    where = _evidence(path, host)
    base: dict[str, object] = {
        "channel": channel,
        "event_id": event_id,
        "record_id": record_id,
        # the record's fields as the log gave them (the task XML is in `definition.raw`)
        "event_data": {
            intern(k): intern(v) if v.__class__ is str and len(v) <= _SHARED_TEXT else v
            for k, v in data.items()
            if k not in _XML_FIELDS
        },
    }

    def make(
        action: str,
        name: str,
        actor: str | None = None,
        command: str | None = None,
        **extra: object,
    ) -> JobEvent:
        return JobEvent(
            when,
            host,
            action,
            name,
            where,
            actor,
            command,
            {**base, **{k: v for k, v in extra.items() if v not in (None, "")}},
        )

    handler = handler or _HANDLERS.get((channel, event_id))
    if handler is None and channel == SYSMON:
        handler = _HANDLERS.get(("sysmon", event_id))
    if handler is None:
        return
    yield from handler(data, make, path)


Make = Callable[..., JobEvent]
Handler = Callable[[Mapping[str, Any], Make, str], Iterator[JobEvent | Issue]]


@lru_cache(maxsize=64)
def _evidence(path: str, host: str) -> Evidence:
    """The evidence of a file's records: one object for those of a host (most files have one),
    which a child then sends once for all of them. Evidence is immutable."""
    return evidence(path, host)


def _s(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _actor(data: Mapping[str, Any], prefix: str = "Subject") -> str | None:
    user = _s(data, f"{prefix}UserName")
    domain = _s(data, f"{prefix}DomainName")
    if not user:
        return None
    return f"{domain}\\{user}" if domain and domain != "-" else user


def _security_task(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent | Issue]:
    name = _s(data, "TaskName")
    content = _s(data, "TaskContentNew") or _s(data, "TaskContent")
    event = make("", name, _actor(data), None, logon_id=_s(data, "SubjectLogonId").lower())
    action = SECURITY_TASK_ACTIONS[int(event.extra["event_id"])]  # type: ignore[call-overload]
    job: ScheduledJob | None = None
    if content.strip():
        parsed = task_from_content(name, content, event.evidence)
        if isinstance(parsed, ScheduledJob):
            job = parsed
        else:
            yield issue(
                f"TASK_CONTENT_{parsed.code}",
                f"record {event.extra['record_id']}: task XML of {name!r}: {parsed.message}",
                path,
            )
    command = _command(job) if job is not None else None
    extra: dict[str, object] = dict(event.extra)
    for key in ("ClientProcessId", "ParentProcessId", "RpcCallClientLocality", "FQDN"):
        if _s(data, key):
            extra[key[0].lower() + key[1:]] = _s(data, key)
    if job is not None:
        extra["definition"] = job
    yield JobEvent(
        event.time, event.host, action, name, event.evidence, event.actor, command, extra
    )


def _command(job: ScheduledJob) -> str | None:
    parts = [a.command_line for a in job.actions if isinstance(a, ExecAction)]
    if not parts:
        parts = [
            f"{a.kind}: {getattr(a, 'class_id', '') or getattr(a, 'detail', '')}"
            for a in job.actions
        ]
    return " && ".join(parts) or None


def _logon(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    yield make(
        "logon",
        "",
        _actor(data, "Target"),
        None,
        logon_id=_s(data, "TargetLogonId").lower(),
        logon_type=_s(data, "LogonType"),
        source_address=_s(data, "IpAddress"),
        workstation=_s(data, "WorkstationName"),
    )


def _share(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    if _s(data, "RelativeTargetName").casefold().strip("\\") != "atsvc":
        return
    yield make(
        "atsvc_access",
        "",
        _actor(data),
        None,
        logon_id=_s(data, "SubjectLogonId").lower(),
        source_address=_s(data, "IpAddress"),
        share=_s(data, "ShareName"),
    )


def _operational(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    event = make("", "")
    action = OPERATIONAL_ACTIONS[int(event.extra["event_id"])]  # type: ignore[call-overload]
    actor = _s(data, "UserContext") or _s(data, "UserName") or None
    command = _s(data, "ActionName") or _s(data, "Path") or None
    yield make(
        action,
        _s(data, "TaskName"),
        actor,
        command,
        instance_id=_s(data, "InstanceId") or _s(data, "TaskInstanceId"),
        result_code=_s(data, "ResultCode"),
        process_id=_s(data, "ProcessID"),
    )


def _process(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    """A task tool run (`parse_command`), or a process the Task Scheduler started: a task's
    action running (`task_process`; the record does not name the task: TaskScheduler event 129
    gives the task and this process id)."""
    image = _s(data, "Image") or _s(data, "NewProcessName")
    line = _s(data, "CommandLine")
    intent = parse_command(image, line)
    if intent is not None:
        action, name, command, extra = intent
        yield _process_event(data, make, action, name, command, extra)
    elif launched_by_scheduler(
        _s(data, "ParentImage") or _s(data, "ParentProcessName"), _s(data, "ParentCommandLine")
    ):
        yield _task_process(data, make, "")


def _action_run(
    runs: ActionRuns, data: Mapping[str, Any], make: Make, path: str
) -> Iterator[JobEvent]:
    """A process record that is a run of a task registered earlier in the file (`task_runs`):
    a task process named after that task."""
    found = make("task_process", "")
    action = runs.run_of(found.extra["record_id"], found.host, found.time, data)
    if action is not None:
        yield _task_process(data, make, action.task, action_of=action.record_id)


def _task_process(data: Mapping[str, Any], make: Make, name: str, **extra: object) -> JobEvent:
    line = _s(data, "CommandLine")
    details: dict[str, object] = {
        "parent_command_line": _s(data, "ParentCommandLine"),
        "process_id": _process_id(data),
        **extra,
    }
    command = line or _s(data, "Image") or _s(data, "NewProcessName")
    return _process_event(data, make, "task_process", name, command, details)


def _process_event(
    data: Mapping[str, Any],
    make: Make,
    action: str,
    name: str,
    command: str | None,
    extra: Mapping[str, object],
) -> JobEvent:
    return make(
        action,
        name,
        _s(data, "User") or _actor(data),
        command,
        command_line=_s(data, "CommandLine"),
        image=_s(data, "Image") or _s(data, "NewProcessName"),
        parent_image=_s(data, "ParentImage") or _s(data, "ParentProcessName"),
        logon_id=(_s(data, "LogonId") or _s(data, "SubjectLogonId")).lower(),
        **extra,
    )


def launched_by_scheduler(parent_image: str, parent_command_line: str) -> bool:
    """Whether a process's parent is the Task Scheduler: the svchost of its service (`-s
    Schedule`: Sysmon gives the parent's command line, Security 4688 does not) or one of the
    hosts it runs tasks in."""
    image = parent_image.replace("/", "\\").casefold()
    return image.endswith(_SCHEDULER_HOSTS) or (
        image.endswith("\\svchost.exe")
        and _SCHEDULE_SERVICE.search(parent_command_line) is not None
    )


def _process_id(data: Mapping[str, Any]) -> str:
    """The process id as a decimal number (Sysmon writes it so, Security 4688 in hexadecimal).
    4688 calls it NewProcessId: its ProcessId is the creator's."""
    value = _s(data, "NewProcessId") or _s(data, "ProcessId")
    try:
        return str(int(value, 16)) if value.lower().startswith("0x") else str(int(value))
    except ValueError:
        return value


def _file(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    target = _s(data, "TargetFilename")
    match = _TASKS_FOLDER.search(target)
    if match is None:
        return
    yield make(
        "file_written", "\\" + match.group(1), None, None, target=target, image=_s(data, "Image")
    )


def _registry(data: Mapping[str, Any], make: Make, path: str) -> Iterator[JobEvent]:
    target = _s(data, "TargetObject")
    kind = _s(data, "EventType")
    match = _TREE.search(target)
    name = match.group(1) if match else ""
    value = (match.group(2) or "") if match else ""
    action = {
        "deletevalue": "registry_value_deleted",
        "deletekey": "registry_key_deleted",
        "setvalue": "registry_value_set",
        "createkey": "registry_key_created",
        "renamekey": "registry_key_renamed",
    }.get(kind.casefold(), "registry_changed")
    yield make(
        action,
        name,
        None,
        None,
        target=target,
        value=value,
        details=_s(data, "Details"),
        image=_s(data, "Image"),
    )


# ---------------------------------------------------------------------------------------------
# Command lines that create, change, run or delete tasks


_SCHTASKS_VERBS = {
    "/create": "cmd_create",
    "/delete": "cmd_delete",
    "/change": "cmd_change",
    "/run": "cmd_run",
    "/end": "cmd_end",
    "/query": "cmd_query",
}
_SCHTASKS_OPTIONS = {
    "/tn": "task",
    "/tr": "task_run",
    "/sc": "schedule",
    "/mo": "modifier",
    "/ru": "run_as",
    "/xml": "xml",
    "/s": "remote_host",
    "/st": "start_time",
}


def parse_command(image: str, line: str) -> tuple[str, str, str | None, dict[str, object]] | None:
    """(action, task name, command, details) of a schtasks, at, crontab or
    Register-ScheduledTask command line; None for any other process."""
    exe = image.replace("/", "\\").rsplit("\\", 1)[-1].casefold()
    words = split_arguments(line)
    lowered = [w.casefold() for w in words]
    if exe == "schtasks.exe" or any(w.endswith(("schtasks", "schtasks.exe")) for w in lowered):
        start = next(
            (i for i, w in enumerate(lowered) if w.endswith(("schtasks", "schtasks.exe"))), -1
        )
        args, low = words[start + 1 :], lowered[start + 1 :]
        action = next((_SCHTASKS_VERBS[w] for w in low if w in _SCHTASKS_VERBS), None)
        if action is None:
            return None
        options: dict[str, object] = {"tool": "schtasks"}
        for index, word in enumerate(low[:-1]):
            key = _SCHTASKS_OPTIONS.get(word)
            if key is not None:
                options[key] = args[index + 1]
        options["force"] = "/f" in low or None
        name = str(options.get("task", ""))
        if name and not name.startswith("\\"):
            name = "\\" + name
        task_run = options.get("task_run")
        return action, name, str(task_run) if task_run else None, options
    if exe == "at.exe" or (lowered and lowered[0] in ("at", "at.exe")):
        start = (
            0
            if exe != "at.exe"
            else (1 if lowered and lowered[0].endswith(("at", "at.exe")) else 0)
        )
        args = words[start:]
        command_words = [w for w in args if not w.startswith("/") and ":" not in w]
        if not args:
            return None
        return "cmd_create", "\\At", " ".join(command_words) or None, {"tool": "at"}
    if "register-scheduledtask" in line.casefold():
        match = re.search(r"-TaskName\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))", line, re.IGNORECASE)
        name = next((g for g in match.groups() if g), "") if match else ""
        return "cmd_create", "\\" + name.lstrip("\\") if name else "", None, {"tool": "powershell"}
    if exe == "crontab" or (lowered and lowered[0].rsplit("/", 1)[-1] == "crontab"):
        flag = next((w for w in lowered[1:] if w in ("-r", "-e", "-l")), None)
        action = {"-r": "crontab_deleted", "-e": "crontab_edit", "-l": "crontab_listed"}.get(
            flag or "", "crontab_replaced"
        )
        return action, "crontab", None, {"tool": "crontab"}
    return None


_HANDLERS: dict[tuple[str, int], Handler] = {
    **{(SECURITY, i): _security_task for i in SECURITY_TASK_ACTIONS},
    (SECURITY, 4624): _logon,
    (SECURITY, 5145): _share,
    (SECURITY, 4688): _process,
    **{(TASK_OPERATIONAL, i): _operational for i in OPERATIONAL_ACTIONS},
    ("sysmon", 1): _process,
    ("sysmon", 11): _file,
    ("sysmon", 12): _registry,
    ("sysmon", 13): _registry,
    ("sysmon", 14): _registry,
}


def _time(system: Mapping[str, Any]) -> datetime:
    created = system.get("TimeCreated") or {}
    text = ""
    if isinstance(created, Mapping):
        attributes = created.get("#attributes") or {}
        text = str(attributes.get("SystemTime") or "") if isinstance(attributes, Mapping) else ""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
