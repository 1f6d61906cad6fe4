"""/etc/anacrontab jobs with their timestamps as last run."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from schedwarden.model import IntervalSchedule, Mechanism
from tests.conftest import MakeRoot, run_collect

ANACRONTAB = (
    "SHELL=/bin/sh\n"
    "PATH=/sbin:/bin:/usr/sbin:/usr/bin\n"
    "RANDOM_DELAY=45\n"
    "START_HOURS_RANGE=3-22\n"
    "1\t5\tcron.daily\t\tnice run-parts /etc/cron.daily\n"
    "7\t25\tcron.weekly\t\tnice run-parts /etc/cron.weekly\n"
    "@monthly 45\tcron.monthly\t\tnice run-parts /etc/cron.monthly\n"
    "0x 5 bad c\n"
    "1 5\n"
    "7 5 id\n"
)


def test_anacrontab_jobs_stamps_and_errors(make_root: MakeRoot) -> None:
    root = make_root({"etc/anacrontab": ANACRONTAB, "var/spool/anacron/cron.daily": "20261127\n"})
    stamp = root / "var/spool/anacron/cron.daily"
    ran = datetime(2026, 11, 27, 7, 20, tzinfo=UTC).timestamp()
    os.utime(stamp, (ran, ran))
    report = run_collect(root)
    jobs = [j for j in report.jobs if j.mechanism is Mechanism.ANACRON]
    assert [j.name for j in jobs] == ["cron.daily", "cron.weekly", "cron.monthly"]
    assert [(i.code, i.evidence.line, i.message) for i in report.issues] == [
        ("PARSE_ERROR", 8, "anacron skips this line: invalid period '0x'"),
        ("PARSE_ERROR", 9, "anacron skips this line: missing fields"),
        ("PARSE_ERROR", 10, "anacron skips this line: missing command"),
    ]
    daily = jobs[0]
    assert isinstance(daily.schedule, IntervalSchedule)
    assert daily.schedule.period_days == 1
    assert daily.schedule.delay_minutes == 5
    assert daily.schedule.start_hours_range == "3-22"
    assert daily.schedule.random_delay_minutes == 45
    assert daily.schedule.last_run is not None
    assert daily.schedule.last_run.isoformat() == "2026-11-27T07:20:00+00:00"
    assert daily.schedule.description == (
        "Once a day, 5 min after anacron starts, only between hours 3-22"
    )
    assert daily.next_runs[0].isoformat() == "2026-11-28T12:00:00+00:00"  # overdue: now
    assert daily.evidence.related == ("/var/spool/anacron/cron.daily",)
    assert daily.run_as == "root"
    assert dict(daily.environment)["SHELL"] == "/bin/sh"
    monthly = jobs[2]
    assert monthly.schedule.period == "@monthly"  # type: ignore[union-attr]
    assert monthly.schedule.last_run is None  # type: ignore[union-attr]
