"""One task as any store describes it (XML, TaskCache blobs, .job, Group Policy), and what it means:
triggers in words, the account it runs as, its command lines split as Windows splits them.

Every store is read into a `TaskDefinition` of the same shape, so that the reconciling collector can
compare the stores field by field and build one job from them. Times in task definitions are the
host's local time unless they carry a zone (`Z`, `+01:00`); they are kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ...model import (
    Action,
    ComHandlerAction,
    CompositeSchedule,
    ExecAction,
    Mechanism,
    OneShotSchedule,
    OtherAction,
    Schedule,
    TriggerSchedule,
    UnknownSchedule,
    make_job_id,
    task_key,
)

# ---------------------------------------------------------------------------------------------
# Accounts

WELL_KNOWN_SIDS: dict[str, str] = {
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL",
    "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-2": "NETWORK",
    "S-1-5-3": "BATCH",
    "S-1-5-4": "INTERACTIVE",
    "S-1-5-6": "SERVICE",
    "S-1-5-7": "ANONYMOUS LOGON",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-18": "SYSTEM",
    "S-1-5-19": "LOCAL SERVICE",
    "S-1-5-20": "NETWORK SERVICE",
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-545": "Users",
    "S-1-5-32-546": "Guests",
    "S-1-5-32-547": "Power Users",
    "S-1-5-32-551": "Backup Operators",
    "S-1-5-32-555": "Remote Desktop Users",
    "S-1-5-32-559": "Performance Log Users",
    "S-1-5-32-568": "IIS_IUSRS",
    "S-1-5-32-578": "Hyper-V Administrators",
    "S-1-5-80-0": "All Services",
}
DOMAIN_RIDS = {
    "500": "Administrator",
    "501": "Guest",
    "512": "Domain Admins",
    "513": "Domain Users",
}
ACCOUNT_ALIASES: dict[str, str] = {
    "system": "SYSTEM",
    "localsystem": "SYSTEM",
    "nt authority\\system": "SYSTEM",
    "nt authority\\localsystem": "SYSTEM",
    "localservice": "LOCAL SERVICE",
    "local service": "LOCAL SERVICE",
    "nt authority\\localservice": "LOCAL SERVICE",
    "nt authority\\local service": "LOCAL SERVICE",
    "networkservice": "NETWORK SERVICE",
    "network service": "NETWORK SERVICE",
    "nt authority\\networkservice": "NETWORK SERVICE",
    "nt authority\\network service": "NETWORK SERVICE",
}
_DOMAIN_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+-(\d+)", re.IGNORECASE)


def account_name(account: str) -> str:
    """A SID or account name as a person reads it: well-known SIDs and service accounts named."""
    text = account.strip()
    upper = text.upper()
    if upper in WELL_KNOWN_SIDS:
        return WELL_KNOWN_SIDS[upper]
    alias = ACCOUNT_ALIASES.get(text.casefold())
    if alias:
        return alias
    domain = _DOMAIN_SID.fullmatch(text)
    if domain and domain.group(1) in DOMAIN_RIDS:
        return f"{DOMAIN_RIDS[domain.group(1)]} ({upper})"
    return text


@dataclass(frozen=True, slots=True)
class Principal:
    id: str | None = None
    user_id: str | None = None
    group_id: str | None = None
    logon_type: str | None = None
    run_level: str | None = None
    display_name: str | None = None

    @property
    def run_as(self) -> str | None:
        if self.user_id:
            return account_name(self.user_id)
        if self.group_id:
            return f"{account_name(self.group_id)} (group)"
        return None

    def as_dict(self) -> dict[str, str]:
        items = {
            "id": self.id,
            "user_id": self.user_id,
            "group_id": self.group_id,
            "logon_type": self.logon_type,
            "run_level": self.run_level,
            "display_name": self.display_name,
        }
        return {k: v for k, v in items.items() if v}


# ---------------------------------------------------------------------------------------------
# Triggers


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger. `kind`: boot, logon, registration, idle, time, daily, weekly, monthly,
    monthly_dow, event, session_state_change, wnf_state_change, maintenance (a task without
    triggers that Automatic Maintenance runs: `repetition_interval` is its period, `detail` its
    deadline), or unknown (`detail` says what)."""

    kind: str
    enabled: bool = True
    start: str | None = None
    end: str | None = None
    delay: str | None = None
    random_delay: str | None = None
    repetition_interval: str | None = None
    repetition_duration: str | None = None
    stop_at_duration_end: bool = False
    time_limit: str | None = None
    user: str | None = None
    every: int = 1
    days_of_week: tuple[str, ...] = ()
    days_of_month: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    weeks: tuple[str, ...] = ()
    subscription: str | None = None
    state_change: str | None = None
    state_name: str | None = None
    detail: str | None = None


DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEK_NAMES = {"1": "first", "2": "second", "3": "third", "4": "fourth", "Last": "last"}
STATE_CHANGES = {
    "ConsoleConnect": "local connection to a user session",
    "ConsoleDisconnect": "local disconnection from a user session",
    "RemoteConnect": "remote connection to a user session",
    "RemoteDisconnect": "remote disconnection from a user session",
    "SessionLock": "workstation lock",
    "SessionUnlock": "workstation unlock",
}

_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?)?"
)
_UNITS = ("year", "month", "week", "day", "hour", "minute", "second")


def describe_duration(text: str) -> str:
    """`PT1H` → `1 hour`, `P1DT12H` → `1 day 12 hours`; anything else as written."""
    match = _DURATION.fullmatch(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return text
    parts = [
        f"{int(value)} {unit}{'' if int(value) == 1 else 's'}"
        for value, unit in zip(match.groups(), _UNITS, strict=True)
        if value and int(value)
    ]
    return " ".join(parts) or "0 seconds"


def duration_seconds(text: str | None) -> int | None:
    """Seconds of an ISO 8601 duration without years or months; None when not one."""
    if not text:
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match or match.group(1) or match.group(2):
        return None
    weeks, days, hours, minutes, seconds = (int(v or 0) for v in match.groups()[2:])
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def seconds_duration(seconds: int) -> str:
    """Seconds → the ISO 8601 duration Task Scheduler writes (`PT1H`, `P1D`, `PT0S`)."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if v)
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return text if text != "P" else "PT0S"


_BOUNDARY = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _clock(start: str | None) -> str | None:
    match = _BOUNDARY.fullmatch(start.strip()) if start else None
    if not match:
        return None
    seconds = match.group(6)
    clock = f"{match.group(4)}:{match.group(5)}"
    return clock + (f":{seconds}" if seconds and seconds != "00" else "")


def _moment(text: str | None) -> str | None:
    match = _BOUNDARY.fullmatch(text.strip()) if text else None
    if not match:
        return text
    zone = match.group(7)
    suffix = "" if not zone else " UTC" if zone == "Z" else f" {zone}"
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)} {_clock(text)}{suffix}"


def parse_boundary(text: str | None) -> tuple[datetime, timedelta | None] | None:
    """A StartBoundary or EndBoundary as written: its date and time (a fraction of a second
    dropped) and its UTC offset, None when it has no zone (the host's local time); None for bad
    text."""
    match = _BOUNDARY.fullmatch(text.strip()) if text else None
    if not match:
        return None
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    try:
        written = datetime(year, month, day, hour, minute, int(match.group(6) or 0))
    except ValueError:
        return None
    zone = match.group(7)
    if not zone:
        return written, None
    if zone == "Z":
        return written, timedelta()
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    return written, timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:])))


def boundary_utc(text: str | None) -> datetime | None:
    """A boundary with an explicit zone as a UTC datetime; None for local time or bad text."""
    parsed = parse_boundary(text)
    if parsed is None:
        return None
    written, offset = parsed
    if offset is None:
        return None
    try:
        return (written - offset).replace(tzinfo=UTC)
    except OverflowError:  # year 1 or 9999 moved out of range by its offset
        return None


def _join(words: tuple[str, ...]) -> str:
    return ", ".join(words)


def describe_trigger(trigger: Trigger) -> str:
    """The trigger in words: "At logon of any user", "Daily at 09:00, repeating every 1 hour for
    1 day"."""
    kind = trigger.kind
    at = _clock(trigger.start)
    at_text = f" at {at}" if at else ""
    if kind == "boot":
        text = "At system startup"
    elif kind == "logon":
        text = "At logon of " + (account_name(trigger.user) if trigger.user else "any user")
    elif kind == "registration":
        text = "When the task is registered or updated"
    elif kind == "idle":
        text = "When the computer becomes idle"
    elif kind == "time":
        text = f"Once at {_moment(trigger.start)}" if trigger.start else "Once (no start time)"
    elif kind == "daily":
        text = ("Daily" if trigger.every == 1 else f"Every {trigger.every} days") + at_text
    elif kind == "weekly":
        text = "Weekly" if trigger.every == 1 else f"Every {trigger.every} weeks"
        if trigger.days_of_week:
            text += " on " + _join(trigger.days_of_week)
        text += at_text
    elif kind == "monthly":
        days = _join(trigger.days_of_month) or "(no day)"
        text = f"On day {days} of " + _months(trigger.months) + at_text
    elif kind == "monthly_dow":
        weeks = _join(tuple(WEEK_NAMES.get(w, w) for w in trigger.weeks)) or "every"
        days = _join(trigger.days_of_week) or "(no day)"
        text = f"On the {weeks} {days} of " + _months(trigger.months) + at_text
    elif kind == "event":
        text = "When an event is logged" + _event_summary(trigger.subscription)
    elif kind == "session_state_change":
        change = STATE_CHANGES.get(trigger.state_change or "", trigger.state_change or "change")
        who = account_name(trigger.user) if trigger.user else "any user"
        text = f"On {change} of {who}"
    elif kind == "maintenance":
        text = "During Automatic Maintenance"
        if trigger.repetition_interval:
            text += f", at least every {describe_duration(trigger.repetition_interval)}"
        if trigger.detail:
            text += f" (deadline {describe_duration(trigger.detail)})"
        return text
    elif kind == "wnf_state_change":
        text = f"On a change of the WNF state {trigger.state_name or '(unnamed)'}"
    else:
        text = f"Unknown trigger {trigger.detail or kind}"
    if trigger.delay and duration_seconds(trigger.delay) != 0:
        text += f", after a delay of {describe_duration(trigger.delay)}"
    if trigger.random_delay and duration_seconds(trigger.random_delay) != 0:
        text += f", after a random delay of up to {describe_duration(trigger.random_delay)}"
    if trigger.repetition_interval and duration_seconds(trigger.repetition_interval) != 0:
        text += f", repeating every {describe_duration(trigger.repetition_interval)}"
        duration = trigger.repetition_duration
        if duration and duration_seconds(duration) != 0:
            text += f" for {describe_duration(duration)}"
        else:
            text += " indefinitely"
    if trigger.end:
        text += f", until {_moment(trigger.end)}"
    if not trigger.enabled:
        text += " (trigger disabled)"
    return text


def _months(months: tuple[str, ...]) -> str:
    if not months or len(months) == 12:
        return "every month"
    return _join(months)


_CHANNEL = re.compile(r"""Path\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_EVENT_ID = re.compile(r"EventID\s*=\s*(\d+)", re.IGNORECASE)


def _event_summary(subscription: str | None) -> str:
    if not subscription:
        return " (no subscription)"
    channels = tuple(dict.fromkeys(_CHANNEL.findall(subscription)))[:4]
    ids = tuple(dict.fromkeys(_EVENT_ID.findall(subscription)))[:8]
    parts = []
    if channels:
        parts.append("in " + _join(channels))
    if ids:
        parts.append("with EventID " + _join(ids))
    return " " + " ".join(parts) if parts else " matching its subscription"


def trigger_schedule(trigger: Trigger) -> Schedule:
    description = describe_trigger(trigger)
    if trigger.kind == "time" and not trigger.repetition_interval and trigger.enabled:
        moment = boundary_utc(trigger.start)
        if moment is not None:
            return OneShotSchedule(moment, description)
    detail = trigger.subscription or trigger.state_name
    if detail is None and trigger.start:
        detail = f"StartBoundary {trigger.start}"
    return TriggerSchedule(trigger.kind, description, detail, trigger.delay)


def maintenance_trigger(settings: Mapping[str, str]) -> Trigger | None:
    """The implicit trigger of a task with MaintenanceSettings: Automatic Maintenance runs it."""
    period = settings.get("MaintenanceSettings/Period")
    if not period:
        return None
    return Trigger(
        "maintenance",
        repetition_interval=period,
        detail=settings.get("MaintenanceSettings/Deadline"),
    )


def schedule_of(triggers: tuple[Trigger, ...]) -> Schedule:
    """One schedule per trigger; a CompositeSchedule when there are several."""
    if not triggers:
        return UnknownSchedule(
            "no trigger: runs only when started on demand (schtasks /run, the Task Scheduler "
            "API or a Windows component)"
        )
    parts = tuple(trigger_schedule(t) for t in triggers)
    if len(parts) == 1:
        return parts[0]
    return CompositeSchedule(parts, "; or ".join(p.description for p in parts))


# ---------------------------------------------------------------------------------------------
# Actions


def split_arguments(text: str) -> tuple[str, ...]:
    """Arguments split as the Microsoft C runtime (CommandLineToArgvW) splits them: blanks
    separate words outside quotes; 2n backslashes before a quote are n backslashes and the quote
    opens or closes; 2n+1 are n backslashes and a literal quote; `""` in quotes is a quote."""
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = False
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char == "\\":
            run = index
            while run < end and text[run] == "\\":
                run += 1
            count = run - index
            if run < end and text[run] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    index = run + 1
                else:
                    index = run
            else:
                current.append("\\" * count)
                index = run
            in_word = True
            continue
        if char == '"':
            if quoted and index + 1 < end and text[index + 1] == '"':
                current.append('"')
                index += 2
            else:
                quoted = not quoted
                index += 1
            in_word = True
            continue
        if char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            index += 1
            continue
        current.append(char)
        in_word = True
        index += 1
    if in_word:
        words.append("".join(current))
    return tuple(words)


def exec_action(command: str, arguments: str | None, working_dir: str | None) -> ExecAction:
    """An Exec action: the command line is the command and its arguments as Task Scheduler
    passes them; the executable is the command without its quotes (variables not expanded)."""
    command = command.strip()
    args = (arguments or "").strip()
    executable = command[1:-1] if len(command) > 1 and command[0] == command[-1] == '"' else command
    return ExecAction(
        command_line=f"{command} {args}" if args else command,
        executable=executable or None,
        arguments=split_arguments(args),
        working_dir=working_dir or None,
    )


def action_text(action: Action) -> str:
    """One line that identifies an action, for comparing stores and for job ids."""
    if isinstance(action, ExecAction):
        where = f" (in {action.working_dir})" if action.working_dir else ""
        return f"exec {action.command_line}{where}"
    if isinstance(action, ComHandlerAction):
        return f"com_handler {action.class_id} {action.data or ''}".rstrip()
    assert isinstance(action, OtherAction)
    return f"{action.action_type} {action.detail}"


def normalized_actions(actions: tuple[Action, ...]) -> tuple[str, ...]:
    """Actions compared the way Windows compares paths: case and surrounding blanks ignored."""
    return tuple(" ".join(action_text(a).split()).casefold() for a in actions)


def task_job_id(task_path: str, actions: tuple[Action, ...], run_as: str | None,
                schedule: Schedule) -> str:  # fmt: skip
    """One id for one task however it was seen (stores on disk or a 4698 event), so that log
    events and the inventory name the same job."""
    return make_job_id(
        Mechanism.WINDOWS_TASK,
        task_key(task_path),
        *normalized_actions(actions),
        run_as or "",
        schedule.description,
    )


# ---------------------------------------------------------------------------------------------
# A task from one store


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """What one store says about a task. `store`: xml, registry, job or gpp."""

    store: str
    uri: str | None = None
    registration: Mapping[str, str] = field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    principal: Principal | None = None
    actions: tuple[Action, ...] = ()
    context: str | None = None
    enabled: bool = True
    hidden: bool = False
    settings: Mapping[str, str] = field(default_factory=dict)
    schema_version: str | None = None
