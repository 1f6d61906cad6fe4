"""When a Task Scheduler calendar trigger fires: each kind, with Repetition, RandomDelay,
EndBoundary and disabled triggers, on the host's zone (with daylight saving), on a boundary's own
zone and in every UTC offset when the host's is unknown; the task-level rules (settings that make
launch times unpredictable, triggers that are not calendar-based); and, as a property, agreement
with a brute-force enumeration of every occurrence over a few weeks. The times are chosen so that
each assertion fails when a boundary (the slack, the end, a leap day, a week count) is off by
one."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedwarden.collectors.windows.definition import DAYS, MONTHS, Trigger, duration_seconds
from schedwarden.collectors.windows.safexml import XmlProblem
from schedwarden.collectors.windows.task_xml import parse_task_xml
from schedwarden.collectors.windows.trigger_times import (
    DAY,
    fires_at,
    plan_trigger,
    task_fires_at,
    task_triggers,
)
from tests.conftest import corpus_path

BERLIN = ZoneInfo("Europe/Berlin")
NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type]


def task_xml(triggers: str, settings: str = "") -> str:
    """A whole task as Task Scheduler writes it, with these triggers and settings."""
    return (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        f'<Task version="1.4" xmlns="{NS}">'
        "<RegistrationInfo><URI>\\Nightly</URI></RegistrationInfo>"
        f"<Triggers>{triggers}</Triggers>"
        '<Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>'
        f"<Settings><Enabled>true</Enabled>{settings}</Settings>"
        '<Actions Context="Author"><Exec><Command>C:\\Tools\\backup.exe</Command></Exec>'
        "</Actions></Task>"
    )


def one_trigger(xml: str) -> Trigger:
    """The single trigger of a task holding `xml`, through the collector's parser."""
    definition, problems, _ = parse_task_xml(task_xml(xml).encode())
    assert problems == [] and len(definition.triggers) == 1
    return definition.triggers[0]


# ---------------------------------------------------------------------------------------------
# each kind


def test_one_time_trigger_fires_once_within_the_slack() -> None:
    trigger = one_trigger(
        "<TimeTrigger><StartBoundary>2025-06-01T10:00:00</StartBoundary></TimeTrigger>"
    )
    assert fires_at(trigger, utc(2025, 6, 1, 10, 0, 5), UTC) is True
    assert fires_at(trigger, utc(2025, 6, 1, 10, 2, 0), UTC) is True  # two minutes late
    assert fires_at(trigger, utc(2025, 6, 1, 10, 2, 1), UTC) is False
    assert fires_at(trigger, utc(2025, 6, 1, 9, 59, 59), UTC) is False  # before its time
    assert fires_at(trigger, utc(2025, 6, 2, 10, 0, 5), UTC) is False  # only once


def test_daily_every_two_days_from_the_start_date() -> None:
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2025-01-30T23:30:00</StartBoundary>"
        "<ScheduleByDay><DaysInterval>2</DaysInterval></ScheduleByDay></CalendarTrigger>"
    )
    assert fires_at(trigger, utc(2025, 1, 30, 23, 31), UTC) is True
    assert fires_at(trigger, utc(2025, 1, 31, 23, 31), UTC) is False
    assert fires_at(trigger, utc(2025, 2, 1, 23, 31), UTC) is True  # across the month's end
    assert fires_at(trigger, utc(2025, 1, 28, 23, 31), UTC) is False  # before StartBoundary
    assert fires_at(trigger, utc(2025, 3, 1, 23, 31), UTC) is True  # Jan 30 + 30 days
    assert fires_at(trigger, utc(2025, 3, 2, 23, 31), UTC) is False  # + 31 days


def test_weekly_interval_counts_from_the_start_week() -> None:
    """Every 2 weeks on Monday and Wednesday, starting on Wednesday 2025-01-08: the Monday of
    the start week is before StartBoundary, the next week is skipped, the one after fires."""
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2025-01-08T06:15:00</StartBoundary><ScheduleByWeek>"
        "<DaysOfWeek><Monday /><Wednesday /></DaysOfWeek><WeeksInterval>2</WeeksInterval>"
        "</ScheduleByWeek></CalendarTrigger>"
    )
    at = [utc(2025, 1, day, 6, 16) for day in (6, 8, 13, 15, 20, 22, 23, 27, 29)]
    assert [fires_at(trigger, moment, UTC) for moment in at] == [
        False,  # Monday of the start week: before StartBoundary
        True,  # the start
        False,  # the week after: skipped
        False,
        True,  # two weeks on
        True,
        False,  # a Thursday
        False,
        False,
    ]


def test_weekly_sunday_belongs_to_either_week() -> None:
    """Weeks may begin on Sunday or Monday (undocumented): a Sunday fits both counts."""
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2025-01-06T08:00:00</StartBoundary><ScheduleByWeek>"
        "<DaysOfWeek><Sunday /></DaysOfWeek><WeeksInterval>2</WeeksInterval>"
        "</ScheduleByWeek></CalendarTrigger>"
    )  # starts on a Monday
    assert fires_at(trigger, utc(2025, 1, 12, 8, 1), UTC) is True  # same week if Monday-first
    assert fires_at(trigger, utc(2025, 1, 19, 8, 1), UTC) is True  # two weeks on if Sunday-first
    assert fires_at(trigger, utc(2025, 1, 5, 8, 1), UTC) is False  # before StartBoundary


def test_monthly_days_last_day_and_leap_years() -> None:
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2023-01-01T01:00:00</StartBoundary><ScheduleByMonth>"
        "<DaysOfMonth><Day>31</Day><Day>Last</Day></DaysOfMonth>"
        "<Months><January /><February /><April /></Months>"
        "</ScheduleByMonth></CalendarTrigger>"
    )
    assert fires_at(trigger, utc(2023, 1, 31, 1, 1), UTC) is True
    assert fires_at(trigger, utc(2023, 2, 28, 1, 1), UTC) is True  # Last, common year
    assert fires_at(trigger, utc(2024, 2, 28, 1, 1), UTC) is False  # leap year: not the last
    assert fires_at(trigger, utc(2024, 2, 29, 1, 1), UTC) is True
    assert fires_at(trigger, utc(2023, 4, 30, 1, 1), UTC) is True  # Last; April has no 31st
    assert fires_at(trigger, utc(2023, 3, 31, 1, 1), UTC) is False  # March is not listed
    assert fires_at(trigger, utc(2023, 5, 1, 1, 1), UTC) is False  # no rolling over


def test_a_day_the_month_lacks_never_comes() -> None:
    trigger = Trigger(
        "monthly", start="2024-01-01T12:00:00", days_of_month=("30",), months=("February",)
    )
    assert fires_at(trigger, utc(2024, 2, 29, 12, 1), UTC) is False
    assert fires_at(trigger, utc(2024, 3, 1, 12, 1), UTC) is False
    assert fires_at(trigger, utc(2024, 3, 30, 12, 1), UTC) is False


def test_monthly_by_day_of_week_with_the_last_week() -> None:
    """First and last Monday of January and February 2024: Jan 1 and 29; Feb 5 and 26 (the
    fourth Monday of February is also its last)."""
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2024-01-01T18:00:00</StartBoundary>"
        "<ScheduleByMonthDayOfWeek><Weeks><Week>1</Week><Week>Last</Week></Weeks>"
        "<DaysOfWeek><Monday /></DaysOfWeek><Months><January /><February /></Months>"
        "</ScheduleByMonthDayOfWeek></CalendarTrigger>"
    )
    fired = [d for d in range(1, 32) if fires_at(trigger, utc(2024, 1, d, 18, 1), UTC)]
    assert fired == [1, 29]
    fired = [d for d in range(1, 30) if fires_at(trigger, utc(2024, 2, d, 18, 1), UTC)]
    assert fired == [5, 26]
    assert fires_at(trigger, utc(2024, 4, 1, 18, 1), UTC) is False  # April is not listed
    # the first week is days 1-7, the fourth 22-28: January 2024's Sundays are 7, 14, 21, 28
    sundays = Trigger(
        "monthly_dow", start="2024-01-01T18:00:00", days_of_week=("Sunday",), weeks=("1", "4")
    )
    fired = [d for d in range(1, 32) if fires_at(sundays, utc(2024, 1, d, 18, 1), UTC)]
    assert fired == [7, 28]
    last = Trigger(
        "monthly_dow", start="2024-01-01T18:00:00", days_of_week=("Monday",), weeks=("Last",)
    )
    fired = [d for d in range(1, 31) if fires_at(last, utc(2024, 9, d, 18, 1), UTC)]
    assert fired == [30]  # not the 23rd, seven days before the end of a 30-day month


def test_repetition_for_a_duration_and_indefinitely() -> None:
    daily = one_trigger(
        "<CalendarTrigger><Repetition><Interval>PT30M</Interval><Duration>PT2H</Duration>"
        "<StopAtDurationEnd>false</StopAtDurationEnd></Repetition>"
        "<StartBoundary>2025-03-01T08:00:00</StartBoundary>"
        "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
    )
    assert fires_at(daily, utc(2025, 3, 5, 9, 30, 40), UTC) is True
    assert fires_at(daily, utc(2025, 3, 5, 10, 0, 40), UTC) is True  # the end of the duration
    assert fires_at(daily, utc(2025, 3, 5, 10, 30, 40), UTC) is False
    assert fires_at(daily, utc(2025, 3, 5, 9, 15, 0), UTC) is False  # between repetitions
    every_five = one_trigger(
        "<TimeTrigger><Repetition><Interval>PT5M</Interval></Repetition>"
        "<StartBoundary>2024-02-29T00:02:00</StartBoundary></TimeTrigger>"
    )
    assert fires_at(every_five, utc(2026, 7, 14, 13, 47, 30), UTC) is True  # years later
    assert fires_at(every_five, utc(2026, 7, 14, 13, 50, 30), UTC) is False
    assert fires_at(every_five, utc(2024, 2, 28, 23, 57, 30), UTC) is False  # before it
    leap_day = Trigger(
        "monthly",
        start="2025-01-01T10:00:00",
        days_of_month=("29",),
        months=("February",),
        repetition_interval="PT1H",
    )
    # the first occurrence is 2028-02-29; its hourly repetitions go on from there
    assert fires_at(leap_day, utc(2027, 3, 1, 10, 0, 30), UTC) is False
    assert fires_at(leap_day, utc(2028, 2, 29, 9, 0, 30), UTC) is False
    assert fires_at(leap_day, utc(2028, 2, 29, 10, 0, 30), UTC) is True
    assert fires_at(leap_day, utc(2028, 6, 1, 17, 0, 30), UTC) is True
    assert fires_at(leap_day, utc(2028, 6, 1, 17, 30), UTC) is False


def test_indefinite_repetition_that_does_not_divide_a_day() -> None:
    """Every 7 hours from midnight daily: the repetitions of earlier days go on (Jan 2 04:00 is
    Jan 1 + 28 h); a time no occurrence of the last week explains is not judged."""
    trigger = Trigger("daily", start="2025-01-01T00:00:00", repetition_interval="PT7H")
    assert fires_at(trigger, utc(2025, 1, 2, 4, 0, 30), UTC) is True
    assert fires_at(trigger, utc(2025, 1, 2, 7, 0, 30), UTC) is True
    assert fires_at(trigger, utc(2025, 1, 2, 5, 0, 30), UTC) is None


def test_random_delay_and_end_boundary() -> None:
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2025-05-01T03:00:00</StartBoundary>"
        "<EndBoundary>2025-05-03T03:00:00</EndBoundary><RandomDelay>PT1H</RandomDelay>"
        "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
    )
    assert fires_at(trigger, utc(2025, 5, 2, 4, 2), UTC) is True  # an hour and two late
    assert fires_at(trigger, utc(2025, 5, 2, 4, 2, 1), UTC) is False
    assert fires_at(trigger, utc(2025, 5, 3, 3, 30), UTC) is True  # at the end, delayed
    assert fires_at(trigger, utc(2025, 5, 4, 3, 30), UTC) is False  # after EndBoundary
    repeating = Trigger(
        "daily",
        start="2025-05-01T03:00:00",
        end="2025-05-01T04:00:00",
        repetition_interval="PT1H",
        repetition_duration="PT3H",
    )
    assert fires_at(repeating, utc(2025, 5, 1, 4, 0, 30), UTC) is True
    assert fires_at(repeating, utc(2025, 5, 1, 5, 0, 30), UTC) is False  # the trigger ended


def test_a_disabled_trigger_never_fires() -> None:
    trigger = one_trigger(
        "<CalendarTrigger><StartBoundary>2025-01-01T09:00:00</StartBoundary>"
        "<Enabled>false</Enabled>"
        "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
    )
    assert not trigger.enabled
    assert fires_at(trigger, utc(2025, 1, 2, 9, 0, 30), UTC) is False
    enabled = Trigger("daily", start="2025-01-01T09:00:00")
    assert fires_at(enabled, utc(2025, 1, 2, 9, 0, 30), UTC) is True


def test_what_cannot_be_read_is_not_judged() -> None:
    moment = utc(2025, 1, 2, 9, 0, 30)
    unreadable = [
        Trigger("daily"),  # no StartBoundary
        Trigger("daily", start="2025-13-01T09:00:00"),
        Trigger("daily", start="2025-01-01T09:00:00", random_delay="P1M"),  # months vary
        Trigger("daily", start="2025-01-01T09:00:00", end="soon"),
        Trigger("weekly", start="2025-01-01T09:00:00"),  # no day
        Trigger("monthly", start="2025-01-01T09:00:00", days_of_month=("32",)),
        Trigger("monthly_dow", start="2025-01-01T09:00:00", days_of_week=("Monday",), weeks=("5",)),
        Trigger("boot"),
        Trigger("maintenance", repetition_interval="P1D"),
    ]
    assert [plan_trigger(t) for t in unreadable] == [None] * len(unreadable)
    assert [fires_at(t, moment, UTC) for t in unreadable] == [None] * len(unreadable)
    with pytest.raises(ValueError):
        fires_at(Trigger("daily", start="2025-01-01T09:00:00"), datetime(2025, 1, 2, 9), UTC)


# ---------------------------------------------------------------------------------------------
# clocks


def test_host_zone_with_daylight_saving() -> None:
    trigger = Trigger("daily", start="2025-01-01T09:00:00")
    assert fires_at(trigger, utc(2025, 1, 15, 8, 0, 30), BERLIN) is True  # CET, +01:00
    assert fires_at(trigger, utc(2025, 1, 15, 7, 0, 30), BERLIN) is False
    assert fires_at(trigger, utc(2025, 7, 15, 7, 0, 30), BERLIN) is True  # CEST, +02:00
    assert fires_at(trigger, utc(2025, 7, 15, 8, 0, 30), BERLIN) is False


def test_wall_times_skipped_and_repeated_by_the_clock_change() -> None:
    """02:30 does not exist in Berlin on 2025-03-30 (02:00 → 03:00, at 01:00Z): a launch from
    00:30Z (its reading on the new offset) to 01:30Z (on the old) fits; on 2025-10-26 it comes
    twice (00:30Z and 01:30Z)."""
    trigger = Trigger("daily", start="2025-01-01T02:30:00")
    spring = [
        fires_at(trigger, utc(2025, 3, 30, h, m), BERLIN)
        for h, m in ((0, 29), (1, 0), (1, 31), (1, 33))
    ]
    assert spring == [False, True, True, False]
    autumn = [
        fires_at(trigger, utc(2025, 10, 26, h, m), BERLIN)
        for h, m in ((0, 31), (1, 0), (1, 31), (2, 31))
    ]
    assert autumn == [True, False, True, False]


def test_repetitions_count_elapsed_time_across_the_change() -> None:
    """Daily at 00:00 Berlin, every hour for a day: on 2025-03-30 midnight is 23:00Z the day
    before, and the hourly repetitions go on in UTC whole hours, not at wall-clock hours."""
    trigger = Trigger(
        "daily", start="2025-01-01T00:00:00", repetition_interval="PT1H", repetition_duration="P1D"
    )
    assert fires_at(trigger, utc(2025, 3, 30, 5, 0, 30), BERLIN) is True
    assert fires_at(trigger, utc(2025, 3, 30, 23, 0, 30), BERLIN) is True  # the next midnight
    assert fires_at(trigger, utc(2025, 3, 30, 5, 30), BERLIN) is False
    phases = Trigger("daily", start="2025-01-01T00:00:00", repetition_interval="PT2H")
    # indefinitely every 2 hours: 23:00Z-based in winter, 22:00Z-based from the summer on
    assert fires_at(phases, utc(2025, 2, 10, 3, 0, 30), BERLIN) is True
    assert fires_at(phases, utc(2025, 2, 10, 4, 0, 30), BERLIN) is False  # no summer yet
    assert fires_at(phases, utc(2025, 6, 10, 4, 0, 30), BERLIN) is True
    assert fires_at(phases, utc(2025, 12, 10, 4, 0, 30), BERLIN) is True  # summer's go on


def test_a_boundary_with_a_zone_is_absolute() -> None:
    utc_start = Trigger("daily", start="2025-01-01T09:00:00Z")
    india = Trigger("daily", start="2025-01-01T09:00:00+05:30")
    for host in (BERLIN, None):
        assert fires_at(utc_start, utc(2025, 7, 15, 9, 0, 30), host) is True
        assert fires_at(utc_start, utc(2025, 7, 15, 7, 0, 30), host) is False
        assert fires_at(india, utc(2025, 7, 15, 3, 30, 30), host) is True
        assert fires_at(india, utc(2025, 7, 15, 4, 0, 30), host) is False
    weekly = Trigger("weekly", start="2025-01-06T01:00:00+05:30", days_of_week=("Monday",))
    # Monday 01:00 at +05:30 is Sunday 19:30Z: the calendar is read on the boundary's clock
    assert fires_at(weekly, utc(2025, 1, 12, 19, 30, 30), None) is True
    assert fires_at(weekly, utc(2025, 1, 13, 19, 30, 30), None) is False


def test_unknown_zone_tries_every_offset() -> None:
    trigger = Trigger("weekly", start="2025-01-01T09:00:00", days_of_week=("Wednesday",))
    assert fires_at(trigger, utc(2025, 1, 8, 3, 30, 30), None) is True  # 09:00 at +05:30
    assert fires_at(trigger, utc(2025, 1, 7, 19, 0, 30), None) is True  # at +14:00
    assert fires_at(trigger, utc(2025, 1, 8, 21, 0, 30), None) is True  # at -12:00
    assert fires_at(trigger, utc(2025, 1, 8, 3, 38), None) is False  # no offset ends in :22
    assert fires_at(trigger, utc(2025, 1, 7, 18, 0, 30), None) is False  # would be +15:00
    assert fires_at(trigger, utc(2025, 1, 8, 22, 0, 30), None) is False  # would be -13:00
    assert fires_at(trigger, utc(2025, 1, 10, 9, 0, 30), None) is False  # a Friday everywhere
    ended = Trigger("daily", start="2025-01-01T09:00:00", end="2025-01-05T09:00:00")
    assert fires_at(ended, utc(2025, 1, 5, 9, 0, 30), None) is True
    assert fires_at(ended, utc(2025, 1, 6, 9, 0, 30), None) is False  # on its own clock
    # an absolute start with an end on the host's clock: the end is at most 12 hours later
    mixed = Trigger("daily", start="2025-01-01T15:00:00Z", end="2025-01-05T09:00:00")
    assert fires_at(mixed, utc(2025, 1, 5, 15, 0, 30), None) is True
    assert fires_at(mixed, utc(2025, 1, 5, 15, 0, 30), BERLIN) is False  # it ended at 08:00Z
    assert fires_at(mixed, utc(2025, 1, 6, 15, 0, 30), None) is False


# ---------------------------------------------------------------------------------------------
# the task


DAILY_0300 = (
    "<CalendarTrigger><StartBoundary>2025-02-01T03:00:00</StartBoundary>"
    "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
)


def test_task_fires_when_one_of_its_triggers_does() -> None:
    raw = task_xml(
        DAILY_0300 + "<TimeTrigger><StartBoundary>2025-02-10T15:45:00</StartBoundary></TimeTrigger>"
    )
    assert task_fires_at(raw, utc(2025, 2, 9, 3, 1), "UTC") is True
    assert task_fires_at(raw, utc(2025, 2, 10, 15, 46), "UTC") is True
    assert task_fires_at(raw, utc(2025, 2, 11, 15, 46), "UTC") is False
    assert task_fires_at(raw, utc(2025, 2, 9, 2, 1), "Europe/Berlin") is True
    assert task_fires_at(raw, utc(2025, 2, 9, 2, 1), "Not/AZone") is True  # unknown: any offset
    assert task_fires_at(raw, utc(2025, 2, 9, 2, 1), "UTC") is False


def test_tasks_whose_launch_times_do_not_follow_from_their_triggers() -> None:
    moment = utc(2025, 2, 9, 11, 1)  # no trigger below fires then
    assert task_fires_at(task_xml(DAILY_0300), moment, "UTC") is False
    not_judged = {
        "StartWhenAvailable": task_xml(DAILY_0300, "<StartWhenAvailable>true</StartWhenAvailable>"),
        "RestartOnFailure": task_xml(
            DAILY_0300,
            "<RestartOnFailure><Interval>PT5M</Interval><Count>3</Count></RestartOnFailure>",
        ),
        "boot": task_xml(DAILY_0300 + "<BootTrigger />"),
        # a kind that is not calendar-based is left to the kind check, even disabled
        "disabled logon": task_xml(
            DAILY_0300 + "<LogonTrigger><Enabled>false</Enabled></LogonTrigger>"
        ),
        "no trigger": task_xml(""),
        "cut short": task_xml(DAILY_0300)[:300] + "…",
        "not a task": "<ScheduledTasks><Task /></ScheduledTasks>",
        "bad": task_xml(
            "<CalendarTrigger><StartBoundary>x</StartBoundary><ScheduleByDay /></CalendarTrigger>"
        ),
    }
    assert {name: task_fires_at(raw, moment, "UTC") for name, raw in not_judged.items()} == {
        name: None for name in not_judged
    }
    off = task_xml(DAILY_0300, "<StartWhenAvailable>false</StartWhenAvailable>")
    assert task_fires_at(off, moment, "UTC") is False


def test_run_only_if_idle_waits_for_idle() -> None:
    idle = task_xml(
        DAILY_0300,
        "<RunOnlyIfIdle>true</RunOnlyIfIdle>"
        "<IdleSettings><WaitTimeout>PT2H</WaitTimeout></IdleSettings>",
    )
    assert task_fires_at(idle, utc(2025, 2, 9, 5, 2), "UTC") is True
    assert task_fires_at(idle, utc(2025, 2, 9, 5, 3), "UTC") is False
    default = task_xml(DAILY_0300, "<RunOnlyIfIdle>true</RunOnlyIfIdle>")  # waits an hour
    assert task_fires_at(default, utc(2025, 2, 9, 4, 2), "UTC") is True
    assert task_fires_at(default, utc(2025, 2, 9, 4, 3), "UTC") is False
    triggers = task_triggers(idle)
    assert triggers is not None and triggers[1] == timedelta(hours=2)


def test_every_calendar_trigger_of_the_corpus_fires_at_its_start() -> None:
    """The real task XMLs: each readable daily or one-time trigger fires at its StartBoundary
    (and a daily one a day later, not half a day later); nothing raises."""
    folder = corpus_path("windows", "default-tasks")
    checked = 0
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        try:
            definition, _, _ = parse_task_xml(path.read_bytes())
        except XmlProblem:
            continue
        for trigger in definition.triggers:
            plan = plan_trigger(trigger)
            if plan is None or trigger.kind not in ("daily", "time") or not trigger.enabled:
                continue
            zoned = plan.start_offset is not None
            start = datetime(1, 1, 1, tzinfo=UTC) + timedelta(
                seconds=plan.start - (plan.start_offset or 0)
            )
            assert fires_at(trigger, start + timedelta(seconds=30), UTC) is True, path
            if trigger.kind == "daily" and trigger.every == 1 and not trigger.end:
                later = start + timedelta(days=1, seconds=30)
                assert fires_at(trigger, later, UTC if not zoned else None) is True, path
                if not trigger.repetition_interval:
                    noon = start + timedelta(hours=12, seconds=30)
                    assert fires_at(trigger, noon, UTC) is False, path
            checked += 1
    assert checked >= 20


# ---------------------------------------------------------------------------------------------
# against a brute-force enumeration


def _brute(trigger: Trigger, moment: datetime, host: tzinfo | None, slack: int = 120) -> bool:
    """Every occurrence from StartBoundary to the moment, each repetition of each, on every
    clock the trigger may be read on, compared one by one (datetime arithmetic only)."""
    start = datetime.fromisoformat(trigger.start or "")
    end = datetime.fromisoformat(trigger.end) if trigger.end else None
    late = timedelta(seconds=slack + (duration_seconds(trigger.random_delay) or 0))
    interval = timedelta(seconds=duration_seconds(trigger.repetition_interval) or 0)
    duration = (
        timedelta(seconds=duration_seconds(trigger.repetition_duration) or 0)
        if trigger.repetition_duration
        else None
    )
    if start.tzinfo is not None:
        clocks: list[tzinfo] = [start.tzinfo]
    elif host is not None:
        clocks = [host]
    else:
        clocks = [timezone(timedelta(minutes=m)) for m in range(-720, 841, 15)]
    for clock in clocks:
        wall_start = start.astimezone(clock).replace(tzinfo=None) if start.tzinfo else start
        last = moment
        if end is not None:
            last = min(last, end if end.tzinfo else max(_readings(end, clock)[-1]))
        day = wall_start.date()
        while day <= moment.astimezone(clock).date() + timedelta(days=1):
            base = datetime.combine(day, wall_start.time())
            if base >= wall_start and _occurs(trigger, wall_start.date(), day):
                for first, final in _readings(base, clock):
                    k = 0
                    if interval:  # skip the repetitions long before the moment
                        k = max(0, (moment - late - final) // interval - 1)
                    while first + k * interval <= moment:
                        if duration is not None and k * interval > duration:
                            break
                        if first + k * interval <= last and final + k * interval >= moment - late:
                            return True
                        if not interval:
                            break
                        k += 1
            day += timedelta(days=1)
            if trigger.kind == "time":
                break
    return False


def _readings(wall: datetime, clock: tzinfo) -> list[tuple[datetime, datetime]]:
    """The instants a wall time names on a clock: as `_instants`, by round trips."""
    readings = sorted({wall.replace(tzinfo=clock, fold=f).astimezone(UTC) for f in (0, 1)})
    real = [r for r in readings if r.astimezone(clock).replace(tzinfo=None) == wall]
    if real:
        return [(r, r) for r in real]
    return [(readings[0], readings[-1])]


def _occurs(trigger: Trigger, start: date, day: date) -> bool:
    kind = trigger.kind
    if kind == "time":
        return day == start
    if kind == "daily":
        return (day - start).days % trigger.every == 0
    name = DAYS[(day.weekday() + 1) % 7]
    if kind == "weekly":
        if name not in trigger.days_of_week:
            return False
        for back in (lambda d: (d.weekday() + 1) % 7, lambda d: d.weekday()):  # Sun, Mon first
            weeks = (day - timedelta(days=back(day))) - (start - timedelta(days=back(start)))
            if weeks.days // 7 % trigger.every == 0:
                return True
        return False
    if trigger.months and MONTHS[day.month - 1] not in trigger.months:
        return False
    length = calendar.monthrange(day.year, day.month)[1]
    if kind == "monthly":
        return str(day.day) in trigger.days_of_month or (
            "Last" in trigger.days_of_month and day.day == length
        )
    if name not in trigger.days_of_week:
        return False
    weeks_listed = trigger.weeks or ("1", "2", "3", "4", "Last")
    return str((day.day - 1) // 7 + 1) in weeks_listed or (
        "Last" in weeks_listed and day.day + 7 > length
    )


ZONES = {
    "unknown": None,
    "UTC": UTC,
    "Berlin": BERLIN,
    "St_Johns": ZoneInfo("America/St_Johns"),
    "Lord_Howe": ZoneInfo("Australia/Lord_Howe"),
}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Trigger, datetime, str]:
    kind = draw(st.sampled_from(["time", "daily", "weekly", "monthly", "monthly_dow"]))
    first = draw(st.datetimes(datetime(2024, 1, 1), datetime(2025, 12, 31)))
    first = first.replace(microsecond=0, second=draw(st.sampled_from([0, 0, 17])))
    suffix = draw(st.sampled_from(["", "", "", "Z", "+05:30", "-03:00"]))
    interval = draw(st.sampled_from([None, None, "PT30M", "PT1H", "PT90M", "PT2H", "PT7H"]))
    duration = draw(st.sampled_from([None, "PT3H", "P1D", "P2D"])) if interval else None
    end = None
    if draw(st.booleans()):
        end = (first + timedelta(minutes=draw(st.integers(0, 30 * 1440)))).isoformat() + suffix
    trigger = Trigger(
        kind,
        start=first.isoformat() + suffix,
        end=end,
        random_delay=draw(st.sampled_from([None, None, "PT10M", "PT1H"])),
        repetition_interval=interval,
        repetition_duration=duration,
        every=draw(st.integers(1, 3)),
        days_of_week=tuple(d for d in DAYS if draw(st.booleans())) or ("Friday",),
        days_of_month=tuple(
            draw(st.sets(st.sampled_from([*map(str, range(1, 32)), "Last"]), min_size=1))
        ),
        months=tuple(m for m in MONTHS if draw(st.booleans())) if draw(st.booleans()) else (),
        weeks=tuple(draw(st.sets(st.sampled_from(["1", "2", "3", "4", "Last"])))),
    )
    zone_name = draw(st.sampled_from(sorted(ZONES)))
    # near a launch time more often than not: a day, repetitions and a jitter from the start
    near = first + timedelta(
        days=draw(st.integers(0, 40)),
        seconds=draw(st.integers(0, 6)) * (duration_seconds(interval) or 0),
    )
    shift = timedelta(minutes=draw(st.sampled_from([0, -60, -120, 150, -330, 600])))
    jitter = timedelta(seconds=draw(st.integers(-200, 4000)))
    moment = (near + shift + jitter).replace(tzinfo=UTC)
    return trigger, moment, zone_name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_agrees_with_brute_force_enumeration(case: tuple[Trigger, datetime, str]) -> None:
    trigger, moment, zone_name = case
    host = ZONES[zone_name]
    verdict = fires_at(trigger, moment, host)
    if verdict is None:  # only an indefinite repetition that does not divide a day
        interval = duration_seconds(trigger.repetition_interval) or 0
        assert interval and not trigger.repetition_duration and DAY % interval
        return
    assert verdict == _brute(trigger, moment, host)
