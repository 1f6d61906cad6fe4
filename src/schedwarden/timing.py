"""When jobs run: readable descriptions and the next run times of a schedule.

Descriptions come from cron-descriptor and next runs from cronsim, both on the five-field form the
daemon accepted (we validate it first, so neither library decides what is valid). Cron evaluates a
table in the host's local time zone, or in CRON_TZ when set, so next runs are computed there and
reported in UTC. Results are cached: hosts repeat the same few expressions thousands of times.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, Options
from cronsim import CronSim, CronSimError

from .collectors.linux.systemd_calendar import CalendarError, next_elapses, parse_calendar
from .model import (
    CalendarSchedule,
    CompositeSchedule,
    CronSchedule,
    DrivenSchedule,
    IntervalSchedule,
    MacroSchedule,
    OneShotSchedule,
    Schedule,
    zone,
)

_OPTIONS = Options()
_OPTIONS.use_24hour_time_format = True

# cron-descriptor re-reads its translation catalogue for every expression (most of its cost on a
# host with thousands of distinct schedules); one catalogue per locale is enough.
_descriptor_module = importlib.import_module("cron_descriptor.ExpressionDescriptor")
_descriptor_module.GetText = lru_cache(maxsize=8)(_descriptor_module.GetText)  # type: ignore[attr-defined]


@lru_cache(maxsize=8192)
def describe_cron(expression: str) -> str:
    """ "Every 10 minutes", "At 06:25, only on Sunday"; the expression itself if undescribable."""
    try:
        text = ExpressionDescriptor(expression, _OPTIONS).get_description()
    except Exception:  # cron-descriptor raises several unrelated types on odd input
        return expression
    return str(text)


MACRO_DESCRIPTIONS: dict[str, str] = {
    "@reboot": "At every start of the cron daemon (boot)",
    "@yearly": "Once a year, at 00:00 on 1 January",
    "@annually": "Once a year, at 00:00 on 1 January",
    "@monthly": "Once a month, at 00:00 on day 1",
    "@weekly": "Once a week, at 00:00 on Sunday",
    "@daily": "Once a day, at 00:00",
    "@midnight": "Once a day, at 00:00",
    "@hourly": "Once an hour, at minute 0",
}


@lru_cache(maxsize=8192)
def next_cron_runs(
    expression: str, tz_name: str, start: datetime, count: int
) -> tuple[datetime, ...]:
    """The next `count` runs (UTC) of a valid five-field expression evaluated in `tz_name`."""
    tz = zone(tz_name) or UTC
    local = start.astimezone(tz)
    try:
        runs = CronSim(expression, local)
        return tuple(next(runs).astimezone(UTC) for _ in range(count))
    except (CronSimError, StopIteration, ValueError):
        return ()


@lru_cache(maxsize=8192)
def _calendar_next(
    normalized: tuple[str, ...], tz_name: str, start: datetime, count: int
) -> tuple[datetime, ...]:
    """systemd elapses at the earliest of all its OnCalendar events."""
    found: set[datetime] = set()
    for text in normalized:
        try:
            spec = parse_calendar(text)
        except CalendarError:
            continue
        found.update(next_elapses(spec, start, zone(spec.timezone or tz_name) or UTC, count))
    return tuple(sorted(found)[:count])


def next_runs(
    schedule: Schedule, now: datetime, host_tz: str | None, count: int = 3
) -> tuple[datetime, ...]:
    """The next `count` run times in UTC, when the schedule alone determines them."""
    start = now.replace(second=0, microsecond=0) if now.second or now.microsecond else now
    if isinstance(schedule, CronSchedule):
        if schedule.randomized:
            return ()
        return next_cron_runs(
            schedule.expression, schedule.timezone or host_tz or "UTC", start, count
        )
    if isinstance(schedule, MacroSchedule):
        if schedule.expression is None:
            return ()
        return next_cron_runs(
            schedule.expression, schedule.timezone or host_tz or "UTC", start, count
        )
    if isinstance(schedule, DrivenSchedule) and schedule.driver_schedule is not None:
        return next_runs(schedule.driver_schedule, now, host_tz, count)
    if isinstance(schedule, IntervalSchedule):
        if schedule.last_run is not None and schedule.period_days:
            due = schedule.last_run + timedelta(days=schedule.period_days)
            return (max(due, start),)
        return ()
    if isinstance(schedule, CalendarSchedule):
        return _calendar_next(schedule.normalized, host_tz or "UTC", start, count)
    if isinstance(schedule, CompositeSchedule):
        merged = sorted(
            {t for part in schedule.parts for t in next_runs(part, now, host_tz, count)}
        )
        return tuple(merged[:count])
    if isinstance(schedule, OneShotSchedule):  # overdue: the scheduler runs it at once
        return (max(schedule.at, start),)
    return ()
