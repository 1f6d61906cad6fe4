"""Built-in T1053 analytics over job events from logs.

- a task created and deleted again within minutes, and the impacket atexec fingerprint
  (`cmd.exe /C <cmd> > %windir%\\Temp\\<8 letters>.tmp 2>&1` in a task of the same 8 letters);
- a 4702 update that changes the task's action (against an earlier event or the task on disk);
- a task registered or updated in the logon session of a network logon (same LogonId as a 4624
  of type 3): remote registration;
- TaskCache Tree `SD` or `Index` values deleted, or `Index` set to 0 (Tarrask-style hiding);
- cron's own tampering signals: INSECURE MODE, WRONG FILE OWNER, BAD FILE MODE, ORPHAN and
  friends;
- crontab REPLACE of another user's table, or by an account not expected to edit crontabs;
- with an inventory: tasks seen in the logs that are not on disk.

References: reference/windows.md §c; reference/linux.md §c; https://attack.mitre.org/techniques/T1053/
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from ..model import ExecAction, Finding, JobEvent, ScheduledJob, Severity, task_key
from .log_base import EventIndex, LogAnalyzer, LogContext

T1053_005 = ("T1053.005",)
T1053_003 = ("T1053.003",)
TASK_SOURCES = ("Security", "Microsoft-Windows-TaskScheduler/Operational")
CREATED = frozenset({"registered"})
GONE = frozenset({"deleted"})
_ATEXEC = re.compile(
    r"^cmd(?:\.exe)? /C .* > %windir%\\Temp\\([A-Za-z]{8})\.tmp 2>&1$", re.IGNORECASE
)
TAMPERING = {
    "insecure_mode": (
        "CRON_INSECURE_MODE",
        "Cron refused a table with unsafe permissions",
        Severity.MEDIUM,
    ),
    "wrong_file_owner": (
        "CRON_WRONG_FILE_OWNER",
        "Cron refused a table owned by the wrong user",
        Severity.MEDIUM,
    ),
    "bad_file_mode": (
        "CRON_BAD_FILE_MODE",
        "Cron refused a table with a bad file mode",
        Severity.MEDIUM,
    ),
    "bad_link_count": ("CRON_BAD_LINK_COUNT", "Cron refused a hard-linked table", Severity.MEDIUM),
    "not_regular": (
        "CRON_NOT_REGULAR",
        "Cron refused a table that is not a regular file",
        Severity.MEDIUM,
    ),
    "orphan": ("CRON_ORPHAN", "Cron table of a user with no passwd entry", Severity.MEDIUM),
}

RULES: dict[str, str] = {
    "TASK_SHORT_LIVED": "Scheduled task created and deleted within minutes",
    "TASK_ATEXEC": "Scheduled task with the impacket atexec fingerprint",
    "TASK_ACTION_CHANGED": "Scheduled task update changed what it runs",
    "TASK_REMOTE_REGISTRATION": "Scheduled task registered or changed over a network logon",
    "TASK_CACHE_HIDING": "TaskCache SD or Index value removed or zeroed (hidden task)",
    "TASK_NOT_ON_DISK": "Task in the logs that is not on disk",
    "JOB_FAILED_RUNS": "Spike of failed runs of one job",
    "CRONTAB_REPLACED_BY_OTHER": "Crontab replaced by an unexpected user",
    **{rule: title for rule, title, _ in TAMPERING.values()},
}


def _finding(
    rule: str,
    severity: Severity,
    event: JobEvent,
    message: str,
    remediation: str,
    techniques: tuple[str, ...] = T1053_005,
    job_id: str | None = None,
) -> Finding:
    job = job_id or _job_id(event)
    return Finding(
        rule, RULES[rule], severity, techniques, job, event.evidence, message, remediation
    )


def _job_id(event: JobEvent) -> str | None:
    value = event.extra.get("job_id")
    return value if isinstance(value, str) else None


def _where(event: JobEvent) -> str:
    record = event.extra.get("record_id")
    line = event.evidence.line
    return f"record {record}" if record is not None else (f"line {line}" if line else "")


def _task_events(events: Iterable[JobEvent]) -> Iterator[JobEvent]:
    for event in events:
        if event.job_name and event.extra.get("channel") in TASK_SOURCES:
            yield event


def short_lived(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    created: dict[tuple[str, str], JobEvent] = {}
    ran: dict[tuple[str, str], list[JobEvent]] = {}  # the processes of named tasks
    for process in EventIndex.of(events).acting("task_process"):
        if process.action == "task_process" and process.job_name:
            ran.setdefault((process.host.casefold(), task_key(process.job_name)), []).append(
                process
            )
    for event in _task_events(EventIndex.of(events).acting(*CREATED, *GONE)):
        key = (event.host.casefold(), task_key(event.job_name))
        if event.action in CREATED:
            created[key] = event
            match = _ATEXEC.match(event.command or "")
            if match and match.group(1).casefold() == event.job_name.strip("\\").casefold():
                yield _finding(
                    "TASK_ATEXEC",
                    Severity.CRITICAL,
                    event,
                    f"task {event.job_name} runs {event.command}: the command and name pattern "
                    f"of impacket atexec (registered by {event.actor}, {_where(event)})",
                    "Treat as remote command execution: find the source of the logon session "
                    "(4624 with the same LogonId, 5145 on atsvc) and the output file in Temp.",
                )
        elif event.action in GONE and key in created:
            first = created.pop(key)
            if first.time <= event.time <= first.time + context.short_lived:
                seconds = int((event.time - first.time).total_seconds())
                yield _finding(
                    "TASK_SHORT_LIVED",
                    Severity.HIGH,
                    first,
                    f"task {event.job_name} was created and deleted {seconds} s later "
                    f"(runs {first.command}; by {first.actor}{_runs(ran.get(key), first, event)}):"
                    " a task used once to run a command, as atexec, smbexec-style tools and "
                    "malware do",
                    "Find what the command did (output files, child processes at that time) "
                    "and who held the logon session.",
                )


def _runs(processes: Sequence[JobEvent] | None, created: JobEvent, deleted: JobEvent) -> str:
    """What the task's processes between its creation and deletion say: that it ran, as whom."""
    runs = [p for p in processes or () if created.time <= p.time <= deleted.time]
    if not runs:
        return ""
    times = "once" if len(runs) == 1 else f"{len(runs)} times"
    return f"; it ran {times}, as {runs[0].actor}: {runs[0].command} ({_where(runs[0])})"


def action_changed(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    known: dict[tuple[str, str], str] = {}
    for job in context.jobs or ():
        if job.mechanism.value == "windows_task":
            known[("", task_key(job.name))] = _commands(job)
    for event in _task_events(EventIndex.of(events).acting("registered", "updated")):
        if event.extra.get("channel") != "Security" or event.command is None:
            continue
        key = (event.host.casefold(), task_key(event.job_name))
        before = known.get(key) or known.get(("", key[1]))
        if event.action == "updated" and before is not None and before != event.command:
            yield _finding(
                "TASK_ACTION_CHANGED",
                Severity.HIGH,
                event,
                f"task {event.job_name} was updated by {event.actor} to run {event.command} "
                f"instead of {before} ({_where(event)})",
                "Compare with the task's approved definition; an attacker can hijack an "
                "existing task to run their payload with its privileges.",
            )
        if event.action in ("registered", "updated"):
            known[key] = event.command


def _commands(job: ScheduledJob) -> str:
    parts = [a.command_line for a in job.actions if isinstance(a, ExecAction)]
    return " && ".join(parts)


def remote_registration(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    index = EventIndex.of(events)
    logons: dict[tuple[str, str], JobEvent] = {}
    for event in index.acting("logon"):
        if event.action == "logon" and event.extra.get("logon_type") == "3":
            logon_id = str(event.extra.get("logon_id") or "")
            if logon_id:
                logons[(event.host.casefold(), logon_id)] = event
    if not logons:
        return
    for event in _task_events(index.acting("registered", "updated")):
        if (
            event.action not in ("registered", "updated")
            or event.extra.get("channel") != "Security"
        ):
            continue
        logon = logons.get((event.host.casefold(), str(event.extra.get("logon_id") or "")))
        if logon is None or logon.time > event.time:
            continue
        address = logon.extra.get("source_address") or "an unknown address"
        verb = "registered" if event.action == "registered" else "updated"
        yield _finding(
            "TASK_REMOTE_REGISTRATION",
            Severity.HIGH,
            event,
            f"task {event.job_name} was {verb} (runs {event.command}) in the logon session "
            f"{event.extra.get('logon_id')} of a network logon by {logon.actor} from {address}",
            "Confirm the remote administrator and the source host; remote task registration "
            "is a common lateral-movement step (atexec, schtasks /s).",
        )


def task_cache_hiding(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    # only a deletion, or a value set to 0, is reported
    for event in EventIndex.of(events).acting("registry_value_deleted", "registry_value_set"):
        value = str(event.extra.get("value") or "").casefold()
        if value not in ("sd", "index") or not event.job_name:
            continue
        zeroed = (
            event.action == "registry_value_set"
            and value == "index"
            and "0x00000000" in str(event.extra.get("details") or "")
        )
        if event.action == "registry_value_deleted" or zeroed:
            what = "set to 0" if zeroed else "deleted"
            yield _finding(
                "TASK_CACHE_HIDING",
                Severity.HIGH,
                event,
                f"TaskCache Tree value {value.upper() if value == 'sd' else 'Index'} of task "
                f"{event.job_name} was {what} by {event.extra.get('image') or 'an unknown process'}: "
                "the task is hidden from schtasks and the Task Scheduler UI but still runs",
                "Inspect the task's Tree key and XML on the host (schedwarden audit on the "
                "image reports it as hidden) and remove it if it is not yours.",
            )


def cron_tampering(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    for event in EventIndex.of(events).acting(*TAMPERING):
        rule = TAMPERING.get(event.action)
        if rule is None:
            continue
        rule_id, _, severity = rule
        reason = event.extra.get("reason")
        yield _finding(
            rule_id,
            severity,
            event,
            f"cron reported {event.extra.get('event', event.action)} for {event.job_name} "
            f"(user {event.actor}{'; ' + str(reason) if reason else ''}): a table someone wrote "
            "outside crontab(1), or whose owner was removed",
            "Inspect the named table and who wrote it; cron ignores it now, but its content "
            "shows what was attempted.",
            T1053_003,
        )


def crontab_replaced(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    for event in EventIndex.of(events).acting("crontab_replaced"):
        if event.action != "crontab_replaced" or event.extra.get("daemon") != "crontab":
            continue
        actor = event.actor or ""
        target = str(event.extra.get("target_user") or "")
        if actor == target:
            continue  # a user replacing their own table
        severity = Severity.MEDIUM if actor in context.crontab_editors else Severity.HIGH
        yield _finding(
            "CRONTAB_REPLACED_BY_OTHER",
            severity,
            event,
            f"{actor} replaced the crontab of {target}",
            "Check that the change to the other user's crontab was intended; review its jobs.",
            T1053_003,
        )


def not_on_disk(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    if context.jobs is None:
        return
    on_disk = {task_key(j.name) for j in context.jobs if j.mechanism.value == "windows_task"}
    last: dict[str, JobEvent] = {}
    for event in _task_events(EventIndex.of(events).having("channel")):
        last[task_key(event.job_name)] = event
    for key, event in last.items():
        if key in on_disk:
            continue
        if event.action in GONE:
            continue  # deleted, as the logs say
        yield _finding(
            "TASK_NOT_ON_DISK",
            Severity.MEDIUM,
            event,
            f"task {event.job_name} was last {event.action} in the logs but is not on disk and "
            "no deletion was logged: deleted without a trace, or hidden",
            "Look for the task in the TaskCache (registry-only tasks) and in other images.",
        )


FAILED_SPIKE = 5
FAILED_WINDOW = timedelta(hours=1)


def _failed(event: JobEvent) -> bool:
    if event.action == "failed":
        return True
    code = str(event.extra.get("result_code") or "0")
    return event.action == "action_completed" and code not in ("0", "0x0")


def failed_runs(events: Sequence[JobEvent], context: LogContext) -> Iterator[Finding]:
    """FAILED_SPIKE or more failures of one job within FAILED_WINDOW: a payload that no longer
    works, a deleted binary, or a job retried by someone probing (reported once per job)."""
    failures: dict[tuple[str, str], list[JobEvent]] = {}
    for event in EventIndex.of(events).acting("failed", "action_completed"):
        if event.job_name and _failed(event):
            failures.setdefault((event.host.casefold(), event.job_name.casefold()), []).append(
                event
            )
    for items in failures.values():
        items.sort(key=lambda e: e.time)
        for first, event in enumerate(items):
            last = first + FAILED_SPIKE - 1
            if last < len(items) and items[last].time - event.time <= FAILED_WINDOW:
                yield _finding(
                    "JOB_FAILED_RUNS",
                    Severity.MEDIUM,
                    event,
                    f"{event.job_name} failed {FAILED_SPIKE} times or more within "
                    f"{int(FAILED_WINDOW.total_seconds() // 60)} minutes from {plain_time(event)}",
                    "Find why the job fails (result codes, missing program); a job that suddenly "
                    "fails may have been tampered with or its payload removed.",
                    T1053_003 if event.job_name == "cron" else T1053_005,
                )
                break


def plain_time(event: JobEvent) -> str:
    return event.time.isoformat().replace("+00:00", "Z")


LOG_ANALYZER_SHORT_LIVED = LogAnalyzer("task_short_lived", RULES["TASK_SHORT_LIVED"], short_lived)
LOG_ANALYZERS_T1053: tuple[LogAnalyzer, ...] = (
    LOG_ANALYZER_SHORT_LIVED,
    LogAnalyzer("task_action_changed", RULES["TASK_ACTION_CHANGED"], action_changed),
    LogAnalyzer("task_remote_registration", RULES["TASK_REMOTE_REGISTRATION"], remote_registration),
    LogAnalyzer("task_cache_hiding", RULES["TASK_CACHE_HIDING"], task_cache_hiding),
    LogAnalyzer("cron_tampering", "Cron's own tampering signals", cron_tampering),
    LogAnalyzer("crontab_replaced", RULES["CRONTAB_REPLACED_BY_OTHER"], crontab_replaced),
    LogAnalyzer("task_not_on_disk", RULES["TASK_NOT_ON_DISK"], not_on_disk),
    LogAnalyzer("job_failed_runs", RULES["JOB_FAILED_RUNS"], failed_runs),
)
