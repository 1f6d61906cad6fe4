"""What a log analyzer is: job events in (with the inventory they may be tied to), findings out.

Kept apart from the inventory `ANALYZERS`, whose shape is (jobs, issues[, context]). Log
analyzers import only the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ..model import Finding, JobEvent, Schedule, ScheduledJob


class RunsBetween(Protocol):
    def __call__(
        self, schedule: Schedule, start: datetime, end: datetime, host_tz: str | None, /
    ) -> bool | None: ...


class StartDelay(Protocol):
    def __call__(self, schedule: Schedule, /) -> timedelta | None: ...


@dataclass(frozen=True, slots=True)
class ScheduleClock:
    """Schedule arithmetic handed to the log analytics by the engine (`schedule_fit`):
    whether a schedule has a run time in a window (None: its times do not follow from the
    schedule alone), and how late a run may start because of the schedule's own settings."""

    runs_between: RunsBetween
    start_delay: StartDelay


@dataclass(frozen=True, slots=True)
class LogContext:
    """What the log analytics may use besides the events: the jobs on disk (from `--root` or
    `--inventory`; None when no inventory was given), the window within which a created task
    that is deleted again is short-lived, the accounts expected to replace crontabs, the time
    zone of the host the jobs came from (None: unknown) and the schedule arithmetic."""

    jobs: Sequence[ScheduledJob] | None = None
    short_lived: timedelta = timedelta(minutes=10)
    crontab_editors: frozenset[str] = field(default_factory=lambda: frozenset({"root"}))
    host_timezone: str | None = None
    clock: ScheduleClock | None = None


class LogAnalyzerFunction(Protocol):
    def __call__(self, events: Sequence[JobEvent], context: LogContext, /) -> Iterator[Finding]: ...


@dataclass(frozen=True, slots=True)
class LogAnalyzer:
    name: str
    description: str
    analyze: LogAnalyzerFunction
