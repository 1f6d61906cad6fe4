"""One ordered list of events per job: created, changed, ran, failed, deleted, with provenance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model import JobEvent


@dataclass(frozen=True, slots=True)
class Timeline:
    key: str
    job_name: str
    job_id: str | None
    events: tuple[JobEvent, ...]


def job_key(event: JobEvent) -> str:
    """Events of one job share a key: the inventory job id when tied, else the task path
    (case-insensitive), else for cron runs the user and command, else the name the log gave."""
    job_id = event.extra.get("job_id")
    if isinstance(job_id, str) and job_id:
        return f"id:{job_id}"
    if event.job_name.startswith("\\"):
        return f"{event.host.casefold()}|task:" + event.job_name.strip("\\").casefold()
    if event.job_name == "cron" and event.command is not None:
        return f"{event.host.casefold()}|cron:{event.actor or ''}:{' '.join(event.command.split())}"
    return f"{event.host.casefold()}|{event.job_name}"


UNNAMED_TASKS = "(processes the Task Scheduler started; no log names their task)"


def timelines(events: Iterable[JobEvent], *, include_context: bool = False) -> list[Timeline]:
    """Per job, its events in time order (the logon and session events that name no job are
    left out unless `include_context`). Processes the Task Scheduler started whose task no log
    named (`task_process` without a 129) are one timeline of their own."""
    groups: dict[str, list[JobEvent]] = {}
    for event in events:
        named = bool(event.job_name) or event.action == "task_process"
        if not include_context and (not named or event.action.startswith("session_")):
            continue
        groups.setdefault(job_key(event), []).append(event)
    out = []
    for key, items in groups.items():
        items.sort(key=lambda e: e.time)
        job_id = next((str(e.extra["job_id"]) for e in items if e.extra.get("job_id")), None)
        label = items[0].job_name or (UNNAMED_TASKS if items[0].action == "task_process" else "")
        if label == "cron" and items[0].command is not None:
            label = f"cron ({items[0].actor}): {items[0].command}"
        out.append(Timeline(key, label, job_id, tuple(items)))
    out.sort(key=lambda t: (t.events[0].time, t.key))
    return out
