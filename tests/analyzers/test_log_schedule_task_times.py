"""TASK_RUN_OFF_SCHEDULE: a launch by a time trigger (TaskScheduler/Operational 107) at a time
none of the task's calendar triggers fires, judged against the definition the launch ran under
(the last 4698/4702 before it, else the task on disk, from an image or an inventory file), in
the host's zone or in every UTC offset. Events are built as the EVTX reader builds them; the task
definitions go through the same parsers as real ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden import engine, hunting
from schedwarden.analyzers.log_base import LogContext, ScheduleClock
from schedwarden.analyzers.log_registry import LOG_ANALYZERS
from schedwarden.analyzers.log_schedule import (
    MAX_FINDINGS_PER_JOB,
    RULES,
    off_trigger_times,
    trigger_not_defined,
)
from schedwarden.cli.main import main
from schedwarden.collectors.common import RAW_EXCERPT_CAP
from schedwarden.collectors.windows.trigger_times import task_fires_at
from schedwarden.logs.correlate import jobs_from_inventory, tie
from schedwarden.logs.task_content import task_from_content
from schedwarden.model import Evidence, JobEvent, ScheduledJob, Severity, SourceKind
from schedwarden.schedule_fit import runs_between, start_delay
from schedwarden.sources import ImageSource
from tests.conftest import MakeRoot

CLOCK = ScheduleClock(runs_between, start_delay, task_fires_at)
OPERATIONAL = "Microsoft-Windows-TaskScheduler/Operational"
NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
LOG = Evidence(SourceKind.FILE, "ws1", "C:\\logs\\TaskScheduler.evtx")
SECURITY = Evidence(SourceKind.FILE, "ws1", "C:\\logs\\Security.evtx")
DAILY_0300 = (
    "<CalendarTrigger><StartBoundary>2025-02-01T03:00:00</StartBoundary>"
    "<ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger>"
)
DAILY_0500 = DAILY_0300.replace("03:00:00", "05:00:00")


def task_xml(triggers: str, settings: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        f'<Task version="1.4" xmlns="{NS}">'
        "<RegistrationInfo><URI>\\Backup</URI><Author>CONTOSO\\admin</Author></RegistrationInfo>"
        f"<Triggers>{triggers}</Triggers>"
        '<Principals><Principal id="Author"><UserId>S-1-5-18</UserId>'
        "<RunLevel>HighestAvailable</RunLevel></Principal></Principals>"
        f"<Settings><MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>{settings}"
        "<Enabled>true</Enabled></Settings>"
        '<Actions Context="Author"><Exec><Command>C:\\Tools\\backup.exe</Command>'
        "<Arguments>/full</Arguments></Exec></Actions></Task>"
    )


def registered(when: datetime, xml: str, record: int, event_id: int = 4698) -> JobEvent:
    """A Security 4698 (4702: updated) with its TaskContent read as the EVTX reader reads it."""
    job = task_from_content("\\Backup", xml, SECURITY)
    assert isinstance(job, ScheduledJob)
    action = "registered" if event_id == 4698 else "updated"
    extra = {"channel": "Security", "event_id": event_id, "record_id": record, "definition": job}
    return JobEvent(when, "ws1", action, "\\Backup", SECURITY, "CONTOSO\\admin", None, extra)


def launched(when: datetime, record: int, event_id: int = 107, name: str = "\\Backup") -> JobEvent:
    extra = {"channel": OPERATIONAL, "event_id": event_id, "record_id": record}
    return JobEvent(when, "ws1", "launched", name, LOG, "NT AUTHORITY\\SYSTEM", None, extra)


CREATED = datetime(2025, 2, 1, 0, 10, tzinfo=UTC)


def test_a_launch_at_a_time_no_trigger_fires() -> None:
    """Daily at 03:00 on a Berlin host (02:00Z in winter): the launch at 02:00:40Z is the
    trigger's; the one at 11:17Z is not, and is reported with everything an analyst needs."""
    events = [
        registered(CREATED, task_xml(DAILY_0300), 501),
        launched(datetime(2025, 2, 3, 2, 0, 40, tzinfo=UTC), 7),
        launched(datetime(2025, 2, 3, 11, 17, 5, tzinfo=UTC), 8),
        launched(datetime(2025, 2, 4, 3, 0, 40, tzinfo=UTC), 9),  # 04:00 in Berlin
    ]
    context = LogContext(host_timezone="Europe/Berlin", clock=CLOCK)
    found = list(off_trigger_times(events, context))
    assert [(f.rule_id, f.severity, f.techniques, f.job_id) for f in found] == [
        ("TASK_RUN_OFF_SCHEDULE", Severity.MEDIUM, ("T1053.005",), None)
    ] * 2
    message = found[0].message
    assert found[0].evidence == LOG and found[0].title == RULES["TASK_RUN_OFF_SCHEDULE"]
    assert message.startswith(
        "task \\Backup was launched by a time trigger at 2025-02-03T11:17:05Z"
    )
    assert "C:\\logs\\TaskScheduler.evtx record 8" in message
    assert "Daily at 03:00" in message
    assert "its definition logged at 2025-02-01T00:10:00Z (C:\\logs\\Security.evtx record 501)" in (
        message
    )
    assert "Europe/Berlin" in message
    assert "record 9" in found[1].message
    assert "4702" in found[0].remediation
    # the same events on a UTC host: 02:00:40Z is now the off one, 03:00:40Z the trigger's
    utc_host = list(off_trigger_times(events, LogContext(host_timezone="UTC", clock=CLOCK)))
    assert ["record 7" in f.message for f in utc_host] == [True, False]
    assert "record 8" in utc_host[1].message


def test_unknown_zone_reports_only_what_fits_no_offset() -> None:
    events = [
        registered(CREATED, task_xml(DAILY_0300), 501),
        launched(datetime(2025, 2, 3, 11, 0, 40, tzinfo=UTC), 7),  # 03:00 at -08:00
        launched(datetime(2025, 2, 3, 11, 7, 0, tzinfo=UTC), 8),  # no offset ends in :53
    ]
    found = list(off_trigger_times(events, LogContext(clock=CLOCK)))
    assert len(found) == 1 and "record 8" in found[0].message
    assert "every UTC offset" in found[0].message


def test_start_when_available_is_not_judged() -> None:
    xml = task_xml(DAILY_0300, "<StartWhenAvailable>true</StartWhenAvailable>")
    events = [registered(CREATED, xml, 501), launched(datetime(2025, 2, 3, 11, 7, tzinfo=UTC), 8)]
    assert list(off_trigger_times(events, LogContext(host_timezone="UTC", clock=CLOCK))) == []
    plain = [registered(CREATED, task_xml(DAILY_0300), 501), events[1]]
    assert len(list(off_trigger_times(plain, LogContext(host_timezone="UTC", clock=CLOCK)))) == 1


def test_launches_the_kind_check_reports_and_other_kinds_are_left_alone() -> None:
    """A task whose only trigger is a logon: its 107 is TASK_TRIGGER_NOT_DEFINED's, not ours;
    a task with a logon trigger besides its calendar one is not judged on time; launches by
    other kinds of trigger (118 boot) and tasks without a definition are not ours either."""
    logon = task_xml("<LogonTrigger><Enabled>true</Enabled></LogonTrigger>")
    both = task_xml(DAILY_0300 + "<LogonTrigger><Enabled>true</Enabled></LogonTrigger>")
    moment = datetime(2025, 2, 3, 11, 7, tzinfo=UTC)
    context = LogContext(host_timezone="UTC", clock=CLOCK)
    only_logon = [registered(CREATED, logon, 501), launched(moment, 8)]
    assert list(off_trigger_times(only_logon, context)) == []
    assert [f.rule_id for f in trigger_not_defined(only_logon, context)] == [
        "TASK_TRIGGER_NOT_DEFINED"
    ]
    assert (
        list(off_trigger_times([registered(CREATED, both, 501), launched(moment, 8)], context))
        == []
    )
    daily = registered(CREATED, task_xml(DAILY_0300), 501)
    assert list(off_trigger_times([daily, launched(moment, 8, 118)], context)) == []
    assert list(off_trigger_times([daily, launched(moment, 8, name="\\Other")], context)) == []
    assert len(list(off_trigger_times([daily, launched(moment, 8)], context))) == 1


def test_each_launch_is_judged_by_the_definition_it_ran_under() -> None:
    """Daily 03:00, updated (4702) to 05:00 on Feb 5: 03:00 launches before the update are
    fine, after it they are not; a launch before any definition is not judged."""
    events = [
        registered(CREATED, task_xml(DAILY_0300), 501),
        registered(datetime(2025, 2, 5, 12, 0, tzinfo=UTC), task_xml(DAILY_0500), 640, 4702),
        launched(datetime(2025, 1, 30, 9, 13, tzinfo=UTC), 1),  # before any definition
        launched(datetime(2025, 2, 4, 3, 0, 30, tzinfo=UTC), 2),
        launched(datetime(2025, 2, 6, 3, 0, 30, tzinfo=UTC), 3),
        launched(datetime(2025, 2, 6, 5, 0, 30, tzinfo=UTC), 4),
    ]
    found = list(off_trigger_times(events, LogContext(host_timezone="UTC", clock=CLOCK)))
    assert len(found) == 1 and "record 3)" in found[0].message
    assert "record 640" in found[0].message and "Daily at 05:00" in found[0].message


def test_findings_are_capped_per_task_and_copies_of_a_log_count_once() -> None:
    start = datetime(2025, 2, 2, 12, 0, 30, tzinfo=UTC)
    wrong = [launched(start + timedelta(days=day), 10 + day) for day in range(12)]
    events = [registered(CREATED, task_xml(DAILY_0300), 501), *wrong, wrong[0]]
    found = list(off_trigger_times(events, LogContext(host_timezone="UTC", clock=CLOCK)))
    assert len(found) == MAX_FINDINGS_PER_JOB
    assert "and 2 more such launch(es) until 2025-02-13T12:00:30Z" in found[-1].message
    assert "more such" not in found[0].message


def test_nothing_without_the_trigger_arithmetic() -> None:
    events = [
        registered(CREATED, task_xml(DAILY_0300), 501),
        launched(datetime(2025, 2, 3, 11, 7, tzinfo=UTC), 8),
    ]
    assert list(off_trigger_times(events, LogContext())) == []
    bare = ScheduleClock(runs_between, start_delay)
    assert list(off_trigger_times(events, LogContext(host_timezone="UTC", clock=bare))) == []


def _image(make_root: MakeRoot, xml: str, timezone: str | None = None) -> Path:
    files: dict[str, str | bytes] = {
        "Windows/System32/Tasks/Backup": b"\xff\xfe" + xml.encode("utf-16-le")
    }
    if timezone:
        files["etc/timezone"] = timezone + "\n"
    return make_root(files, os_release=None, accounts=False, name="win")


def test_the_task_on_disk_from_an_image_and_an_inventory_file(
    make_root: MakeRoot, tmp_path: Path
) -> None:
    """No 4698 in the logs: the launches are judged by the task's XML on disk, collected from
    an image (UTF-16 with a BOM, as Task Scheduler writes it) or read back from `audit -f
    json`; StartWhenAvailable on disk keeps them from being judged."""
    root = _image(make_root, task_xml(DAILY_0300))
    jobs = list(engine.collect(ImageSource(str(root))).jobs)
    job = next(j for j in jobs if j.name == "\\Backup")
    events = tie(
        [
            launched(datetime(2025, 2, 3, 3, 0, 40, tzinfo=UTC), 7),
            launched(datetime(2025, 2, 3, 11, 17, 5, tzinfo=UTC), 8),
        ],
        jobs,
    )
    found = list(off_trigger_times(events, LogContext(jobs=jobs, host_timezone="UTC", clock=CLOCK)))
    assert [(f.job_id, "record 8" in f.message) for f in found] == [(job.job_id, True)]
    assert "the task on disk (C:\\Windows\\System32\\Tasks\\Backup)" in found[0].message

    document = json.loads(CliRunner().invoke(main, ["audit", str(root), "-f", "json"]).stdout)
    rebuilt = jobs_from_inventory(document)
    assert [j.raw for j in rebuilt if j.name == "\\Backup"] == [job.raw]
    again = list(
        off_trigger_times(events, LogContext(jobs=rebuilt, host_timezone="UTC", clock=CLOCK))
    )
    assert [f.message for f in again] == [f.message for f in found]

    waits = _image(make_root, task_xml(DAILY_0300, "<StartWhenAvailable>true</StartWhenAvailable>"))
    waiting = list(engine.collect(ImageSource(str(waits))).jobs)
    assert [
        j.extra.get("settings", {}).get("StartWhenAvailable")
        for j in waiting  # type: ignore[attr-defined]
        if j.name == "\\Backup"
    ] == ["true"]
    context = LogContext(jobs=waiting, host_timezone="UTC", clock=CLOCK)
    assert list(off_trigger_times(tie(events, waiting), context)) == []


def test_hunt_runs_the_analytic_with_the_image_zone(
    make_root: MakeRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `hunt`: the analytic is registered and handed the trigger arithmetic and the
    image's zone (here from /etc/timezone, read as the cron analytics read it)."""
    assert "task_off_trigger_times" in {a.name for a in LOG_ANALYZERS}
    root = _image(make_root, task_xml(DAILY_0300), timezone="Asia/Kolkata")
    source = ImageSource(str(root))
    assert source.timezone == "Asia/Kolkata"
    launches = [
        launched(datetime(2025, 2, 3, 21, 30, 40, tzinfo=UTC), 7),  # 03:00 at +05:30
        launched(datetime(2025, 2, 3, 22, 0, 40, tzinfo=UTC), 8),
    ]
    monkeypatch.setattr(hunting, "read_logs", lambda paths, budget: (list(launches), []))
    report = hunting.hunt(["TaskScheduler.evtx"], source=source)
    found = [f for f in report.findings if f.rule_id == "TASK_RUN_OFF_SCHEDULE"]
    assert len(found) == 1 and "record 8" in found[0].message
    assert "Asia/Kolkata" in found[0].message


def test_a_task_on_disk_longer_than_raw_keeps_is_judged_by_its_triggers(
    make_root: MakeRoot,
) -> None:
    """A task XML past the `raw` excerpt's cap (a long description) keeps its Triggers and
    Settings in `timing_xml`: its launches are judged, from the image and from `audit -f json`;
    a StartWhenAvailable in its Settings still keeps them from being judged."""
    long_xml = task_xml(DAILY_0300).replace(
        "<Author>", "<Description>" + "a long description " * 400 + "</Description><Author>"
    )
    root = _image(make_root, long_xml)
    jobs = list(engine.collect(ImageSource(str(root))).jobs)
    job = next(j for j in jobs if j.name == "\\Backup")
    assert len(job.raw) == RAW_EXCERPT_CAP + 1 and "<Triggers>" not in job.raw  # cut before them
    assert "DaysInterval" in str(job.extra["timing_xml"])
    assert "description" not in str(job.extra["timing_xml"])
    events = tie(
        [
            launched(datetime(2025, 2, 3, 3, 0, 40, tzinfo=UTC), 7),
            launched(datetime(2025, 2, 3, 11, 17, 5, tzinfo=UTC), 8),
        ],
        jobs,
    )
    context = LogContext(jobs=jobs, host_timezone="UTC", clock=CLOCK)
    found = list(off_trigger_times(events, context))
    assert [(f.job_id, "record 8" in f.message) for f in found] == [(job.job_id, True)]
    document = json.loads(CliRunner().invoke(main, ["audit", str(root), "-f", "json"]).stdout)
    rebuilt = jobs_from_inventory(document)
    context = LogContext(jobs=rebuilt, host_timezone="UTC", clock=CLOCK)
    assert [f.message for f in off_trigger_times(events, context)] == [f.message for f in found]
    waits = _image(
        make_root,
        task_xml(DAILY_0300, "<StartWhenAvailable>true</StartWhenAvailable>").replace(
            "<Author>", "<Description>" + "x" * 5000 + "</Description><Author>"
        ),
    )
    waiting = list(engine.collect(ImageSource(str(waits))).jobs)
    context = LogContext(jobs=waiting, host_timezone="UTC", clock=CLOCK)
    assert list(off_trigger_times(tie(events, waiting), context)) == []
