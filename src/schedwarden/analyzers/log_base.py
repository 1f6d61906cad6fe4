"""What a log analyzer is: job events in (with the inventory they may be tied to), findings out.

Kept apart from the inventory `ANALYZERS`, whose shape is (jobs, issues[, context]). Log
analyzers import only the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress, repeat
from operator import attrgetter, contains
from typing import Protocol, overload

from ..model import Finding, JobEvent, Schedule, ScheduledJob


class RunsBetween(Protocol):
    def __call__(
        self, schedule: Schedule, start: datetime, end: datetime, host_tz: str | None, /
    ) -> bool | None: ...


class StartDelay(Protocol):
    def __call__(self, schedule: Schedule, /) -> timedelta | None: ...


class TaskFiresAt(Protocol):
    def __call__(self, raw: str, moment: datetime, host_tz: str | None, /) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class ScheduleClock:
    """Schedule arithmetic handed to the log analytics by the engine (`schedule_fit`):
    whether a schedule has a run time in a window (None: its times do not follow from the
    schedule alone), and how late a run may start because of the schedule's own settings;
    and (`collectors/windows/trigger_times`) whether one of the triggers of a task's XML
    launches it at a moment (None: its launch times do not follow from its triggers)."""

    runs_between: RunsBetween
    start_delay: StartDelay
    task_fires_at: TaskFiresAt | None = None


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


_ACTION = attrgetter("action")
_EXTRA = attrgetter("extra")


class EventIndex(Sequence[JobEvent]):
    """The events of a hunt, and the selections the log analytics make on them, each made once
    for all analyzers: the events of some actions (from one list of the events' actions, which
    share a few string objects: a pass over it stays in the cache), and the events whose `extra`
    has a key (a pass over the events, on first use). A syslog of a million cron runs holds a
    handful of crontab, tampering or Windows events: an analyzer of those touches only them.

    Selections keep the events' order and are shared: do not change them. An analyzer keeps
    its own tests on the events it is handed, so that handed every event it finds the same."""

    __slots__ = ("_actions", "_events", "_having", "_kinds", "_selected")

    def __init__(self, events: Iterable[JobEvent]) -> None:
        self._events: list[JobEvent] = list(events)
        self._actions: list[str] = list(map(_ACTION, self._events))
        self._kinds: frozenset[str] = frozenset(self._actions)
        self._selected: dict[frozenset[str], Sequence[JobEvent]] = {}
        self._having: dict[str, Sequence[JobEvent]] = {}

    @classmethod
    def of(cls, events: Iterable[JobEvent]) -> EventIndex:
        """These events' index: themselves when they are one already."""
        return events if isinstance(events, EventIndex) else cls(events)

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> JobEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[JobEvent]: ...

    def __getitem__(self, index: int | slice) -> JobEvent | Sequence[JobEvent]:
        return self._events[index]

    def __iter__(self) -> Iterator[JobEvent]:
        return iter(self._events)

    def acting(self, *actions: str) -> Sequence[JobEvent]:
        """The events whose action is one of these, in their order."""
        wanted = self._kinds.intersection(actions)
        if not wanted:
            return ()
        if len(wanted) == len(self._kinds):
            return self._events
        found = self._selected.get(wanted)
        if found is None:
            found = list(compress(self._events, map(wanted.__contains__, self._actions)))
            self._selected[wanted] = found
        return found

    def having(self, key: str) -> Sequence[JobEvent]:
        """The events whose `extra` has this key, in their order."""
        found = self._having.get(key)
        if found is None:
            events = self._events
            found = list(compress(events, map(contains, map(_EXTRA, events), repeat(key))))
            self._having[key] = found
        return found


class LogAnalyzerFunction(Protocol):
    def __call__(self, events: Sequence[JobEvent], context: LogContext, /) -> Iterator[Finding]: ...


@dataclass(frozen=True, slots=True)
class LogAnalyzer:
    name: str
    description: str
    analyze: LogAnalyzerFunction
