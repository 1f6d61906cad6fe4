"""The contract every part shares: jobs, schedules, actions, evidence, issues, findings, events.

Frozen, slotted dataclasses; UTC-aware datetimes; narrow variants instead of wide nullable tables.
Strings that came from evidence are kept exactly (undecodable bytes as surrogate escapes) and are
escaped only on output, by `model.text.render_untrusted`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from operator import attrgetter
from typing import ClassVar

from .enums import Mechanism, Severity, SourceKind

# ---------------------------------------------------------------------------------------------
# Evidence


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a record came from, as it was on the original host."""

    source_kind: SourceKind
    host: str
    path: str
    related: tuple[str, ...] = ()
    line: int | None = None
    offset: int | None = None
    sha256: str | None = None
    owner: str | None = None
    group: str | None = None
    uid: int | None = None
    gid: int | None = None
    mode: str | None = None
    mtime: datetime | None = None

    def at(self, line: int | None, offset: int | None) -> Evidence:
        """The same file's evidence at another line (cheap: called once per job of a table)."""
        return Evidence(self.source_kind, self.host, self.path, self.related, line, offset,
                        self.sha256, self.owner, self.group, self.uid, self.gid, self.mode,
                        self.mtime)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Schedules: one variant per kind of "when"


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A five-field cron time specification, as the daemon parsed it."""

    kind: ClassVar[str] = "cron"
    expression: str
    minute: str
    hour: str
    day_of_month: str
    month: str
    day_of_week: str
    description: str
    timezone: str | None = None
    randomized: bool = False


@dataclass(frozen=True, slots=True)
class MacroSchedule:
    """A cron `@` macro (`@reboot`, `@daily`, ...); `expression` is its five-field equivalent."""

    kind: ClassVar[str] = "macro"
    macro: str
    description: str
    expression: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """anacron: run when the job has not run for `period_days`, `delay_minutes` after anacron starts."""

    kind: ClassVar[str] = "interval"
    period: str
    period_days: int | None
    delay_minutes: int
    description: str
    start_hours_range: str | None = None
    random_delay_minutes: int | None = None
    last_run: datetime | None = None


@dataclass(frozen=True, slots=True)
class DrivenSchedule:
    """A job run by another job: a script in a periodic folder, run by run-parts from a table."""

    kind: ClassVar[str] = "driven"
    cadence: str
    description: str
    driver: str | None = None
    driver_schedule: Schedule | None = None


@dataclass(frozen=True, slots=True)
class CalendarSchedule:
    """systemd `OnCalendar=` events, as written and as normalised (`systemd-analyze calendar`)."""

    kind: ClassVar[str] = "calendar"
    expressions: tuple[str, ...]
    normalized: tuple[str, ...]
    description: str
    persistent: bool = False
    randomized_delay: str | None = None
    accuracy: str | None = None
    wake_system: bool = False
    last_trigger: datetime | None = None


@dataclass(frozen=True, slots=True)
class MonotonicSchedule:
    """systemd monotonic triggers (`OnBootSec=`, `OnUnitActiveSec=`, ...), each as (name, span)."""

    kind: ClassVar[str] = "monotonic"
    triggers: tuple[tuple[str, str], ...]
    description: str
    randomized_delay: str | None = None
    last_trigger: datetime | None = None


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    """Several schedules of one job that fire independently (a timer with calendar and
    monotonic triggers, a task with several triggers)."""

    kind: ClassVar[str] = "composite"
    parts: tuple[Schedule, ...]
    description: str


@dataclass(frozen=True, slots=True)
class TriggerSchedule:
    """An event-like trigger: boot, logon, event, idle, registration, session state."""

    kind: ClassVar[str] = "trigger"
    trigger: str
    description: str
    detail: str | None = None
    delay: str | None = None


@dataclass(frozen=True, slots=True)
class OneShotSchedule:
    """A single run at a fixed time (at jobs, one-time triggers)."""

    kind: ClassVar[str] = "one_shot"
    at: datetime
    description: str


@dataclass(frozen=True, slots=True)
class UnknownSchedule:
    """The definition did not yield a usable schedule (the reason is in `description`)."""

    kind: ClassVar[str] = "unknown"
    description: str
    text: str | None = None


Schedule = (
    CronSchedule
    | MacroSchedule
    | IntervalSchedule
    | DrivenSchedule
    | CalendarSchedule
    | MonotonicSchedule
    | CompositeSchedule
    | TriggerSchedule
    | OneShotSchedule
    | UnknownSchedule
)


# ---------------------------------------------------------------------------------------------
# Actions


@dataclass(frozen=True, slots=True)
class ExecAction:
    """A program the scheduler starts; `stdin` is what cron feeds it after the first `%`.

    `phase` names the step for schedulers with several (systemd's ExecStartPre, ExecStart...);
    `prefixes` keeps systemd's command prefixes; `argv0` is the process name set with `@`, when
    it differs from the executable (a masquerade).
    """

    kind: ClassVar[str] = "exec"
    command_line: str
    executable: str | None = None
    arguments: tuple[str, ...] = ()
    working_dir: str | None = None
    stdin: str | None = None
    shell: str | None = None
    phase: str | None = None
    prefixes: str | None = None
    argv0: str | None = None


@dataclass(frozen=True, slots=True)
class ComHandlerAction:
    kind: ClassVar[str] = "com_handler"
    class_id: str
    data: str | None = None


@dataclass(frozen=True, slots=True)
class OtherAction:
    kind: ClassVar[str] = "other"
    action_type: str
    detail: str


Action = ExecAction | ComHandlerAction | OtherAction


# ---------------------------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True, slots=True)
class Effective:
    """Would the scheduler on this host really run the job, and if not, why.

    `runs` is None when it cannot be decided from the evidence (for example the cron daemon of the
    host is unknown and the daemons disagree). `daemon` names whose rules were applied.
    """

    runs: bool | None
    reason: str
    daemon: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    job_id: str
    mechanism: Mechanism
    technique: str
    name: str
    run_as: str | None
    schedule: Schedule
    actions: tuple[Action, ...]
    effective: Effective
    evidence: Evidence
    environment: tuple[tuple[str, str], ...] = ()
    enabled: bool = True
    hidden: bool = False
    raw: str = ""
    next_runs: tuple[datetime, ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)


def make_job_id(mechanism: Mechanism, path: str, *content: str) -> str:
    """A stable id: the same definition at the same place gets the same id on every run."""
    text = "\x00".join((mechanism.value, path, *content)) + "\x00"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def task_key(task_path: str) -> str:
    """How Windows task paths are matched across stores and logs: Windows ignores their case."""
    return "\\" + task_path.strip("\\").casefold()


# ---------------------------------------------------------------------------------------------
# Problems and verdicts


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem with the evidence itself (unreadable, oversize, unparseable, looping...)."""

    code: str
    message: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    title: str
    severity: Severity
    techniques: tuple[str, ...]
    job_id: str | None
    evidence: Evidence
    message: str
    remediation: str


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A fact from a log about a job: registered, updated, deleted, started, failed..."""

    time: datetime
    host: str
    action: str
    job_name: str
    evidence: Evidence
    actor: str | None = None
    command: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict)


Record = ScheduledJob | Issue | Finding | JobEvent


# ---------------------------------------------------------------------------------------------
# Pickling, for the records forked children send back (`forked`)


def _pickled_by_fields(cls: type) -> None:
    """Pickle instances of `cls` as the class and its field values, rebuilt by the constructor.
    The default for a frozen, slotted dataclass goes through `dataclasses`' own state functions,
    which look the fields up again for every object: a hunt's children send thousands of
    events, and this way pickling and unpickling them takes a fifth less time (measured)."""
    values = attrgetter(*(f.name for f in fields(cls)))
    if len(fields(cls)) == 1:

        def reduce_one(self: object) -> tuple[type, tuple[object, ...]]:
            return cls, (values(self),)

        cls.__reduce__ = reduce_one  # type: ignore[assignment,method-assign]
    else:

        def reduce(self: object) -> tuple[type, tuple[object, ...]]:
            return cls, values(self)

        cls.__reduce__ = reduce  # type: ignore[assignment,method-assign]


for _record in [
    value
    for value in list(globals().values())
    if isinstance(value, type) and is_dataclass(value) and value.__module__ == __name__
]:
    _pickled_by_fields(_record)
