"""Whether a schedule has a run time in a window: each schedule kind, zones, DST, cronie's `~`,
and systemd's accuracy and random delay; and schedules read back from an audit document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden.cli.main import main
from schedwarden.logs.correlate import jobs_from_inventory
from schedwarden.logs.inventory_schedule import schedule_from_document
from schedwarden.model import (
    CalendarSchedule,
    CompositeSchedule,
    CronSchedule,
    DrivenSchedule,
    IntervalSchedule,
    MacroSchedule,
    OneShotSchedule,
    TriggerSchedule,
    UnknownSchedule,
)
from schedwarden.schedule_fit import runs_between, start_delay, widen_random
from tests.conftest import RHEL_OS_RELEASE, MakeRoot

T = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _cron(expression: str, timezone: str | None = None, randomized: bool = False) -> CronSchedule:
    return CronSchedule(expression, *expression.split(), expression, timezone, randomized)


def _calendar(
    *normalized: str, randomized: str | None = None, accuracy: str | None = None
) -> CalendarSchedule:
    return CalendarSchedule(normalized, normalized, "", False, randomized, accuracy)


def test_cron_windows_are_inclusive() -> None:
    hourly = _cron("0 * * * *")
    assert runs_between(hourly, T, T, None) is True
    assert runs_between(hourly, T - 2 * MINUTE, T - MINUTE, None) is False
    assert runs_between(hourly, T + MINUTE, T + 59 * MINUTE, None) is False
    assert runs_between(hourly, T + MINUTE, T + 60 * MINUTE, None) is True
    assert runs_between(hourly, T, T - MINUTE, None) is False  # an empty window


def test_cron_time_zones_and_dst() -> None:
    nine = _cron("0 9 * * *")
    assert runs_between(nine, T - timedelta(hours=2), T - timedelta(hours=2), "Europe/Berlin")
    assert not runs_between(nine, T, T, "Europe/Berlin")
    tokyo = _cron("0 19 * * *", timezone="Asia/Tokyo")  # CRON_TZ wins over the host's zone
    assert runs_between(tokyo, T, T, "Europe/Berlin")
    skipped = _cron("30 2 * * *")  # 2026-03-29 02:30 does not exist in Berlin: run at 03:00
    change = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert runs_between(skipped, change, change, "Europe/Berlin")
    assert not runs_between(skipped, change, change, "UTC")
    assert runs_between(nine, T, T, "No/Such_Zone") is None


def test_cronie_random_fields() -> None:
    assert widen_random("0~30 3 * * *") == "0-30 3 * * *"
    assert widen_random("~ ~10 * * 1~") == "0-59 0-10 * * 1-7"
    drawn = _cron("0~30 3 * * *", randomized=True)
    at = T.replace(hour=3, minute=17)
    assert runs_between(drawn, at, at, "UTC")
    assert not runs_between(drawn, at.replace(minute=44), at.replace(minute=44), "UTC")


def test_other_kinds() -> None:
    assert runs_between(MacroSchedule("@hourly", "", "0 * * * *"), T, T, None)
    assert runs_between(MacroSchedule("@reboot", "", None), T, T, None) is None
    driven = DrivenSchedule("hourly", "", "/etc/crontab:3", _cron("17 * * * *"))
    assert runs_between(driven, T + 17 * MINUTE, T + 17 * MINUTE, None)
    assert runs_between(DrivenSchedule("daily", "", None, None), T, T, None) is None
    assert runs_between(OneShotSchedule(T, ""), T - MINUTE, T, None)
    assert not runs_between(OneShotSchedule(T, ""), T + MINUTE, T + 2 * MINUTE, None)
    for unknowable in (
        TriggerSchedule("logon", ""),
        IntervalSchedule("1", 1, 5, ""),
        UnknownSchedule("?"),
    ):
        assert runs_between(unknowable, T, T, None) is None
    either = CompositeSchedule((TriggerSchedule("boot", ""), _cron("0 * * * *")), "")
    assert runs_between(either, T, T, None) is True
    assert runs_between(either, T + MINUTE, T + MINUTE, None) is None  # the boot trigger may


def test_calendar_and_start_delay() -> None:
    four = _calendar("*-*-* 04:00:00")
    at = T.replace(hour=4)
    assert runs_between(four, at, at, "UTC")
    assert not runs_between(four, at, at, "Europe/Berlin")
    assert runs_between(_calendar("*-*-* 05:00:00 Europe/Berlin"), at, at, "UTC")
    assert runs_between(_calendar("not a calendar"), at, at, "UTC") is None
    assert start_delay(four) == MINUTE  # AccuracySec's default
    assert start_delay(_calendar("daily", randomized="1h", accuracy="1s")) == timedelta(
        hours=1, seconds=1
    )
    assert start_delay(_calendar("daily", randomized="soon")) is None
    assert start_delay(_cron("* * * * *")) == timedelta()
    both = CompositeSchedule((_cron("* * * * *"), _calendar("daily", randomized="5min")), "")
    assert start_delay(both) == 6 * MINUTE


def test_schedules_read_back_from_an_audit_document(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(
        {
            "etc/crontab": "CRON_TZ=Asia/Tokyo\n0~30 3 * * * root a\n@reboot root b\n@daily root c\n",
            "etc/cron.daily/x": ("#!/bin/sh\n", 0o755),
            "etc/systemd/system/t.timer": "[Timer]\nOnCalendar=Mon 04:00\nOnBootSec=5min\n"
            "Persistent=true\nRandomizedDelaySec=5m\n",
            "etc/systemd/system/t.service": "[Service]\nExecStart=/usr/bin/t\n",
            "etc/timezone": "Europe/Berlin\n",
        },
        os_release=RHEL_OS_RELEASE,
    )
    output = CliRunner().invoke(main, ["audit", str(root), "-f", "json"]).stdout
    document = json.loads(output)
    from schedwarden import engine
    from schedwarden.sources import ImageSource

    collected = {j.job_id: j for j in engine.collect(ImageSource(str(root))).jobs}
    rebuilt = jobs_from_inventory(document)
    assert len(rebuilt) == len(collected) >= 4
    for job in rebuilt:
        original = collected[job.job_id]
        if isinstance(original.schedule, CompositeSchedule):  # monotonic spans are not kept
            assert [p.kind for p in job.schedule.parts] == [  # type: ignore[union-attr]
                p.kind for p in original.schedule.parts
            ]
            assert job.schedule.parts[0] == original.schedule.parts[0]  # type: ignore[union-attr]
        else:
            assert job.schedule == original.schedule, job.name
        assert job.environment == original.environment
        assert job.extra["host_timezone"] == "Europe/Berlin"


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"kind": "cron", "expression": "* * * * *"}
    for _ in range(depth):
        value = {"kind": "composite", "parts": [value]}
    return value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "cron",
        {"kind": "cron", "expression": 5},
        {"kind": "one_shot", "at": "yesterday"},
        {"kind": "composite", "parts": "x"},
        _nested(6),
        {"kind": "martian"},
    ],
)
def test_hostile_schedules_become_unknown(value: object) -> None:
    schedule = schedule_from_document(value)
    while isinstance(schedule, CompositeSchedule) and schedule.parts:
        schedule = schedule.parts[0]
    assert isinstance(schedule, UnknownSchedule | CompositeSchedule)


@pytest.mark.parametrize(
    "schedule",
    [
        _cron("*/7 9-17 * * 1-5"),
        _cron("30 2 * * *"),
        _calendar("Mon..Fri *-*-* *:15,45:00"),
        _calendar("*-02-30 00:00:00"),  # never
    ],
    ids=["cron", "cron-dst", "calendar", "never"],
)
def test_remembered_cursors_answer_as_a_fresh_search(schedule: object) -> None:
    """Windows asked in any order (mostly forward, sometimes back or far ahead) get the same
    answers with the per-schedule cursor as with a new search each time."""
    import random

    from schedwarden import schedule_fit

    rng = random.Random(53)
    moment = datetime(2026, 3, 20, tzinfo=UTC)
    asked = []
    for _ in range(400):
        moment += timedelta(minutes=rng.choice((1, 3, 7, 30, 90, 600, -45, 60 * 24 * 40)))
        slack = timedelta(minutes=rng.choice((0, 2, 15)))
        asked.append((moment - slack, moment))
    remembered = [runs_between(schedule, a, b, "Europe/Berlin") for a, b in asked]  # type: ignore[arg-type]
    fresh = []
    for a, b in asked:
        schedule_fit._CURSORS.clear()
        fresh.append(runs_between(schedule, a, b, "Europe/Berlin"))  # type: ignore[arg-type]
    assert remembered == fresh
    assert any(remembered) or schedule == _calendar("*-02-30 00:00:00")
