"""What a log analyzer is: job events in (with the inventory they may be tied to), findings out.

Kept apart from the inventory `ANALYZERS`, whose shape is (jobs, issues[, context]). Log
analyzers import only the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ..model import Finding, JobEvent, ScheduledJob


@dataclass(frozen=True, slots=True)
class LogContext:
    """What the log analytics may use besides the events: the jobs on disk (from `--root` or
    `--inventory`; None when no inventory was given), the window within which a created task
    that is deleted again is short-lived, and the accounts expected to replace crontabs."""

    jobs: Sequence[ScheduledJob] | None = None
    short_lived: timedelta = timedelta(minutes=10)
    crontab_editors: frozenset[str] = field(default_factory=lambda: frozenset({"root"}))


class LogAnalyzerFunction(Protocol):
    def __call__(self, events: Sequence[JobEvent], context: LogContext, /) -> Iterator[Finding]: ...


@dataclass(frozen=True, slots=True)
class LogAnalyzer:
    name: str
    description: str
    analyze: LogAnalyzerFunction
