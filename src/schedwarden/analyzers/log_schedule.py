"""Runs in the logs that the job's schedule does not explain (issue 7: "runs at unusual hours or
intervals that contradict the job's schedule").

- With an inventory (`hunt --root IMAGE` or `--inventory FILE`): every run cron logged (`CMD`,
  busybox `USER ... cmd`) of a job tied to the inventory, and every start the service manager
  logged for the service of a systemd timer, is compared with the schedules on disk. A run is
  explained when one of the schedules of the jobs that run that command as that user (or of the
  timers of that unit) has a run time at most a slack before it: two minutes for cron (the daemon
  starts jobs in the first seconds of the minute, later under load), cronie's RANDOM_DELAY, and
  for timers systemd's AccuracySec (default one minute) plus RandomizedDelaySec plus a minute.
  cronie's `~` fields count as their whole range; a Persistent timer's catch-up start right
  after the timer itself was started is explained; schedules whose times do not follow from
  the schedule alone (`@reboot`, monotonic and event triggers, anacron) are not judged. A run
  nothing explains means cron ran an entry that is not on disk now (the table was changed after
  the run, perhaps back again) or the unit was started by hand or by another unit.
- Windows tasks: the TaskScheduler/Operational log says why each instance started. Event 110
  (launched on demand: `schtasks /run`, the UI or the API) is reported with who ran it; events
  107/108/109/117/118/119 (time, event, registration, idle, boot, logon trigger) are compared
  with the kinds of trigger of the task's definition (the last 4698/4702 before the launch,
  else the task on disk). The time of a launch by a time trigger (107) is compared with the
  times of day too: the model keeps calendar triggers only as words, so the arithmetic handed
  in the context (`collectors/windows/trigger_times`) reads them again from the definition's
  XML (`raw`): one time, daily, weekly (weeks counted from StartBoundary's), monthly (`Last`
  day included) and monthly by day of week, with Repetition, RandomDelay and EndBoundary, a
  disabled trigger firing never, and two minutes for the service's lag. Tasks with a trigger
  that is not calendar-based, with StartWhenAvailable or RestartOnFailure, and definitions
  without XML are not judged on time, nor launches whose kind is already reported.
- Without an inventory: cron runs of one command as one user whose times all fall at one point
  of a cycle (a period from a week down to five minutes, at least EIGHT runs before and one
  after, 90% of all runs on it) and one run off that point, the cadence resuming afterwards.
  Low severity: it only says that cron ran the command once at a time it never did otherwise.

Times: syslog lines without a zone hold the host's wall clock (`local_time` in the event). With
the host's zone known (the image's /etc/localtime, or the inventory's `source.timezone`) both
readings of an ambiguous wall time are tried; unknown, a wall-clock run is compared with the
schedule's own wall clock, and an absolute time (journal, EVTX) in every UTC offset, so only
the minutes can disagree. Schedules with their own zone (CRON_TZ, a zone in OnCalendar) are
left alone when the zone of a wall-clock run is unknown. A task's StartBoundary with a zone
(`Z`, an offset: "synchronize across time zones") is absolute; without one it is the host's
wall clock, read in every UTC offset when the zone is unknown.

References: reference/linux.md §c (cron and journal lines); reference/windows.md §c
(TaskScheduler/Operational 100-129); systemd.timer(5); cronie crontab(5) RANDOM_DELAY, `~`;
MS-TSCH 2.5 (task XML triggers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import compress, count, islice
from operator import lt

from ..model import (
    CalendarSchedule,
    CompositeSchedule,
    CronSchedule,
    DrivenSchedule,
    ExecAction,
    Finding,
    JobEvent,
    MacroSchedule,
    Mechanism,
    OneShotSchedule,
    Schedule,
    ScheduledJob,
    Severity,
    TriggerSchedule,
    UnknownSchedule,
    task_key,
    zone,
)
from .log_base import EventIndex, LogAnalyzer, LogContext, ScheduleClock

RULES: dict[str, str] = {
    "JOB_RUN_OFF_SCHEDULE": "Job ran at a time its schedule on disk does not explain",
    "TASK_RUN_ON_DEMAND": "Scheduled task launched on demand, not by a trigger",
    "TASK_TRIGGER_NOT_DEFINED": "Scheduled task launched by a trigger it does not have",
    "TASK_RUN_OFF_SCHEDULE": "Scheduled task launched at a time none of its triggers fires",
    "JOB_RUN_OFF_CADENCE": "Job ran once off its usual cadence",
}
CRON_SLACK = timedelta(minutes=2)
SYSTEMD_SLACK = timedelta(minutes=1)
PERSISTENT_WINDOW = timedelta(minutes=5)
MAX_FINDINGS_PER_JOB = 10
OFFSETS = tuple(timedelta(minutes=m) for m in range(-12 * 60, 14 * 60 + 1, 15))
TASK_CHANNEL = "Microsoft-Windows-TaskScheduler/Operational"
ON_DEMAND = 110
LAUNCH_TRIGGERS = {107: "time", 108: "event", 109: "registration", 117: "idle", 118: "boot",
                   119: "logon"}  # fmt: skip
TIME_TRIGGERS = frozenset({"time", "daily", "weekly", "monthly", "monthly_dow", "maintenance"})
KNOWN_TRIGGERS = TIME_TRIGGERS | frozenset(
    {"event", "registration", "idle", "boot", "logon", "session_state_change", "wnf_state_change"}
)
# the cadence heuristic
MIN_HISTORY = 8
ON_CADENCE_SHARE = 0.9
WEEK = 7 * 1440
PERIODS = (WEEK, 1440, 720, 480, 360, 240, 180, 120, 60, 30, 20, 15, 10, 5)  # minutes
LATE = 1  # a run up to a minute after its point of the cycle is on it


# ---------------------------------------------------------------------------------------------
# runs of inventory jobs against their schedules


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One schedule that may explain a run, with the slack allowed after its run times."""

    job: ScheduledJob
    schedule: Schedule
    slack: timedelta


@dataclass(frozen=True, slots=True)
class _Run:
    event: JobEvent
    job: ScheduledJob  # the job the finding names
    candidates: tuple[_Candidate, ...]
    timer: str | None  # the timer unit of a systemd run
    persistent: bool


def off_schedule(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    if context.jobs is None or context.clock is None:
        return
    index = EventIndex.of(events)
    runs = list(_inventory_runs(index, context))
    if not runs:
        return
    timer_starts = _timer_starts(index.having("unit_event"))
    unexplained: dict[str, list[tuple[_Run, str]]] = {}
    seen: set[tuple[str, datetime]] = set()
    offsets: dict[str, timedelta] = {}
    for run in runs:
        verdict = _judge(run, context, context.clock, offsets, timer_starts)
        if verdict is None or verdict[0]:
            continue
        instant = verdict[1]
        if (run.job.job_id, instant) in seen:  # the same run in two logs (syslog and journal)
            continue
        seen.add((run.job.job_id, instant))
        unexplained.setdefault(run.job.job_id, []).append((run, verdict[2]))
    for items in unexplained.values():
        yield from _capped(items)


def _inventory_runs(index: EventIndex, context: LogContext) -> Iterator[_Run]:
    jobs = list(context.jobs or ())
    by_id = {job.job_id: job for job in jobs}
    crons: dict[tuple[str, str], list[ScheduledJob]] = {}
    units: dict[tuple[bool, str], list[ScheduledJob]] = {}
    for job in jobs:
        if job.mechanism is Mechanism.CRON:
            for action in job.actions:
                if isinstance(action, ExecAction):
                    crons.setdefault(_cron_key(job.run_as, action.command_line), []).append(job)
        elif job.mechanism is Mechanism.SYSTEMD_TIMER:
            unit = job.extra.get("unit")
            if isinstance(unit, str):
                system = job.extra.get("scope", "system") == "system"
                units.setdefault((system, unit), []).append(job)
    starting = {(e.host, e.job_name) for e in index.acting("starting") if e.action == "starting"}
    for event in index.acting("ran", "starting", "started"):
        if event.action == "ran" and event.command is not None:
            tied = by_id.get(str(event.extra.get("job_id") or ""))
            if tied is None or tied.mechanism is not Mechanism.CRON:
                continue
            siblings = crons.get(_cron_key(event.actor, event.command)) or [tied]
            candidates = tuple(
                _Candidate(j, j.schedule, CRON_SLACK + _random_delay(j)) for j in siblings
            )
            yield _Run(event, tied, candidates, None, False)
        elif event.action in ("starting", "started") and "unit_event" in event.extra:
            system = "user_manager" not in event.extra
            timers = units.get((system, event.job_name))
            if not timers:
                continue
            if event.action == "started" and (
                (event.host, event.job_name) in starting
                or any(t.extra.get("service_type") == "oneshot" for t in timers)
            ):
                continue  # "started" of a oneshot service is logged when it has finished
            candidates = tuple(_Candidate(t, t.schedule, SYSTEMD_SLACK) for t in timers)
            persistent = any(_persistent(t.schedule) for t in timers)
            timer = timers[0].name.rsplit("/", 1)[-1]
            yield _Run(event, timers[0], candidates, timer, persistent)


def _judge(
    run: _Run,
    context: LogContext,
    clock: ScheduleClock,
    offsets: dict[str, timedelta],
    timer_starts: Mapping[tuple[str, str], list[datetime]],
) -> tuple[bool, datetime, str] | None:
    """(explained, the run's instant, a note on how it was compared), or None: cannot judge."""
    event = run.event
    tz_name = context.host_timezone or _text(run.job.extra.get("host_timezone"))
    tz = zone(tz_name)
    own_zone = any(_own_zone(c.schedule) for c in run.candidates)
    slacks: list[tuple[Schedule, timedelta]] = []
    for candidate in run.candidates:
        delay = clock.start_delay(candidate.schedule)
        if delay is None:
            return None
        slacks.append((candidate.schedule, candidate.slack + delay))
    note = ""
    instant = event.time
    # (the moment to compare, the zone to evaluate the schedule in, the UTC offset tried)
    tries: list[tuple[datetime, str, timedelta | None]]
    if tz is not None and tz_name is not None:
        if event.extra.get("local_time") is True:
            wall = event.time.replace(tzinfo=None)
            moments = [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
            instant = moments[0]
            tries = [(m, tz_name, None) for m in dict.fromkeys(moments)]
        else:
            tries = [(event.time, tz_name, None)]
    elif own_zone:
        return None
    elif event.extra.get("local_time") is True:
        tries = [(event.time, "UTC", None)]  # the log's wall clock against the schedule's
        note = "the host's time zone is unknown: the log's wall clock was compared"
    else:
        known = offsets.get(run.job.job_id)
        order = sorted(OFFSETS, key=lambda o: o != known)
        tries = [(event.time + offset, "UTC", offset) for offset in order]
        note = "the host's time zone is unknown: every UTC offset was tried, only minutes count"
    unknown = False
    for moment, zone_name, offset in tries:
        for schedule, slack in slacks:
            verdict = clock.runs_between(schedule, moment - slack, moment, zone_name)
            if verdict:
                if offset is not None:
                    offsets[run.job.job_id] = offset
                return True, instant, note
            unknown |= verdict is None
    if run.persistent and run.timer is not None:
        starts = timer_starts.get((event.host, run.timer))
        if starts is None:
            return None  # the logs do not show when the timer was started: a catch-up run?
        window = max(s for _, s in slacks) + PERSISTENT_WINDOW
        if any(event.time - window <= s <= event.time for s in starts):
            return True, instant, note
    if unknown:
        return None
    return False, instant, note


def _capped(items: list[tuple[_Run, str]]) -> Iterator[Finding]:
    items.sort(key=lambda item: item[0].event.time)
    for index, (run, note) in enumerate(items[:MAX_FINDINGS_PER_JOB]):
        more = len(items) - MAX_FINDINGS_PER_JOB
        tail = ""
        if index == MAX_FINDINGS_PER_JOB - 1 and more > 0:
            tail = f"; and {more} more such run(s) until {_when(items[-1][0].event)}"
        yield _off_schedule_finding(run, note, tail)


def _off_schedule_finding(run: _Run, note: str, tail: str) -> Finding:
    event = run.event
    schedules = "; ".join(
        _unique(f"{_schedule_text(c.schedule)} in {c.job.name}" for c in run.candidates)
    )
    extra_note = f"; {note}" if note else ""
    if run.timer is None:
        message = (
            f"cron ran {event.command!r} as {event.actor} at {_when(event)} ({_where(event)}), "
            f"but no entry on disk for that command and user has a run time shortly before "
            f"({schedules}{extra_note}): cron ran an entry that is not on disk now (the table "
            "was changed after the run, perhaps back again, or the table is gone); a jump of "
            f"the clock also makes cron run missed jobs late{tail}"
        )
        severity = Severity.MEDIUM
        remediation = (
            "Find who changed the crontab around that time (crontab REPLACE/END EDIT lines, "
            "auditd writes to the table, file times) and what the command did then."
        )
    else:
        message = (
            f"{event.job_name} was started at {_when(event)} ({_where(event)}), but its timer "
            f"{run.timer} has no elapse shortly before ({schedules}{extra_note}): started by "
            f"hand (systemctl start), by another unit, or the timer was changed after the run{tail}"
        )
        severity = Severity.LOW
        remediation = (
            "Check who started the unit then (journal entries around it, auditd systemctl "
            "executions) and whether the timer or service was changed."
        )
    return Finding(
        "JOB_RUN_OFF_SCHEDULE",
        RULES["JOB_RUN_OFF_SCHEDULE"],
        severity,
        (run.job.technique,) if run.job.technique else (),
        run.job.job_id,
        event.evidence,
        message,
        remediation,
    )


def _timer_starts(events: Iterable[JobEvent]) -> dict[tuple[str, str], list[datetime]]:
    found: dict[tuple[str, str], list[datetime]] = {}
    for event in events:
        if "unit_event" in event.extra and event.job_name.endswith(".timer"):
            starts = found.setdefault((event.host, event.job_name), [])
            if event.action in ("starting", "started"):
                starts.append(event.time)
    return found


def _random_delay(job: ScheduledJob) -> timedelta:
    """cronie's RANDOM_DELAY (minutes) set in the job's table: each job starts up to that late."""
    for name, value in reversed(job.environment):
        if name == "RANDOM_DELAY":
            text = value.strip()
            return timedelta(minutes=int(text)) if text.isdigit() and len(text) < 7 else timedelta()
    return timedelta()


def _persistent(schedule: Schedule) -> bool:
    if isinstance(schedule, CalendarSchedule):
        return schedule.persistent
    if isinstance(schedule, CompositeSchedule):
        return any(_persistent(p) for p in schedule.parts)
    return False


def _own_zone(schedule: Schedule) -> bool:
    """Whether the schedule names its own zone (CRON_TZ, a zone at the end of OnCalendar)."""
    if isinstance(schedule, CronSchedule | MacroSchedule):
        return schedule.timezone is not None
    if isinstance(schedule, CalendarSchedule):
        return any(":" not in text.split()[-1] for text in schedule.normalized if text.split())
    if isinstance(schedule, DrivenSchedule):
        return schedule.driver_schedule is not None and _own_zone(schedule.driver_schedule)
    if isinstance(schedule, CompositeSchedule):
        return any(_own_zone(p) for p in schedule.parts)
    return False


def _schedule_text(schedule: Schedule) -> str:
    if isinstance(schedule, CronSchedule):
        zone = f" CRON_TZ={schedule.timezone}" if schedule.timezone else ""
        return f"'{schedule.expression}'{zone}"
    if isinstance(schedule, MacroSchedule):
        return schedule.macro
    if isinstance(schedule, CalendarSchedule):
        return "OnCalendar=" + ", ".join(schedule.expressions or schedule.normalized)
    return schedule.description


# ---------------------------------------------------------------------------------------------
# Windows: why the task started


def on_demand(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    for event in EventIndex.of(events).acting("launched"):
        if _launch_id(event) != ON_DEMAND or not event.job_name:
            continue
        yield Finding(
            "TASK_RUN_ON_DEMAND",
            RULES["TASK_RUN_ON_DEMAND"],
            Severity.LOW,
            ("T1053.005",),
            _job_id(event),
            event.evidence,
            f"task {event.job_name} was launched on demand by {event.actor or 'an unknown user'} "
            f"at {_when(event)} (event 110, {_where(event)}), not by one of its triggers: run "
            "by hand (schtasks /run, the Task Scheduler UI) or through the Task Scheduler API",
            "Confirm that whoever ran it meant to; attackers run a task they planted, or a "
            "built-in one they hijacked (SilentCleanup UAC bypass), on demand.",
        )


@dataclass(frozen=True, slots=True)
class _Launch:
    """A launch by a trigger (107/108/109/117/118/119) and the definition it is judged by."""

    event: JobEvent
    kind: str  # of trigger, from the event id
    definition: ScheduledJob
    origin: str  # where the definition came from, in words
    logged: bool  # from a 4698/4702 event (else the task on disk)

    @property
    def defined(self) -> bool:
        """Whether the definition has a trigger of the launch's kind (or one that may launch
        anything)."""
        kinds = _trigger_kinds(self.definition.schedule)
        return bool(kinds & (TIME_TRIGGERS if self.kind == "time" else {self.kind})) or (
            "any" in kinds
        )

    @property
    def job_id(self) -> str | None:
        return _job_id(self.event) or (self.definition.job_id if not self.logged else None)


def _task_launches(events: Sequence[JobEvent], context: LogContext) -> Iterator[_Launch]:
    """Each launch by a trigger with its task's definition: the last 4698/4702 before it whose
    TaskContent was read, else the task on disk (by the event's job id, else by name); launches
    of tasks with neither are left out."""
    index = EventIndex.of(events)
    definitions: dict[str, list[JobEvent]] = {}
    for event in index.acting("registered", "updated"):
        if event.action not in ("registered", "updated") or not event.job_name:
            continue
        if isinstance(event.extra.get("definition"), ScheduledJob):
            definitions.setdefault(task_key(event.job_name), []).append(event)
    on_disk: dict[str, ScheduledJob] = {}
    by_id: dict[str, ScheduledJob] = {}
    for job in context.jobs or ():
        if job.mechanism is Mechanism.WINDOWS_TASK:
            on_disk.setdefault(task_key(job.name), job)
            by_id[job.job_id] = job
    for event in index.acting("launched"):
        kind = LAUNCH_TRIGGERS.get(_launch_id(event) or 0)
        if kind is None or not event.job_name:
            continue
        key = task_key(event.job_name)
        earlier = [d for d in definitions.get(key, ()) if d.time <= event.time]
        if earlier:
            source = max(earlier, key=lambda d: d.time)
            definition = source.extra["definition"]
            assert isinstance(definition, ScheduledJob)
            origin = f"its definition logged at {_when(source)} ({_where(source)})"
        else:
            found = by_id.get(str(event.extra.get("job_id") or "")) or on_disk.get(key)
            if found is None:
                continue
            definition, origin = found, f"the task on disk ({found.evidence.path})"
        yield _Launch(event, kind, definition, origin, bool(earlier))


def trigger_not_defined(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    for launch in _task_launches(events, context):
        if launch.defined:
            continue
        event, kind = launch.event, launch.kind
        have = launch.definition.schedule.description or "no trigger"
        yield Finding(
            "TASK_TRIGGER_NOT_DEFINED",
            RULES["TASK_TRIGGER_NOT_DEFINED"],
            Severity.MEDIUM,
            ("T1053.005",),
            launch.job_id,
            event.evidence,
            f"task {event.job_name} was launched by a {kind} trigger at {_when(event)} (event "
            f"{_launch_id(event)}, {_where(event)}), but {launch.origin} has no such trigger "
            f"({have}): its triggers were changed after that run (and perhaps back), or "
            "another task of that name ran",
            "Compare the task's triggers with its history (4702 updates, TaskCache Triggers "
            "value) and find who changed them.",
        )


def off_trigger_times(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    """Time-triggered launches (107) at a moment none of the task's calendar triggers fires,
    allowing Task Scheduler's lag (two minutes, as for cron) and each trigger's RandomDelay.
    The triggers are read again from the definition's XML (`raw`, or its Triggers and Settings,
    `timing_xml`, for a task on disk whose XML is longer than `raw` keeps): the model keeps them
    only as words. Not judged: tasks with a trigger that is not calendar-based (boot, logon,
    event, idle, ...: their repetitions are launched as time-triggered too, at times that follow
    from no calendar; the kind of trigger is TASK_TRIGGER_NOT_DEFINED's matter), tasks with
    StartWhenAvailable (a missed start runs later, at any time) or RestartOnFailure, a
    definition without XML (TaskCache-only tasks, .job files), launches TASK_TRIGGER_NOT_DEFINED
    reports already (no time trigger at all), and launch times on a log's wall clock (EVTX times
    are UTC). With the host's zone known the triggers' wall clock is read in it; unknown, in
    every UTC offset, so that only a launch that fits no offset is reported."""
    clock = context.clock
    fires_at = clock.task_fires_at if clock is not None else None
    if fires_at is None:
        return
    found: dict[str, list[tuple[_Launch, str]]] = {}
    seen: set[tuple[str, datetime]] = set()
    for launch in _task_launches(events, context):
        event, definition = launch.event, launch.definition
        timing = _text(definition.extra.get("timing_xml")) or definition.raw
        if launch.kind != "time" or not launch.defined or not timing:
            continue
        if event.extra.get("local_time") is True:
            continue
        key = task_key(event.job_name)
        if (key, event.time) in seen:  # the same launch in two copies of the log
            continue
        seen.add((key, event.time))
        tz_name = context.host_timezone or _text(definition.extra.get("host_timezone"))
        if fires_at(timing, event.time, tz_name) is not False:
            continue
        if zone(tz_name) is not None:
            note = f"a StartBoundary without a zone read in the host's zone {tz_name}"
        else:
            note = (
                "the host's time zone is unknown: a StartBoundary without a zone was read "
                "in every UTC offset"
            )
        found.setdefault(key, []).append((launch, note))
    for items in found.values():
        items.sort(key=lambda item: item[0].event.time)
        for number, (launch, note) in enumerate(items[:MAX_FINDINGS_PER_JOB], 1):
            more = len(items) - MAX_FINDINGS_PER_JOB
            tail = ""
            if number == MAX_FINDINGS_PER_JOB and more > 0:
                tail = f"; and {more} more such launch(es) until {_when(items[-1][0].event)}"
            yield _off_trigger_finding(launch, note, tail)


def _off_trigger_finding(launch: _Launch, note: str, tail: str) -> Finding:
    event = launch.event
    triggers = launch.definition.schedule.description or "no trigger"
    return Finding(
        "TASK_RUN_OFF_SCHEDULE",
        RULES["TASK_RUN_OFF_SCHEDULE"],
        Severity.MEDIUM,
        ("T1053.005",),
        launch.job_id,
        event.evidence,
        f"task {event.job_name} was launched by a time trigger at {_when(event)} (event 107, "
        f"{_where(event)}), but none of the triggers of {launch.origin} fires then or up to "
        f"two minutes (and its random delay) before ({triggers}; {note}): its triggers were "
        f"changed after that run (and perhaps back), or another task of that name ran{tail}",
        "Compare the task's triggers with its history (4702 updates, the XML file's and the "
        "TaskCache key's times) and find who changed them, and what the task ran at that time.",
    )


def _launch_id(event: JobEvent) -> int | None:
    if event.action != "launched" or event.extra.get("channel") != TASK_CHANNEL:
        return None
    value = event.extra.get("event_id")
    return value if isinstance(value, int) else None


def _trigger_kinds(schedule: Schedule) -> set[str]:
    """The kinds of trigger a task has; `any` when one of them could explain any launch."""
    if isinstance(schedule, CompositeSchedule):
        return set().union(*(_trigger_kinds(p) for p in schedule.parts))
    if isinstance(schedule, OneShotSchedule):
        return {"time"}
    if isinstance(schedule, UnknownSchedule):
        return set()  # no trigger: only on demand
    if isinstance(schedule, TriggerSchedule):
        kinds = {schedule.trigger if schedule.trigger in KNOWN_TRIGGERS else "any"}
        if "repeating every" in schedule.description:
            kinds.add("time")  # repetitions are launched as time-triggered instances
        return kinds
    return {"any"}


# ---------------------------------------------------------------------------------------------
# without an inventory: one run off a steady cadence


def off_cadence(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    # one cheap pass over the runs (a year of syslog holds millions): the runs of each command
    # by time, one per distinct time; the rest is done on those
    by_command: _ByCommand = {}
    for event in EventIndex.of(events).acting("ran"):
        if event.action == "ran" and event.job_name == "cron":
            runs_of = (event.command, event.actor, event.host)
            times = by_command.get(runs_of)
            if times is None:
                times = by_command[runs_of] = {}
            times.setdefault(event.time, event)
    by_number = _runs_by_minute(by_command)
    if by_number is not None:
        for runs in by_number.values():
            if len(runs) >= MIN_HISTORY + 2:
                numbers = list(runs)  # mostly in time order already, as logs are
                if all(map(lt, numbers, islice(numbers, 1, None))):
                    yield from _cadence_breaks(numbers, list(runs.values()))
                else:
                    numbers.sort()
                    yield from _cadence_breaks(numbers, [runs[n] for n in numbers])
        return
    for minutes in _runs_by_minute_time(by_command).values():
        if len(minutes) >= MIN_HISTORY + 2:
            ordered = sorted(minutes)
            numbers = [_minute_number(minute) for minute in ordered]
            yield from _cadence_breaks(numbers, [minutes[minute] for minute in ordered])


_ByCommand = dict[tuple[str | None, str | None, str], dict[datetime, JobEvent]]
_Group = tuple[str, str, str, bool]  # host, user, command with its spaces folded, wall clock


def _runs_by_minute(by_command: _ByCommand) -> dict[_Group, dict[int, JobEvent]] | None:
    """The runs of each command not tied to a job (by host, user, command with its spaces
    folded, and whether the times are a log's wall clock), the first of each minute, by its
    `_minute_number`. None unless every time has one fixed-offset zone (or none), in which
    minutes are equal as times exactly when their numbers are (else `_runs_by_minute_time`)."""
    groups: dict[_Group, dict[int, JobEvent]] = {}
    first_zone: tzinfo | None = None
    for (command, actor, host), times in by_command.items():
        if command is None or len(times) < MIN_HISTORY + 2:
            continue
        same = (host.casefold(), actor or "", " ".join(command.split()))
        into: dict[bool, dict[int, JobEvent]] = {}
        for moment, event in times.items():
            extra = event.extra
            if extra.get("job_id"):
                continue  # tied to a job on disk: its schedule is the judge (off_schedule)
            if moment.tzinfo is not first_zone:
                if groups or not isinstance(moment.tzinfo, timezone):
                    return None  # a second zone, or one whose offset changes
                first_zone = moment.tzinfo
            local = extra.get("local_time") is True  # a log's wall clock, or UTC
            runs = into.get(local)
            if runs is None:
                runs = into[local] = groups.setdefault((*same, local), {})
            runs.setdefault(moment.toordinal() * 1440 + moment.hour * 60 + moment.minute, event)
    return groups


def _runs_by_minute_time(by_command: _ByCommand) -> dict[_Group, dict[datetime, JobEvent]]:
    """As `_runs_by_minute`, each minute as a time (times in several zones)."""
    groups: dict[_Group, dict[datetime, JobEvent]] = {}
    for (command, actor, host), times in by_command.items():
        if command is None or len(times) < MIN_HISTORY + 2:
            continue
        for moment, event in times.items():
            if event.extra.get("job_id"):
                continue
            local = event.extra.get("local_time") is True
            key = (host.casefold(), actor or "", " ".join(command.split()), local)
            minute = moment.replace(second=0, microsecond=0)
            groups.setdefault(key, {}).setdefault(minute, event)
    return groups


def _minute_number(moment: datetime) -> int:
    """The minute of a time on its own wall clock, counted from 0001-01-01 00:00."""
    return moment.toordinal() * 1440 + moment.hour * 60 + moment.minute


def _cadence_breaks(minutes: list[int], events: list[JobEvent]) -> Iterator[Finding]:
    """The runs (their `_minute_number`s in time order, and events) off the cadence of the
    runs around them."""
    cadence = _cadence(minutes)
    if cadence is None:
        return
    period, phase = cadence
    off = [(other - phase) % period > LATE for other in _phases(minutes, period)]
    last_on = len(off) - 1 - off[::-1].index(False) if False in off else -1
    for earlier_off, index in enumerate(compress(count(), off)):
        before = index - earlier_off  # runs on the cadence before this one
        if before < MIN_HISTORY or last_on < index:  # none on the cadence after it
            continue
        event = events[index]
        yield Finding(
            "JOB_RUN_OFF_CADENCE",
            RULES["JOB_RUN_OFF_CADENCE"],
            Severity.LOW,
            ("T1053.003",),
            None,
            event.evidence,
            f"cron ran {event.command!r} as {event.actor} at {_when(event)} ({_where(event)}), "
            f"off the cadence of its other runs ({before} before it and more after it all "
            f"{_cadence_text(period, phase)}): its table held another entry for a while, or "
            "the clock jumped",
            "Look for a crontab change around that time (crontab REPLACE/END EDIT lines, "
            "auditd writes to the table) and what the command did then.",
        )


def _cadence(minutes: Sequence[int]) -> tuple[int, int] | None:
    """(period, phase) in minutes: the longest period at which most runs fall at one point.
    The runs are counted once per minute of the week, then per phase of each period from
    those counts (as `_phases`: of the week for periods longer than a day)."""
    week = Counter(_phases(minutes, WEEK))
    day: dict[int, int] = {}
    for minute, runs in week.items():
        day[minute % 1440] = day.get(minute % 1440, 0) + runs
    for period in PERIODS:
        counts: dict[int, int] = {}
        for minute, runs in (week if period > 1440 else day).items():
            phase = minute % period
            counts[phase] = counts.get(phase, 0) + runs
        best = max(counts, key=lambda p: (counts[p] + counts.get((p + LATE) % period, 0), -p))
        lates = range(min(LATE, period - 1) + 1)  # on the phase: up to LATE minutes after it
        on = sum(counts.get((best + late) % period, 0) for late in lates)
        share = on / len(minutes)
        if share >= ON_CADENCE_SHARE and counts[best] >= MIN_HISTORY:
            return period, best
    return None


def _phases(minutes: Iterable[int], period: int) -> list[int]:
    """The point of a cycle of `period` minutes (of the day; of the week when longer) at which
    each `_minute_number` falls. 0001-01-01 was a Monday."""
    if period > 1440:  # the minute of the week from Monday 00:00 (day 1 + 6 days: 0)
        return [(minute + 6 * 1440) % WEEK % period for minute in minutes]
    return [minute % 1440 % period for minute in minutes]


def _cadence_text(period: int, phase: int) -> str:
    if period >= 7 * 1440:
        day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        return f"on {day[phase // 1440]} at {phase % 1440 // 60:02d}:{phase % 60:02d}"
    if period >= 1440:
        return f"daily at {phase // 60:02d}:{phase % 60:02d}"
    if period >= 60:
        return f"every {period // 60} h at minute {phase % 60} past {phase // 60} h"
    return f"every {period} min from minute {phase}"


# ---------------------------------------------------------------------------------------------
# helpers


def _cron_key(user: str | None, command: str) -> tuple[str, str]:
    return ((user or "").casefold(), " ".join(command.split()))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _job_id(event: JobEvent) -> str | None:
    value = event.extra.get("job_id")
    return value if isinstance(value, str) else None


def _when(event: JobEvent) -> str:
    if event.extra.get("local_time") is True:
        return event.time.strftime("%Y-%m-%d %H:%M:%S") + " (the log's local time)"
    return event.time.isoformat().replace("+00:00", "Z")


def _where(event: JobEvent) -> str:
    record = event.extra.get("record_id")
    if record is not None:
        return f"{event.evidence.path} record {record}"
    if event.evidence.line:
        return f"{event.evidence.path} line {event.evidence.line}"
    return event.evidence.path


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


LOG_ANALYZERS_SCHEDULE: tuple[LogAnalyzer, ...] = (
    LogAnalyzer("job_off_schedule", RULES["JOB_RUN_OFF_SCHEDULE"], off_schedule),
    LogAnalyzer("task_on_demand", RULES["TASK_RUN_ON_DEMAND"], on_demand),
    LogAnalyzer("task_trigger_not_defined", RULES["TASK_TRIGGER_NOT_DEFINED"], trigger_not_defined),
    LogAnalyzer("task_off_trigger_times", RULES["TASK_RUN_OFF_SCHEDULE"], off_trigger_times),
    LogAnalyzer("job_off_cadence", RULES["JOB_RUN_OFF_CADENCE"], off_cadence),
)
