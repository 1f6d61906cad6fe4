"""Does a Task Scheduler calendar trigger fire at a given moment? The arithmetic behind the log
analytic that compares the time of each time-triggered launch (TaskScheduler/Operational event
107) with the triggers of the task (`analyzers/log_schedule.py`, which receives `task_fires_at`
through its context: analyzers import only the model).

A trigger is read by the task XML parser (`task_xml`) into a `Trigger`, and turned here into
numbers: seconds from 0001-01-01 00:00 on the clock the trigger is read on. Its occurrences:

- `time`: once, at StartBoundary.
- `daily`: every DaysInterval days from the date of StartBoundary, at its time of day.
- `weekly`: on the listed days of every WeeksInterval-th week, counted from the week that holds
  StartBoundary. Whether Task Scheduler's weeks begin on Sunday or on Monday is not documented:
  both are accepted (they differ only for Sundays).
- `monthly`: on the listed days of the listed months (none listed: every month); `Last` is the
  last day of the month; a day the month does not have (31 in April, 29 in February of a common
  year) is no occurrence.
- `monthly_dow`: on the listed days of the week in the listed weeks of the month (week n holds
  days 7n-6 to 7n; `Last` is the last seven days; none listed: every week).

No occurrence is before StartBoundary. Each occurrence repeats every Repetition Interval for
Duration after it (the end included) or, without a Duration, indefinitely; the scheduler starts
an occurrence up to RandomDelay late, and a launch is logged up to a slack later still. No
launch is scheduled after EndBoundary ("the trigger cannot start the task after it is
deactivated"). A disabled trigger never fires.

Clocks: a boundary without a zone is the host's wall clock; with `Z` or an offset ("synchronize
across time zones") it is absolute, and the calendar is read on the clock of that offset. With
the host's zone known, a wall time the clock shows twice (clocks going back) is either instant,
and one it skips (clocks going forward) anything between its readings on the old and the new
offset; repetitions count elapsed time, across such changes too. With the zone unknown, a
wall-clock trigger is read in every UTC offset from -12:00 to +14:00 by quarter hours.

An indefinite repetition keeps the repetitions of every earlier occurrence (whether the next
occurrence ends them is not documented). When the interval divides a day, the occurrences on one
UTC offset all have the phase of the first of them, whose repetitions therefore stand for all:
the first occurrence, and with daylight saving the first in each offset of the first 400 days,
and the occurrences of the last week. Otherwise only the occurrences of the last week are tried,
and a launch they do not explain is not judged. Only the occurrences near the moment are
computed, never years of them.

A task (`task_fires_at`, on the XML kept in the job's `raw`) fires when one of its triggers
does. It is not judged when a trigger is not calendar-based (boot, logon, event, ...: even
disabled, that is the kind check's matter) or cannot be read, when the XML is missing or was cut
to an excerpt, or when its settings free its launch times from its triggers: StartWhenAvailable
(a missed start runs later, at any time) and RestartOnFailure. RunOnlyIfIdle adds its
IdleSettings WaitTimeout (an hour by default) to the slack.

References: MS-TSCH 2.5 (task XML schema: triggers, Repetition, boundaries); Microsoft Learn,
ITrigger::EndBoundary, IRepetitionPattern, TaskSettings.StartWhenAvailable; reference/windows.md.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from ...model import zone as named_zone
from .definition import DAYS, MONTHS, Trigger, duration_seconds, parse_boundary
from .safexml import XmlProblem
from .task_xml import parse_task_xml

DAY = 86_400
HOUR = 3_600
LAUNCH_SLACK = timedelta(minutes=2)  # the service's own lag, as allowed to cron
CALENDAR_KINDS = frozenset({"time", "daily", "weekly", "monthly", "monthly_dow"})
UTC_OFFSETS: tuple[int, ...] = tuple(range(-12 * HOUR, 14 * HOUR + 1, 900))  # seconds east
MAX_SPAN = 400 * DAY  # a longer finite Duration counts as indefinite; a longer delay: not judged
LOOKBACK = 8 * DAY  # occurrences tried for an indefinite repetition that does not divide a day
IDLE_WAIT = "PT1H"  # IdleSettings WaitTimeout's default
_WEEKDAY = {name: (index - 1) % 7 for index, name in enumerate(DAYS)}  # Monday 0 ... Sunday 6
_MONTH = {name: index + 1 for index, name in enumerate(MONTHS)}
_WEEK_STARTS = (6, 0)  # weeks beginning on Sunday, or on Monday
_EPOCH = datetime(1, 1, 1)
_UTC_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MAX_DAY = date.max.toordinal() - 1

Window = tuple[int, int]  # [first, last] seconds


@dataclass(frozen=True, slots=True)
class TriggerPlan:
    """A calendar trigger as numbers. `start` and `end` are seconds from 0001-01-01 00:00 on
    their own clock: `start_offset` / `end_offset` seconds east of UTC when written with a zone,
    None for the host's wall clock. `weekdays` count from Monday (0); `months` from 1, empty for
    every month; `weeks` 1-4, with `last_week`, empty for every week. `interval` is 0 without
    repetition; `duration` None repeats indefinitely. `delay`: RandomDelay (and Delay, which a
    calendar trigger should not have) in seconds."""

    kind: str
    start: int
    start_offset: int | None
    end: int | None
    end_offset: int | None
    every: int
    weekdays: frozenset[int]
    month_days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weeks: frozenset[int]
    last_week: bool
    interval: int
    duration: int | None
    delay: int


@lru_cache(maxsize=1024)
def plan_trigger(trigger: Trigger) -> TriggerPlan | None:
    """The trigger as numbers; None when it is not a calendar trigger or a part of it cannot be
    read (no or a bad StartBoundary, a duration in months or years, a schedule without days)."""
    if trigger.kind not in CALENDAR_KINDS:
        return None
    start = _boundary(trigger.start)
    if start is None:
        return None
    end: tuple[int, int | None] | None = None
    if trigger.end is not None:
        end = _boundary(trigger.end)
        if end is None:
            return None
    delays = [_seconds_of(trigger.random_delay), _seconds_of(trigger.delay)]
    interval = _seconds_of(trigger.repetition_interval)
    duration = _seconds_of(trigger.repetition_duration)
    if None in delays or interval is None or duration is None:
        return None
    month_days: set[int] = set()
    for text in trigger.days_of_month:
        if text == "Last":
            continue
        if not text.isdigit() or not 1 <= int(text) <= 31:
            return None
        month_days.add(int(text))
    weeks: set[int] = set()
    for text in trigger.weeks:
        if text == "Last":
            continue
        if text not in ("1", "2", "3", "4"):
            return None
        weeks.add(int(text))
    plan = TriggerPlan(
        kind=trigger.kind,
        start=start[0],
        start_offset=start[1],
        end=end[0] if end else None,
        end_offset=end[1] if end else None,
        every=max(trigger.every, 1),
        weekdays=frozenset(_WEEKDAY[d] for d in trigger.days_of_week if d in _WEEKDAY),
        month_days=frozenset(month_days),
        last_day="Last" in trigger.days_of_month,
        months=frozenset(_MONTH[m] for m in trigger.months if m in _MONTH),
        weeks=frozenset(weeks),
        last_week="Last" in trigger.weeks,
        interval=interval,
        duration=(duration or None) if interval else 0,
        delay=sum(d for d in delays if d is not None),
    )
    if plan.kind in ("weekly", "monthly_dow") and not plan.weekdays:
        return None
    if plan.kind == "monthly" and not (plan.month_days or plan.last_day):
        return None
    return plan


def fires_at(
    trigger: Trigger,
    moment: datetime,
    host_zone: tzinfo | None,
    slack: timedelta = LAUNCH_SLACK,
) -> bool | None:
    """Whether the trigger has a launch time at most `slack` (plus its random delay) before the
    aware `moment`, read on the host's zone (None: unknown); None when it cannot be told."""
    if moment.tzinfo is None:
        raise ValueError("moment must be an aware datetime")
    if not trigger.enabled:
        return False
    plan = plan_trigger(trigger)
    if plan is None:
        return None
    late = int(slack.total_seconds()) + plan.delay
    if late > MAX_SPAN:
        return None
    instant = _seconds(moment.astimezone(UTC).replace(tzinfo=None))
    if plan.start_offset is not None:
        return _fires_on_wall(plan, instant - late, instant, (plan.start_offset,), host_zone)
    if host_zone is None:
        return _fires_on_wall(plan, instant - late, instant, UTC_OFFSETS, None)
    return _fires_in_zone(plan, instant - late, instant, host_zone)


@lru_cache(maxsize=1024)
def task_triggers(raw: str) -> tuple[tuple[Trigger, ...], timedelta] | None:
    """The triggers of a task's XML and how late its settings let a launch be, or None when its
    launch times do not follow from its calendar triggers: not task XML (an excerpt cut short,
    a TaskCache-only task has none), a trigger that is not calendar-based, no trigger,
    StartWhenAvailable (a missed start runs later, at any time), RestartOnFailure (a restart
    comes at no trigger's time, and its event is not documented). RunOnlyIfIdle adds its
    IdleSettings WaitTimeout (the launch waits for the computer to be idle)."""
    try:
        definition, _, _ = parse_task_xml(raw.encode("utf-8", "surrogateescape"))
    except XmlProblem:
        return None
    settings = definition.settings
    if _true(settings.get("StartWhenAvailable")):
        return None
    if any(name.startswith("RestartOnFailure/") for name in settings):
        return None
    wait = timedelta()
    if _true(settings.get("RunOnlyIfIdle")):
        seconds = duration_seconds(settings.get("IdleSettings/WaitTimeout") or IDLE_WAIT)
        if not seconds:  # unreadable, or 0: wait without end
            return None
        wait = timedelta(seconds=seconds)
    triggers = definition.triggers
    if not triggers or any(t.kind not in CALENDAR_KINDS for t in triggers):
        return None
    return triggers, wait


def task_fires_at(raw: str, moment: datetime, host_tz: str | None) -> bool | None:
    """Whether one of the triggers of the task XML `raw` launches it at (at most a slack
    before) the aware `moment`, on the host's zone `host_tz` (IANA name; None or unknown: every
    UTC offset); None when that does not follow from the task's definition (`task_triggers`)
    or a trigger cannot be read."""
    task = task_triggers(raw)
    if task is None:
        return None
    triggers, wait = task
    host_zone = named_zone(host_tz)
    verdicts = [fires_at(t, moment, host_zone, LAUNCH_SLACK + wait) for t in triggers]
    if any(verdicts):
        return True
    return None if None in verdicts else False


# ---------------------------------------------------------------------------------------------
# one clock


def _fires_on_wall(
    plan: TriggerPlan, low: int, high: int, offsets: Sequence[int], host_zone: tzinfo | None
) -> bool | None:
    """On a clock without daylight saving at each of `offsets` (the trigger's own, or every
    offset when the host's is unknown): the launch instants [low, high] become a window on the
    trigger's clock per offset, and the trigger's launch times are compared there."""
    wall_end: int | None = None  # on the trigger's clock
    instant_end: int | None = None
    if plan.end is not None:
        if plan.end_offset is not None:
            instant_end = plan.end - plan.end_offset
        elif plan.start_offset is None:
            wall_end = plan.end  # both on the host's clock, whatever its offset
        elif host_zone is not None:
            instant_end = _latest_instant(plan.end, host_zone)
        else:
            instant_end = plan.end + 12 * HOUR  # the latest it can be, in any offset
    top = high if instant_end is None else min(high, instant_end)
    targets = _merged(
        (low + offset, top + offset if wall_end is None else min(top + offset, wall_end))
        for offset in offsets
    )
    if not targets:
        return False
    first = _first_occurrence(plan)
    return _explained(
        plan,
        targets,
        lambda since, until: ((o, o) for o in _occurrences(plan, since, until)),
        lambda: () if first is None else ((first, first),),
    )


def _fires_in_zone(plan: TriggerPlan, low: int, high: int, zone: tzinfo) -> bool | None:
    """On the host's clock in a zone with daylight saving: occurrences are found on the wall
    clock and turned into instants, where their repetitions are counted."""
    top = high
    if plan.end is not None:
        if plan.end_offset is not None:
            top = min(top, plan.end - plan.end_offset)
        else:
            top = min(top, _latest_instant(plan.end, zone))
    if top < low:
        return False

    def near(since: int, until: int) -> Iterator[Window]:
        for occurrence in _occurrences(plan, _wall(since, zone) - DAY, _wall(until, zone) + DAY):
            yield from _instants(occurrence, zone)

    return _explained(plan, [(low, top)], near, lambda: _phases(plan, zone))


def _explained(
    plan: TriggerPlan,
    targets: list[Window],
    near: Callable[[int, int], Iterable[Window]],
    phases: Callable[[], Sequence[Window]],
) -> bool | None:
    """Whether a launch time of the trigger falls in one of `targets` (sorted windows on the
    clock of `near`, which gives the occurrences between two times there as windows; `phases`
    the first occurrence in each UTC offset, as `_phases`)."""
    interval, duration = plan.interval, plan.duration
    most = None if duration is None else duration // interval if interval else 0
    low, high = targets[0][0], targets[-1][1]

    def reached(windows: Iterable[Window], most: int | None) -> bool:
        return any(
            _reaches(first, last, interval, most, target_low, target_high)
            for first, last in windows
            for target_low, target_high in targets
        )

    if plan.kind == "time":  # one occurrence, StartBoundary: its repetitions are exact
        return reached(phases(), most)
    if interval and (duration is None or duration > MAX_SPAN):
        if DAY % interval == 0:
            # the repetitions of every occurrence of one UTC offset are those of the first
            return reached(phases(), None) or reached(near(high - LOOKBACK, high), None)
        return True if reached(near(high - LOOKBACK, high), most) else None
    span = duration if interval and duration is not None else 0
    return reached(near(low - span, high), most)


def _reaches(first: int, last: int, interval: int, most: int | None, low: int, high: int) -> bool:
    """Whether a repetition k (0 <= k <= most; None: any) of an occurrence somewhere in
    [first, last] falls in [low, high]: first + k*interval <= high and last + k*interval >= low."""
    if high < first:
        return False
    if not interval:
        return last >= low
    fewest = max(0, -((last - low) // interval))  # ceil((low - last) / interval)
    greatest = (high - first) // interval
    if most is not None:
        greatest = min(greatest, most)
    return fewest <= greatest


def _occurrences(plan: TriggerPlan, first: int, last: int) -> Iterator[int]:
    """The occurrences (wall seconds) in [first, last] on the trigger's clock, not before
    StartBoundary (from its day on, at its time of day). One test per day: the callers keep
    the span to days."""
    if plan.kind == "time":
        if first <= plan.start <= last:
            yield plan.start
        return
    time_of_day = plan.start % DAY
    for day in range(max(first, plan.start, 0) // DAY, min(last // DAY, _MAX_DAY) + 1):
        occurrence = day * DAY + time_of_day
        if first <= occurrence <= last and _occurs(plan, day + 1):
            yield occurrence


def _occurs(plan: TriggerPlan, ordinal: int) -> bool:
    """Whether the trigger has an occurrence on this day (a proleptic Gregorian ordinal)."""
    start = plan.start // DAY + 1
    weekday = (ordinal - 1) % 7  # 0001-01-01 was a Monday
    if plan.kind == "daily":
        return (ordinal - start) % plan.every == 0
    if plan.kind == "weekly":
        if weekday not in plan.weekdays:
            return False
        start_weekday = (start - 1) % 7
        for first in _WEEK_STARTS:
            week = ordinal - (weekday - first) % 7
            start_week = start - (start_weekday - first) % 7
            if (week - start_week) // 7 % plan.every == 0:
                return True
        return False
    day = date.fromordinal(ordinal)
    if plan.months and day.month not in plan.months:
        return False
    length = monthrange(day.year, day.month)[1]
    if plan.kind == "monthly":
        return day.day in plan.month_days or (plan.last_day and day.day == length)
    if weekday not in plan.weekdays:  # monthly_dow
        return False
    if not plan.weeks and not plan.last_week:
        return True
    return (day.day - 1) // 7 + 1 in plan.weeks or (plan.last_week and day.day + 7 > length)


# ---------------------------------------------------------------------------------------------
# clocks


def _boundary(text: str | None) -> tuple[int, int | None] | None:
    parsed = parse_boundary(text)
    if parsed is None:
        return None
    written, offset = parsed
    return _seconds(written), None if offset is None else int(offset.total_seconds())


def _seconds_of(text: str | None) -> int | None:
    """A duration in seconds: 0 when absent, None when it cannot be read."""
    if text is None:
        return 0
    return duration_seconds(text)


def _seconds(moment: datetime) -> int:
    """A naive date and time as seconds from 0001-01-01 00:00."""
    return (moment.toordinal() - 1) * DAY + moment.hour * HOUR + moment.minute * 60 + moment.second


def _merged(windows: Iterable[Window]) -> list[Window]:
    """Non-empty windows, sorted, those that overlap or touch joined."""
    merged: list[Window] = []
    for first, last in sorted(w for w in windows if w[0] <= w[1]):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _offset(moment: datetime) -> int:
    delta = moment.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _offset_at(instant: int, zone: tzinfo) -> int:
    return _offset((_UTC_EPOCH + timedelta(seconds=instant)).astimezone(zone))


def _wall(instant: int, zone: tzinfo) -> int:
    """An instant (UTC seconds) on the zone's wall clock (seconds)."""
    try:
        return instant + _offset_at(instant, zone)
    except (OverflowError, ValueError):
        return instant


def _instants(wall: int, zone: tzinfo) -> list[Window]:
    """The instants a time on the zone's wall clock names: one; two when the clock shows it twice
    (going back); when the clock skips it (going forward), the window between its readings on
    the old and the new offset, since the scheduler may start it at the change or an hour
    late. Beyond the datetime range: every instant it can be in any offset."""
    try:
        written = _EPOCH + timedelta(seconds=wall)
        readings = sorted({wall - _offset(written.replace(tzinfo=zone, fold=f)) for f in (0, 1)})
        real = [i for i in readings if i + _offset_at(i, zone) == wall]
    except (OverflowError, ValueError):
        return [(wall - 14 * HOUR, wall + 12 * HOUR)]
    if real:
        return [(i, i) for i in real]
    return [(readings[0], readings[-1])]


def _latest_instant(wall: int, zone: tzinfo) -> int:
    return max(last for _, last in _instants(wall, zone))


@lru_cache(maxsize=1024)
def _first_occurrence(plan: TriggerPlan) -> int | None:
    """The trigger's first occurrence on its clock; None when it has none (day 30 of February,
    or none for eight years: no leap day of a listed month)."""
    bound = (8 * 366 + 7 * plan.every + 7) * DAY
    return next(_occurrences(plan, plan.start, plan.start + bound), None)


@lru_cache(maxsize=1024)
def _phases(plan: TriggerPlan, zone: tzinfo) -> tuple[Window, ...]:
    """The first occurrence (as instants) in each UTC offset the zone gives the occurrences of
    the trigger's first 400 days, and the first that falls in a skipped hour. When the interval
    of an indefinite repetition divides a day, the repetitions of the occurrences of one offset
    are those of the first of them."""
    first = _first_occurrence(plan)
    if first is None:
        return ()
    found: dict[int | None, Window] = {}
    for occurrence in _occurrences(plan, first, first + MAX_SPAN):
        for window in _instants(occurrence, zone):
            found.setdefault(occurrence - window[0] if window[0] == window[1] else None, window)
    return tuple(found.values())


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")
