"""Legacy Task Scheduler 1.0 `.job` files (MS-TSCH 2.4): `C:\\Windows\\Tasks\\*.job`.

at.exe wrote `At<n>.job`, the v1 API wrote `<name>.job`, and on current Windows the Task
Compatibility module still watches the folder, so dropping a `.job` file there is a way to register
a task that no schtasks.exe or PowerShell log shows. The file holds the application, parameters,
working directory, author, comment, flags (hidden, disabled, interactive, delete when done...),
the last run time, the exit code and the status, and up to a few dozen 48-byte triggers; the
account it runs as is not in the file. Every length is checked against the file before it is used,
so a truncated file or a 0xFFFF string length is an UNPARSEABLE_JOB issue (reliability.md W10).

References: MS-TSCH 2.4 (.JOB file format); reference/windows.md §0.3;
https://attack.mitre.org/techniques/T1053/005/ and /T1053/002/
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from .definition import DAYS, MONTHS, TaskDefinition, Trigger, exec_action, seconds_duration

FIXED_SIZE = 0x44
TRIGGER_SIZE = 0x30
MAX_TRIGGERS = 1024
MAX_JOB_BYTES = 1 << 20

JOB_FLAGS = {
    0x1: "interactive",
    0x2: "delete_when_done",
    0x4: "disabled",
    0x10: "start_only_if_idle",
    0x20: "kill_on_idle_end",
    0x40: "dont_start_if_on_batteries",
    0x80: "kill_if_going_on_batteries",
    0x100: "run_only_if_docked",
    0x200: "hidden",
    0x400: "run_if_connected_to_internet",
    0x800: "restart_on_idle_resume",
    0x1000: "system_required",
    0x2000: "run_only_if_logged_on",
    0x1000000: "application_name_set",
}
STATUS = {
    0x41300: "ready",
    0x41301: "running",
    0x41302: "disabled",
    0x41303: "has_not_run",
    0x41304: "no_more_runs",
    0x41305: "not_scheduled",
    0x41306: "terminated",
    0x41307: "no_valid_triggers",
}
PRIORITY = {0x20: "normal", 0x40: "idle", 0x80: "high", 0x100: "realtime"}
TRIGGER_KINDS = ("time", "daily", "weekly", "monthly", "monthly_dow", "idle", "boot", "logon")
WEEKS = ("1", "2", "3", "4", "Last")


class JobError(Exception):
    """The file is not a readable .job file."""


@dataclass(frozen=True, slots=True)
class JobFile:
    definition: TaskDefinition
    flags: tuple[str, ...]
    status: str
    exit_code: int
    last_run: datetime | None
    product_version: int
    uuid: str
    priority: str | None
    max_run_time_ms: int
    details: dict[str, object] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if size < 0 or end > len(self.data):
            raise JobError(
                f"{what} needs {size} bytes at offset {self.offset}, but the file has "
                f"{len(self.data)} bytes"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def u16(self, what: str) -> int:
        value: int = struct.unpack("<H", self.take(2, what))[0]
        return value

    def text(self, what: str) -> str:
        count = self.u16(f"{what} length")
        raw = self.take(count * 2, what)
        return raw.decode("utf-16-le", "replace").split("\x00", 1)[0]


def parse_job(data: bytes) -> JobFile:
    """A .job file; JobError when any part of it does not fit the file."""
    if len(data) < FIXED_SIZE:
        raise JobError(f"{len(data)} bytes: shorter than the {FIXED_SIZE}-byte fixed section")
    (
        product,
        file_version,
        uuid_bytes,
        name_offset,
        triggers_offset,
        retry_count,
        retry_interval,
        idle_deadline,
        idle_wait,
        priority,
        max_run,
        exit_code,
        status,
        flags,
        *run,
    ) = struct.unpack("<HH16sHHHHHHIIIII8H", data[:FIXED_SIZE])
    if file_version != 1:
        raise JobError(f"file version {file_version}, expected 1")
    reader = _Reader(data, FIXED_SIZE)
    running = reader.u16("running instance count")
    if name_offset != reader.offset:
        reader.offset = name_offset
    application = reader.text("application name")
    parameters = reader.text("parameters")
    working_dir = reader.text("working directory")
    author = reader.text("author")
    comment = reader.text("comment")
    user_data = reader.take(reader.u16("user data size"), "user data")
    reserved = reader.take(reader.u16("reserved data size"), "reserved data")
    if triggers_offset and triggers_offset != reader.offset:
        reader.offset = triggers_offset
    count = reader.u16("trigger count")
    if count > MAX_TRIGGERS:
        raise JobError(f"{count} triggers: more than {MAX_TRIGGERS}")
    triggers = tuple(
        _trigger(reader.take(TRIGGER_SIZE, f"trigger {i + 1}"), max_run) for i in range(count)
    )
    names = tuple(name for bit, name in JOB_FLAGS.items() if flags & bit)
    registration = {k: v for k, v in (("author", author), ("description", comment)) if v}
    settings: dict[str, str] = {}
    if max_run not in (0, 0xFFFFFFFF):
        settings["ExecutionTimeLimit"] = seconds_duration(max_run // 1000)
    if retry_count:
        settings["RestartOnFailure/Count"] = str(retry_count)
        settings["RestartOnFailure/Interval"] = seconds_duration(retry_interval * 60)
    if idle_wait or idle_deadline:
        settings["IdleSettings/Duration"] = seconds_duration(idle_wait * 60)
        settings["IdleSettings/WaitTimeout"] = seconds_duration(idle_deadline * 60)
    definition = TaskDefinition(
        store="job",
        registration=registration,
        triggers=triggers,
        actions=(exec_action(application, parameters, working_dir),) if application else (),
        enabled=not flags & 0x4,
        hidden=bool(flags & 0x200),
        settings=settings,
    )
    details: dict[str, object] = {"running_instances": running}
    if user_data:
        details["user_data_size"] = len(user_data)
    if len(reserved) == 8:
        start_error, _task_flags = struct.unpack("<II", reserved)
        if start_error:
            details["start_error"] = f"0x{start_error:08X}"
    rest = len(data) - reader.offset
    if rest >= 4:
        details["signature_present"] = True
    return JobFile(
        definition=definition,
        flags=names,
        status=STATUS.get(status, f"0x{status:08X}"),
        exit_code=exit_code,
        last_run=_systemtime(run),
        product_version=product,
        uuid=_guid(uuid_bytes),
        priority=PRIORITY.get(priority & 0x1E0),
        max_run_time_ms=max_run,
        details=details,
    )


def _trigger(raw: bytes, max_run: int) -> Trigger:
    (
        _size,
        _reserved,
        begin_year,
        begin_month,
        begin_day,
        end_year,
        end_month,
        end_day,
        hour,
        minute,
        duration,
        interval,
        flags,
        kind,
        specific0,
        specific1,
        specific2,
        *_rest,
    ) = struct.unpack("<10HIIII6H", raw)
    start = _date(begin_year, begin_month, begin_day, hour, minute)
    end = _date(end_year, end_month, end_day, 0, 0) if flags & 0x1 else None
    name = TRIGGER_KINDS[kind] if kind < len(TRIGGER_KINDS) else "unknown"
    base = Trigger(
        name,
        enabled=not flags & 0x4,
        start=start,
        end=end,
        repetition_interval=seconds_duration(interval * 60) if interval else None,
        repetition_duration=seconds_duration(duration * 60) if interval and duration else None,
        stop_at_duration_end=bool(flags & 0x2),
        time_limit=seconds_duration(max_run // 1000) if max_run not in (0, 0xFFFFFFFF) else None,
        detail=f"trigger type {kind}" if name == "unknown" else None,
    )
    if name == "daily":
        return replace(base, every=max(specific0, 1))
    if name == "weekly":
        return replace(base, every=max(specific0, 1), days_of_week=_bits(specific1, DAYS))
    if name == "monthly":
        days = tuple(str(d + 1) for d in range(31) if (specific0 | specific1 << 16) & (1 << d))
        return replace(base, days_of_month=days, months=_bits(specific2, MONTHS))
    if name == "monthly_dow":
        week = WEEKS[specific0 - 1] if 1 <= specific0 <= 5 else str(specific0)
        return replace(
            base,
            weeks=(week,),
            days_of_week=_bits(specific1, DAYS),
            months=_bits(specific2, MONTHS),
        )
    return base


def _bits(mask: int, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for index, name in enumerate(names) if mask & (1 << index))


def _date(year: int, month: int, day: int, hour: int, minute: int) -> str | None:
    try:
        return datetime(year, month, day, hour, minute).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


def _systemtime(parts: list[int]) -> datetime | None:
    """The last-run SYSTEMTIME (year, month, weekday, day, hour, minute, second, ms), local time
    of the host; reported as if it were UTC since the host's zone is not in the file."""
    year, month, _weekday, day, hour, minute, second, millis = parts
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError:
        return None


def _guid(raw: bytes) -> str:
    first, second, third = struct.unpack("<IHH", raw[:8])
    tail = raw[8:].hex()
    return f"{{{first:08X}-{second:04X}-{third:04X}-{tail[:4].upper()}-{tail[4:].upper()}}}"
