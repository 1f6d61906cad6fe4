"""The binary values of `TaskCache\\Tasks\\{GUID}`: Actions, Triggers and DynamicInfo, decoded.

These values are what the Schedule service runs; the XML file is only their registered source. An
attacker who rewrites the Actions blob (or registers a task in the registry alone) changes what
runs without touching the XML. Layouts follow the public description in
GDATAAdvancedAnalytics/winreg-tasks (kaitai/*.ksy); the code here is our own. Every read is bounds
checked: a short or inconsistent blob yields what was decoded before the fault plus a problem, and
never an exception.

- Actions: u16 version (1 or 3); v3 has the principal id (`context`). Then records: u16 type
  (0x6666 Exec, 0x7777 ComHandler, 0x8888 SendEmail, 0x9999 ShowMessage), an id, and the fields;
  strings are a u32 byte count and UTF-16LE. v3 Exec records end with u16 flags.
- Triggers: 8-byte aligned. A header (version, earliest start, latest end), the job bucket (flags:
  enabled, hidden, run level, logon type...; the CRC32 of the task XML; principal id and display
  name; the user; optional settings), then triggers by type (0xffff boot, 0xeeee idle, 0xdddd time
  and calendar, 0xcccc event, 0xaaaa logon, 0x8888 registration, 0x7777 session state change,
  0x6666 WNF state change).
- DynamicInfo: magic, FILETIME registered, FILETIME last run, u32 state, u32 last result, and on
  newer builds FILETIME last successful run.

References: reference/windows.md §0.2; log2timeline/plaso winreg task_scheduler plugin (DynamicInfo).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ...model import Action, ComHandlerAction, OtherAction
from .definition import DAYS, MONTHS, Principal, Trigger, exec_action, seconds_duration

MAX_ACTIONS = 64
MAX_TRIGGERS = 96
MAX_STRING = 1 << 20
FILETIME_NEVER = 0xFFFFFFFFFFFFFFFF
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

BUCKET_FLAGS = {
    0x2: "run_only_if_idle",
    0x4: "restart_on_idle",
    0x8: "stop_on_idle_end",
    0x10: "disallow_start_if_on_batteries",
    0x20: "stop_if_going_on_batteries",
    0x40: "start_when_available",
    0x80: "run_only_if_network_available",
    0x100: "allow_start_on_demand",
    0x200: "wake_to_run",
    0x400: "execute_parallel",
    0x800: "execute_stop_existing",
    0x1000: "execute_queue",
    0x2000: "execute_ignore_new",
    0x4000: "logon_type_s4u",
    0x10000: "logon_type_interactive_token",
    0x40000: "logon_type_password",
    0x80000: "logon_type_interactive_token_or_password",
    0x400000: "enabled",
    0x800000: "hidden",
    0x1000000: "run_level_highest_available",
    0x2000000: "task",
    0x4000000: "version",
    0x8000000: "token_sid_type_none",
    0x10000000: "token_sid_type_unrestricted",
    0x20000000: "interval",
    0x40000000: "allow_hard_terminate",
}
LOGON_TYPES = (
    (0x4000, "S4U"),
    (0x10000, "InteractiveToken"),
    (0x40000, "Password"),
    (0x80000, "InteractiveTokenOrPassword"),
)
SESSION_STATES = {
    1: "ConsoleConnect",
    2: "ConsoleDisconnect",
    3: "RemoteConnect",
    4: "RemoteDisconnect",
    5: "SessionLock",
    6: "SessionUnlock",
}
SID_TYPES = {
    1: "user",
    2: "group",
    3: "domain",
    4: "alias",
    5: "well_known_group",
    6: "deleted_account",
    7: "invalid",
    8: "unknown",
    9: "computer",
    10: "label",
    11: "logon_session",
}
WEEKS = ("1", "2", "3", "4", "Last")


class BlobError(Exception):
    """The blob ends before, or contradicts, what its own fields announce."""


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.offset

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or size > self.left:
            raise BlobError(f"{what}: needs {size} bytes at offset {self.offset}, {self.left} left")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        value: int = struct.unpack("<H", self.take(2, what))[0]
        return value

    def u32(self, what: str) -> int:
        value: int = struct.unpack("<I", self.take(4, what))[0]
        return value

    def u64(self, what: str) -> int:
        value: int = struct.unpack("<Q", self.take(8, what))[0]
        return value

    def bstr(self, what: str) -> str:
        """A u32 byte count and that many bytes of UTF-16LE (no terminator)."""
        size = self.u32(f"{what} length")
        if size > MAX_STRING:
            raise BlobError(f"{what}: length {size} is not plausible")
        return _utf16(self.take(size, what))

    # 8-byte aligned forms of the Triggers blob

    def pad(self, size: int) -> None:
        """Skip the padding that rounds a field of `size` bytes up to a multiple of 8 (padding is
        relative to the field: after WNF data, fields are no longer aligned in the blob)."""
        self.take(min((8 - size % 8) % 8, self.left), "padding")

    def a_u8(self, what: str) -> int:
        value = self.u8(what)
        self.take(min(7, self.left), f"{what} padding")
        return value

    def a_u32(self, what: str) -> int:
        value = self.u32(what)
        self.take(min(4, self.left), f"{what} padding")
        return value

    def a_bytes(self, what: str) -> bytes:
        size = self.a_u32(f"{what} length")
        if size > MAX_STRING:
            raise BlobError(f"{what}: length {size} is not plausible")
        chunk = self.take(size, what)
        self.pad(size)
        return chunk

    def a_bstr(self, what: str) -> str:
        return _utf16(self.a_bytes(what))

    def a_wstr(self, what: str) -> str:
        """A character count (without the terminator), then the characters and a terminator."""
        count = self.a_u32(f"{what} length")
        if count == 0:
            return ""
        if count > MAX_STRING:
            raise BlobError(f"{what}: length {count} is not plausible")
        chunk = self.take(count * 2 + 2, what)
        self.pad(count * 2 + 2)
        return _utf16(chunk)

    def tstime(self, what: str) -> str | None:
        localized = self.u8(f"{what} zone flag")
        self.take(7, f"{what} padding")
        return filetime_text(self.u64(what), local=bool(localized))


def _utf16(raw: bytes) -> str:
    return raw.decode("utf-16-le", "surrogatepass").split("\x00", 1)[0]


def filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns since 1601) as UTC; None for 0, "never" and absurd values."""
    if value in (0, FILETIME_NEVER) or value > 0x7FFFFFFFFFFFFFFF:
        return None
    try:
        return _EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def filetime_text(value: int, local: bool) -> str | None:
    """A boundary as task XML writes it: local time without a zone, or UTC with `Z`."""
    moment = filetime(value)
    if moment is None:
        return None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text if local else text + "Z"


def guid_text(raw: bytes) -> str:
    first, second, third = struct.unpack("<IHH", raw[:8])
    tail = raw[8:16].hex().upper()
    return f"{{{first:08X}-{second:04X}-{third:04X}-{tail[:4]}-{tail[4:]}}}"


def sid_text(raw: bytes) -> str | None:
    """A binary SID as `S-1-5-...`; None when malformed."""
    if len(raw) < 8 or raw[0] != 1 or len(raw) < 8 + raw[1] * 4:
        return None
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{raw[1]}I", raw[8 : 8 + raw[1] * 4])
    return "S-1-" + "-".join(str(v) for v in (authority, *subs))


# ---------------------------------------------------------------------------------------------
# Actions


@dataclass(frozen=True, slots=True)
class DecodedActions:
    version: int | None
    context: str | None
    actions: tuple[Action, ...]
    problems: tuple[str, ...] = ()


def decode_actions(data: bytes) -> DecodedActions:
    cursor = _Cursor(data)
    actions: list[Action] = []
    version: int | None = None
    context = None
    try:
        version = cursor.u16("version")
        if version not in (1, 2, 3):
            raise BlobError(f"unknown Actions version {version}")
        if version == 3:
            context = cursor.bstr("context")
        while cursor.left > 0:
            if len(actions) == MAX_ACTIONS:
                raise BlobError(f"more than {MAX_ACTIONS} actions")
            actions.append(_action(cursor, version))
    except BlobError as error:
        return DecodedActions(version, context, tuple(actions), (str(error),))
    return DecodedActions(version, context, tuple(actions))


def _action(cursor: _Cursor, version: int) -> Action:
    magic = cursor.u16("action type")
    cursor.bstr("action id")
    if magic == 0x6666:
        command = cursor.bstr("Exec command")
        arguments = cursor.bstr("Exec arguments")
        working_dir = cursor.bstr("Exec working directory")
        if version == 3:
            cursor.u16("Exec flags")
        return exec_action(command, arguments, working_dir)
    if magic == 0x7777:
        clsid = guid_text(cursor.take(16, "ComHandler class id"))
        data = cursor.bstr("ComHandler data")
        return ComHandlerAction(clsid, data or None)
    if magic == 0x8888:
        names = ("from", "to", "cc", "bcc", "reply_to", "server", "subject", "body")
        values = [(name, cursor.bstr(f"SendEmail {name}")) for name in names]
        attachments = [cursor.bstr("SendEmail attachment") for _ in range(_count(cursor, 256))]
        headers = [
            (cursor.bstr("SendEmail header"), cursor.bstr("SendEmail header value"))
            for _ in range(_count(cursor, 256))
        ]
        parts = [f"{name}={value}" for name, value in values if value]
        if attachments:
            parts.append("attachments=" + ", ".join(attachments))
        parts += [f"header {k}={v}" for k, v in headers]
        return OtherAction("send_email", "; ".join(parts))
    if magic == 0x9999:
        title = cursor.bstr("ShowMessage title")
        body = cursor.bstr("ShowMessage body")
        return OtherAction("show_message", f"{title}: {body}")
    raise BlobError(f"unknown action type 0x{magic:04X} at offset {cursor.offset - 2}")


def _count(cursor: _Cursor, cap: int) -> int:
    count = cursor.u32("count")
    if count > cap:
        raise BlobError(f"count {count} is not plausible")
    return count


# ---------------------------------------------------------------------------------------------
# Triggers


@dataclass(frozen=True, slots=True)
class JobBucket:
    flags: int
    crc32: int
    principal: Principal
    user_sid: str | None = None
    user_name: str | None = None
    sid_type: str | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def flag_names(self) -> tuple[str, ...]:
        return tuple(name for bit, name in BUCKET_FLAGS.items() if self.flags & bit)

    @property
    def enabled(self) -> bool:
        return bool(self.flags & 0x400000)

    @property
    def hidden(self) -> bool:
        return bool(self.flags & 0x800000)


@dataclass(frozen=True, slots=True)
class DecodedTriggers:
    version: int | None
    bucket: JobBucket | None
    triggers: tuple[Trigger, ...]
    problems: tuple[str, ...] = ()


def decode_triggers(data: bytes) -> DecodedTriggers:
    cursor = _Cursor(data)
    version: int | None = None
    bucket = None
    triggers: list[Trigger] = []
    try:
        version = cursor.a_u8("version")
        cursor.tstime("earliest start")
        cursor.tstime("latest end")
        bucket = _bucket(cursor, version)
        while cursor.left >= 8:
            if len(triggers) == MAX_TRIGGERS:
                raise BlobError(f"more than {MAX_TRIGGERS} triggers")
            triggers.append(_trigger(cursor, version))
    except BlobError as error:
        return DecodedTriggers(version, bucket, tuple(triggers), (str(error),))
    return DecodedTriggers(version, bucket, tuple(triggers))


def _user(cursor: _Cursor) -> tuple[str | None, str | None, str | None]:
    """(SID, user name, SID type) of a user-info record."""
    if cursor.a_u8("skip user"):
        return None, None, None
    sid = sid_type = None
    if not cursor.a_u8("skip SID"):
        sid_type = SID_TYPES.get(cursor.a_u32("SID type"))
        sid = sid_text(cursor.a_bytes("SID"))
    name = cursor.a_bstr("user name") or None
    return sid, name, sid_type


def _bucket(cursor: _Cursor, version: int) -> JobBucket:
    flags = cursor.a_u32("job flags")
    crc32 = cursor.a_u32("XML CRC32")
    principal_id = cursor.a_bstr("principal id") if version >= 0x16 else None
    display_name = cursor.a_bstr("display name") if version >= 0x17 else None
    sid, name, sid_type = _user(cursor)
    settings = _optional_settings(cursor)
    logon = next((text for bit, text in LOGON_TYPES if flags & bit), None)
    principal = Principal(
        id=principal_id or None,
        user_id=sid or name,
        logon_type=logon,
        run_level="HighestAvailable" if flags & 0x1000000 else "LeastPrivilege",
        display_name=display_name or None,
    )
    return JobBucket(flags, crc32, principal, sid, name, sid_type, settings)


def _optional_settings(cursor: _Cursor) -> dict[str, str]:
    size = cursor.a_u32("optional settings length")
    if size == 0:
        return {}
    body = _Cursor(
        cursor.take(
            (size + 7) // 8 * 8 if size + 7 <= cursor.left + 7 else size, "optional settings"
        )
    )
    idle, idle_wait, limit, delete_after, priority, restart_delay, restart_count = (
        body.u32("setting") for _ in range(7)
    )
    settings = {"Priority": str(priority)}
    if limit != 0xFFFFFFFF:
        settings["ExecutionTimeLimit"] = seconds_duration(limit)
    if delete_after != 0xFFFFFFFF:
        settings["DeleteExpiredTaskAfter"] = seconds_duration(delete_after)
    if idle:
        settings["IdleSettings/Duration"] = seconds_duration(idle)
    if idle_wait not in (0, 0xFFFFFFFF):
        settings["IdleSettings/WaitTimeout"] = seconds_duration(idle_wait)
    if restart_count:
        settings["RestartOnFailure/Count"] = str(restart_count)
        settings["RestartOnFailure/Interval"] = seconds_duration(restart_delay)
    return settings


def _generic(cursor: _Cursor, version: int, kind: str) -> Trigger:
    start = cursor.tstime("start boundary")
    end = cursor.tstime("end boundary")
    delay, timeout, interval, duration, _duration2 = (cursor.u32("trigger field") for _ in range(5))
    stop = cursor.u8("stop at duration end")
    cursor.take(3, "padding")
    enabled = cursor.a_u8("enabled")
    cursor.take(8, "reserved")
    if version >= 0x16:
        _trigger_id(cursor)
    return Trigger(
        kind,
        enabled=bool(enabled),
        start=start,
        end=end,
        delay=seconds_duration(delay) if delay else None,
        repetition_interval=seconds_duration(interval) if interval else None,
        repetition_duration=seconds_duration(duration)
        if interval and duration not in (0, 0xFFFFFFFF)
        else None,
        stop_at_duration_end=bool(stop),
        time_limit=seconds_duration(timeout) if timeout not in (0, 0xFFFFFFFF) else None,
    )


def _trigger_id(cursor: _Cursor) -> None:
    size = cursor.u32("trigger id length")
    if size > MAX_STRING:
        raise BlobError(f"trigger id: length {size} is not plausible")
    cursor.take(size, "trigger id")
    cursor.pad(size + 4)


GENERIC_KINDS = {0xFFFF: "boot", 0xEEEE: "idle", 0x8888: "registration"}


def _trigger(cursor: _Cursor, version: int) -> Trigger:
    magic = cursor.a_u32("trigger type")
    if magic in GENERIC_KINDS:
        return _generic(cursor, version, GENERIC_KINDS[magic])
    if magic == 0xAAAA:
        trigger = _generic(cursor, version, "logon")
        sid, name, _ = _user(cursor)
        return _replace_user(trigger, sid or name)
    if magic == 0x7777:
        trigger = _generic(cursor, version, "session_state_change")
        state = cursor.u32("session state")
        cursor.take(4, "padding")
        sid, name, _ = _user(cursor)
        return Trigger(
            trigger.kind,
            enabled=trigger.enabled,
            start=trigger.start,
            end=trigger.end,
            delay=trigger.delay,
            repetition_interval=trigger.repetition_interval,
            repetition_duration=trigger.repetition_duration,
            user=sid or name,
            state_change=SESSION_STATES.get(state, str(state)),
        )
    if magic == 0x6666:
        trigger = _generic(cursor, version, "wnf_state_change")
        state_name = cursor.take(8, "WNF state name").hex().upper()
        size = cursor.a_u32("WNF data length")
        if size > MAX_STRING:
            raise BlobError(f"WNF data: length {size} is not plausible")
        cursor.take(size, "WNF data")  # not padded: the next trigger follows at once
        return _replace_state(trigger, state_name)
    if magic == 0xCCCC:
        trigger = _generic(cursor, version, "event")
        subscription = cursor.a_wstr("event subscription")
        cursor.u32("event field")
        cursor.u32("event field")
        cursor.a_wstr("event field")
        for _ in range(_a_count(cursor, 256)):
            cursor.a_wstr("value query name")
            cursor.a_wstr("value query")
        return _replace_subscription(trigger, subscription)
    if magic == 0xDDDD:
        return _time_trigger(cursor, version)
    raise BlobError(f"unknown trigger type 0x{magic:04X} at offset {cursor.offset - 8}")


def _a_count(cursor: _Cursor, cap: int) -> int:
    count = cursor.a_u32("count")
    if count > cap:
        raise BlobError(f"count {count} is not plausible")
    return count


def _replace_user(trigger: Trigger, user: str | None) -> Trigger:
    return replace(trigger, user=user)


def _replace_state(trigger: Trigger, state_name: str) -> Trigger:
    return replace(trigger, state_name=state_name)


def _replace_subscription(trigger: Trigger, subscription: str) -> Trigger:
    return replace(trigger, subscription=subscription or None)


def _time_trigger(cursor: _Cursor, version: int) -> Trigger:
    start = cursor.tstime("start boundary")
    end = cursor.tstime("end boundary")
    cursor.tstime("reserved time")
    interval, duration, limit, mode = (cursor.u32("time trigger field") for _ in range(4))
    data1, data2, data3, _pad = (cursor.u16("schedule data") for _ in range(4))
    stop = cursor.u8("stop at duration end")
    enabled = cursor.u8("enabled")
    cursor.take(2, "padding")
    cursor.u32("reserved")
    random_delay = cursor.u32("random delay")
    cursor.u32("padding")
    if version >= 0x16:
        _trigger_id(cursor)
    common = Trigger(
        "time",
        enabled=bool(enabled),
        start=start,
        end=end,
        random_delay=seconds_duration(random_delay) if random_delay else None,
        repetition_interval=seconds_duration(interval) if interval else None,
        repetition_duration=seconds_duration(duration)
        if interval and duration not in (0, 0xFFFFFFFF)
        else None,
        stop_at_duration_end=bool(stop),
        time_limit=seconds_duration(limit) if limit not in (0, 0xFFFFFFFF) else None,
    )
    if mode == 1:
        return replace(common, kind="daily", every=max(data1, 1))
    if mode == 2:
        return replace(common, kind="weekly", every=max(data1, 1), days_of_week=_bits(data2, DAYS))
    if mode == 3:
        days = tuple(str(d + 1) for d in range(32) if (data1 | data2 << 16) & (1 << d))
        days = tuple("Last" if d == "32" else d for d in days)
        return replace(common, kind="monthly", days_of_month=days, months=_bits(data3, MONTHS))
    if mode == 4:
        return replace(
            common,
            kind="monthly_dow",
            weeks=_bits(data2, WEEKS),
            days_of_week=_bits(data1, DAYS),
            months=_bits(data3, MONTHS),
        )
    return common


def _bits(mask: int, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for index, name in enumerate(names) if mask & (1 << index))


# ---------------------------------------------------------------------------------------------
# DynamicInfo


@dataclass(frozen=True, slots=True)
class DynamicInfo:
    created: datetime | None
    last_run: datetime | None
    state: int
    last_result: int
    last_success: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "created": self.created,
            "last_run": self.last_run,
            "last_result": f"0x{self.last_result:08X}",
        }
        if self.last_success is not None:
            found["last_successful_run"] = self.last_success
        return found


def decode_dynamic_info(data: bytes) -> DynamicInfo:
    if len(data) not in (28, 36):
        raise BlobError(f"{len(data)} bytes: DynamicInfo is 28 or 36 bytes")
    _magic, created, last_run, state, result = struct.unpack("<IQQII", data[:28])
    success = struct.unpack("<Q", data[28:36])[0] if len(data) == 36 else 0
    return DynamicInfo(filetime(created), filetime(last_run), state, result, filetime(success))
