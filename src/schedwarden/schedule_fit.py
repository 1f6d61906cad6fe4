"""Does a schedule explain a run at a given time? The arithmetic behind the log analytic that
compares the runs seen in logs with the schedules on disk (`analyzers/log_schedule.py`, which
receives these two functions through its context: analyzers import only the model).

`runs_between` answers whether a schedule has a run time inside a window, evaluated as the
scheduler does it: cron expressions with cronsim in the job's time zone (CRON_TZ, else the
host's), whose handling of daylight-saving changes follows Debian cron (a run in a skipped hour
happens right after the change, a repeated hour runs once); cronie's `~` fields as the whole
range the random value is drawn from; systemd calendar events with our `OnCalendar` parser, in
the zone the event names or the host's. `start_delay` is how late a run may start after its run
time because of the schedule itself (systemd's AccuracySec, default one minute, plus
RandomizedDelaySec). Neither ever evaluates anything from the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial

from cronsim import CronSim, CronSimError

from .collectors.linux.systemd_calendar import (
    CalendarError,
    CalendarSpec,
    next_elapses,
    parse_calendar,
    parse_timespan,
)
from .model import (
    CalendarSchedule,
    CompositeSchedule,
    CronSchedule,
    DrivenSchedule,
    MacroSchedule,
    OneShotSchedule,
    Schedule,
    zone,
)

DEFAULT_ACCURACY = timedelta(minutes=1)  # systemd's AccuracySec= default
_RANDOM_FIELD = re.compile(r"^(\d*)~(\d*)$")
_FIELD_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def runs_between(
    schedule: Schedule, start: datetime, end: datetime, host_tz: str | None
) -> bool | None:
    """True when the schedule has a run time in [start, end] (aware datetimes), False when it
    has none, None when its run times do not follow from the schedule alone (boot, logon and
    event triggers, monotonic timers, anacron periods, `@reboot`, an unparsable definition)."""
    if end < start:
        return False
    if isinstance(schedule, CronSchedule):
        expression = (
            widen_random(schedule.expression) if schedule.randomized else schedule.expression
        )
        return _cron_between(expression, schedule.timezone or host_tz, start, end)
    if isinstance(schedule, MacroSchedule):
        if schedule.expression is None:
            return None
        return _cron_between(schedule.expression, schedule.timezone or host_tz, start, end)
    if isinstance(schedule, DrivenSchedule):
        if schedule.driver_schedule is None:
            return None
        return runs_between(schedule.driver_schedule, start, end, host_tz)
    if isinstance(schedule, CalendarSchedule):
        return _calendar_between(schedule.normalized, host_tz, start, end)
    if isinstance(schedule, OneShotSchedule):
        return start <= schedule.at <= end
    if isinstance(schedule, CompositeSchedule):
        verdicts = [runs_between(part, start, end, host_tz) for part in schedule.parts]
        if any(verdicts):
            return True
        return None if None in verdicts else False
    return None  # interval, monotonic, trigger, unknown


def start_delay(schedule: Schedule) -> timedelta | None:
    """How late after a run time the scheduler may start the job because of the schedule's own
    settings; None when a setting cannot be read (the caller then cannot judge)."""
    if isinstance(schedule, CalendarSchedule):
        try:
            accuracy = (
                timedelta(seconds=parse_timespan(schedule.accuracy))
                if schedule.accuracy
                else DEFAULT_ACCURACY
            )
            randomized = (
                timedelta(seconds=parse_timespan(schedule.randomized_delay))
                if schedule.randomized_delay
                else timedelta()
            )
        except (CalendarError, OverflowError, ValueError):
            return None
        return accuracy + randomized
    if isinstance(schedule, DrivenSchedule) and schedule.driver_schedule is not None:
        return start_delay(schedule.driver_schedule)
    if isinstance(schedule, CompositeSchedule):
        delays = [start_delay(part) for part in schedule.parts]
        if any(d is None for d in delays):
            return None
        return max((d for d in delays if d is not None), default=timedelta())
    return timedelta()


def widen_random(expression: str) -> str:
    """cronie's `a~b` (a random value in a..b, drawn when the table is loaded) as the range
    `a-b`: every value the daemon may have drawn."""
    fields = expression.split(" ")
    if len(fields) != len(_FIELD_BOUNDS):
        return expression
    out = []
    for text, (low, high) in zip(fields, _FIELD_BOUNDS, strict=True):
        parts = []
        for element in text.split(","):
            match = _RANDOM_FIELD.match(element)
            if match:
                element = f"{match.group(1) or low}-{match.group(2) or high}"
            parts.append(element)
        out.append(",".join(parts))
    return " ".join(out)


def _cron_between(
    expression: str, tz_name: str | None, start: datetime, end: datetime
) -> bool | None:
    tz = zone(tz_name) if tz_name else UTC
    if tz is None:
        return None

    def runs(after: datetime) -> Iterator[datetime]:
        times = CronSim(expression, after.astimezone(tz))  # a bad expression raises here
        return (moment.astimezone(UTC) for moment in times)

    try:
        found = _first_after(("cron", expression, tz_name or "UTC"), start, runs)
    except (CronSimError, ValueError, OverflowError):
        return None
    return found is not None and found <= end


def _calendar_between(
    normalized: tuple[str, ...], host_tz: str | None, start: datetime, end: datetime
) -> bool | None:
    if not normalized:
        return None
    for text in normalized:
        try:
            spec = parse_calendar(text)
        except CalendarError:
            return None
        tz_name = spec.timezone or host_tz or "UTC"
        tz = zone(tz_name)
        if tz is None:
            return None
        found = _first_after(("calendar", text, tz_name), start, partial(_elapses, spec, tz))
        if found is not None and found <= end:
            return True
    return False


def _elapses(spec: CalendarSpec, tz: tzinfo, after: datetime) -> Iterator[datetime]:
    while True:
        found = next_elapses(spec, after, tz, BATCH)
        yield from found
        if len(found) < BATCH:
            return
        after = found[-1]


# Runs are judged in time order, so each schedule keeps a cursor: the moment last asked about,
# the first run at or after it, and the iterator of the runs after that one. A later question
# advances the iterator (a few microseconds a run) instead of starting a new search; a question
# about an earlier moment, or one more than a day of runs ahead, starts again. A schedule that
# never fires (a calendar day that does not exist) is searched once, not once per run.
Cursor = tuple[datetime, datetime | None, Iterator[datetime]]
_CURSORS: dict[tuple[str, str, str], Cursor] = {}
MAX_CURSORS = 4096
BATCH = 64
ADVANCE = timedelta(days=1)  # at most this much of runs is stepped through
NONE_FOR = timedelta(days=366)  # how long "no run ahead" is trusted


def _first_after(
    key: tuple[str, str, str], start: datetime, runs: Callable[[datetime], Iterator[datetime]]
) -> datetime | None:
    """The first run at or after `start`."""
    known = _CURSORS.get(key)
    if known is not None and known[0] <= start:
        asked, found, rest = known
        if found is None:
            if start < asked + NONE_FOR:
                return None
        elif start - found <= ADVANCE:
            while found is not None and found < start:
                found = next(rest, None)
            _CURSORS[key] = (start, found, rest)
            return found
    rest = runs(start - timedelta(microseconds=1))
    found = next(rest, None)
    if len(_CURSORS) >= MAX_CURSORS:
        _CURSORS.clear()
    _CURSORS[key] = (start, found, rest)
    return found
