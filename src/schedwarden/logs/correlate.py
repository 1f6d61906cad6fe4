"""Events tied to the jobs of an inventory: Windows tasks by task path (case-insensitive), cron
runs by user and command, anacron by job name. The job id is added to the event's `extra`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from operator import attrgetter
from typing import Any

from ..model import (
    Effective,
    Evidence,
    ExecAction,
    JobEvent,
    Mechanism,
    ScheduledJob,
    SourceKind,
    task_key,
)
from .inventory_schedule import environment_from_document, schedule_from_document
from .task_runs import ActionRuns

_ACTION = attrgetter("action")


def _cron_key(user: str | None, command: str) -> tuple[str, str]:
    return ((user or "").casefold(), " ".join(command.split()))


def tie(events: Iterable[JobEvent], jobs: Sequence[ScheduledJob]) -> list[JobEvent]:
    tasks: dict[str, str] = {}
    crons: dict[tuple[str, str], str] = {}
    named: dict[str, str] = {}
    for job in jobs:
        if job.mechanism is Mechanism.WINDOWS_TASK:
            tasks.setdefault(task_key(job.name), job.job_id)
        elif job.mechanism in (Mechanism.CRON, Mechanism.AT):
            for action in job.actions:
                if isinstance(action, ExecAction):
                    crons.setdefault(_cron_key(job.run_as, action.command_line), job.job_id)
        named.setdefault(job.name.casefold(), job.job_id)
    out: list[JobEvent] = []
    cron_keys: dict[tuple[str | None, str], tuple[str, str]] = {}  # a log repeats its commands
    for event in events:
        job_id: str | None = None
        if event.job_name.startswith("\\"):
            job_id = tasks.get(task_key(event.job_name))
        elif event.action == "ran" and event.command is not None:
            if crons:
                run = (event.actor, event.command)
                key = cron_keys.get(run)
                if key is None:
                    key = cron_keys[run] = _cron_key(*run)
                job_id = crons.get(key)
        elif event.job_name.startswith("anacron:"):
            job_id = named.get(event.job_name[len("anacron:") :].casefold())
        out.append(replace(event, extra={**event.extra, "job_id": job_id}) if job_id else event)
    return out


def jobs_from_inventory(document: Mapping[str, Any]) -> list[ScheduledJob]:
    """The jobs of a `schedwarden.audit/1` document (`audit -f json`), as much of each as
    correlation needs: id, mechanism, name, user, commands, location; and, for comparing runs
    with schedules, the schedule, environment, unit and the host's time zone (`extra`), and the
    definition's text (`raw`: a task's triggers are read again from its XML)."""
    jobs: list[ScheduledJob] = []
    source = document.get("source")
    timezone = source.get("timezone") if isinstance(source, Mapping) else None
    for item in document.get("jobs") or ():
        if not isinstance(item, Mapping):
            continue
        try:
            mechanism = Mechanism(str(item.get("mechanism")))
        except ValueError:
            continue
        actions = tuple(
            ExecAction(command_line=str(a.get("command_line")))
            for a in item.get("actions") or ()
            if isinstance(a, Mapping) and a.get("kind") == "exec"
        )
        where = item.get("evidence") if isinstance(item.get("evidence"), Mapping) else {}
        assert isinstance(where, Mapping)
        jobs.append(
            ScheduledJob(
                job_id=str(item.get("job_id") or ""),
                mechanism=mechanism,
                technique=str(item.get("technique") or ""),
                name=str(item.get("name") or ""),
                run_as=str(item["run_as"]) if item.get("run_as") is not None else None,
                schedule=schedule_from_document(item.get("schedule")),
                actions=actions,
                effective=Effective(None, "from an inventory file"),
                evidence=Evidence(
                    SourceKind.FILE, str(where.get("host") or ""), str(where.get("path") or "")
                ),
                environment=environment_from_document(item.get("environment")),
                raw=item["raw"] if isinstance(item.get("raw"), str) else "",
                extra=_extra(item.get("extra"), timezone),
            )
        )
    return jobs


def _extra(value: object, timezone: object) -> dict[str, object]:
    kept: dict[str, object] = {}
    if isinstance(value, Mapping):
        kept = {
            k: value[k]
            for k in ("unit", "scope", "service_type", "timing_xml")
            if isinstance(value.get(k), str)
        }
    if isinstance(timezone, str):
        kept["host_timezone"] = timezone
    return kept


def attribute(events: Sequence[JobEvent]) -> list[JobEvent]:
    """Task events in the session of a logged logon get the logon's account, type and source
    address (`logon_user`, `logon_type`, `source_address`): who created or changed the task, and
    from where."""
    if "logon" not in map(_ACTION, events):  # most logs: one pass over shared strings
        return list(events)
    logons: dict[tuple[str, str], JobEvent] = {}
    for event in events:
        if event.action == "logon":
            logon_id = str(event.extra.get("logon_id") or "")
            if logon_id:
                logons[(event.host.casefold(), logon_id)] = event
    if not logons:
        return list(events)
    out: list[JobEvent] = []
    for event in events:
        value = event.extra.get("logon_id")  # none, or "": in no logon's session
        logon = logons.get((event.host.casefold(), str(value))) if value else None
        if logon is None or event.action == "logon":
            out.append(event)
            continue
        added = {
            "logon_user": logon.actor,
            "logon_type": logon.extra.get("logon_type"),
            "source_address": logon.extra.get("source_address"),
        }
        out.append(replace(event, extra={**added, **event.extra}))
    return out


TASK_PROCESS_WINDOW = timedelta(seconds=60)  # a 129 and the process record it announces


def name_task_processes(events: Sequence[JobEvent]) -> list[JobEvent]:
    """Processes the Task Scheduler started (`task_process`, from Sysmon 1 or Security 4688,
    which do not name the task) get the task's name from the TaskScheduler event 129 that
    announced that process: the same host and process id, within TASK_PROCESS_WINDOW (the
    nearest in time when several); the 129's record is `launched_by` on the named event. Else
    from the action of a task registered or changed before it, in any file, whose command line
    it has (`task_runs`: a Sysmon log beside a Security log that registered the task, when the
    TaskScheduler log was not kept); that registration's record is `action_of`."""
    announced: dict[tuple[str, str], list[JobEvent]] = {}
    registrations: list[JobEvent] = []
    for event in events:
        if event.action == "process_created" and event.job_name:
            pid = str(event.extra.get("process_id") or "")
            if pid:
                announced.setdefault((event.host.casefold(), pid), []).append(event)
        elif event.action in ("registered", "updated"):
            registrations.append(event)
    if not announced and not registrations:
        return list(events)
    actions: ActionRuns | None = None  # made when a process no 129 names needs them
    out: list[JobEvent] = []
    for event in events:
        if event.action != "task_process" or event.job_name:
            out.append(event)
            continue
        pid = str(event.extra.get("process_id") or "")
        candidates = announced.get((event.host.casefold(), pid), ())
        nearest = min(candidates, key=lambda c: abs(c.time - event.time), default=None)
        if nearest is not None and abs(nearest.time - event.time) <= TASK_PROCESS_WINDOW:
            named = {"launched_by": nearest.extra.get("record_id")}
            out.append(replace(event, job_name=nearest.job_name, extra={**event.extra, **named}))
            continue
        if actions is None:
            actions = ActionRuns()
            for registration in registrations:
                actions.note(registration)
        fields = {
            "CommandLine": event.extra.get("command_line"),
            "ParentImage": event.extra.get("parent_image"),
        }
        action = actions.run_of(event.extra.get("record_id"), event.host, event.time, fields)
        if action is None:
            out.append(event)
            continue
        named = {"action_of": action.record_id}
        out.append(replace(event, job_name=action.task, extra={**event.extra, **named}))
    return out


def without_creation(events: Sequence[JobEvent], jobs: Sequence[ScheduledJob]) -> list[str]:
    """Windows tasks on disk with no registration in logs that record registrations (the
    Security or TaskScheduler channel): created before the logs begin, or without a trace."""
    channels = {e.extra.get("channel") for e in events}
    if not channels & {"Security", "Microsoft-Windows-TaskScheduler/Operational"}:
        return []
    created = {task_key(e.job_name) for e in events if e.action in ("registered", "cmd_create")}
    return sorted(
        j.name
        for j in jobs
        if j.mechanism is Mechanism.WINDOWS_TASK and task_key(j.name) not in created
    )
