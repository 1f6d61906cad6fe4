"""Flat text views of a job for the row-oriented writers (table, CSV). Raw text; callers escape."""

from __future__ import annotations

from ..model import ComHandlerAction, ExecAction, ScheduledJob


def command_text(job: ScheduledJob) -> str:
    parts = []
    for action in job.actions:
        if isinstance(action, ExecAction):
            parts.append(action.command_line)
        elif isinstance(action, ComHandlerAction):
            parts.append(f"COM {action.class_id} {action.data or ''}".rstrip())
        else:
            parts.append(f"{action.action_type}: {action.detail}")
    return " && ".join(parts)


def stdin_text(job: ScheduledJob) -> str:
    return "".join(a.stdin or "" for a in job.actions if isinstance(a, ExecAction))


def effective_text(job: ScheduledJob) -> str:
    runs = job.effective.runs
    return "runs" if runs else ("dormant" if runs is False else "undecided")


def location_text(job: ScheduledJob) -> str:
    line = job.evidence.line
    return job.evidence.path + (f":{line}" if line is not None else "")
