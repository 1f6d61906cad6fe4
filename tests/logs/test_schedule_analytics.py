"""Runs in the logs against the schedules that should explain them: cron runs and timer starts
tied to an image or an inventory file, Windows launches and their triggers, and the cadence
heuristic without an inventory. Small real-format logs; the times are chosen so that each
assertion fails if the slack, the time zone, DST or the tie to the jobs is handled wrongly."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from schedwarden import engine
from schedwarden.analyzers.log_base import LogContext, ScheduleClock
from schedwarden.analyzers.log_schedule import (
    MIN_HISTORY,
    off_cadence,
    on_demand,
    trigger_not_defined,
)
from schedwarden.cli.main import main
from schedwarden.logs.report import HuntReport
from schedwarden.model import (
    Effective,
    Evidence,
    JobEvent,
    Mechanism,
    ScheduledJob,
    SourceKind,
    TriggerSchedule,
)
from schedwarden.schedule_fit import runs_between, start_delay
from schedwarden.sources import ImageSource
from tests.conftest import RHEL_OS_RELEASE, MakeRoot, corpus_path

LOG_MTIME = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # year inference of the syslog lines
STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"
STARTED = "39f53479d3a045ac8e11786248231fbf"
OPERATIONAL = "Microsoft-Windows-TaskScheduler/Operational"
CLOCK = ScheduleClock(runs_between, start_delay)


def _syslog(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "syslog"
    log.write_text("".join(line + "\n" for line in lines))
    stamp = LOG_MTIME.timestamp()
    os.utime(log, (stamp, stamp))
    return folder


def _cmd(when: str, command: str, user: str = "root") -> str:
    return f"{when} box CRON[7]: ({user}) CMD ({command})"


def _off(report: HuntReport) -> list[tuple[int | None, str]]:
    return [
        (f.evidence.line, f.severity.value)
        for f in report.findings
        if f.rule_id == "JOB_RUN_OFF_SCHEDULE"
    ]


def test_cron_run_no_schedule_explains(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(
        {
            "etc/crontab": "SHELL=/bin/sh\n0 * * * * root /usr/local/bin/backup.sh\n",
            "etc/timezone": "Europe/Berlin\n",
        }
    )
    logs = _syslog(
        tmp_path / "logs",
        [
            _cmd("Nov 27 10:00:01", "/usr/local/bin/backup.sh"),
            _cmd("Nov 27 11:00:01", "/usr/local/bin/backup.sh"),
            _cmd("Nov 27 11:17:01", "/usr/local/bin/backup.sh"),  # nothing at 11:17
            _cmd("Nov 27 12:01:40", "/usr/local/bin/backup.sh"),  # late, within the slack
            _cmd("Nov 27 13:03:00", "/usr/local/bin/backup.sh"),  # three minutes late
            _cmd("Nov 27 13:17:01", "/usr/local/bin/other.sh"),  # not tied to a job
        ],
    )
    report = engine.hunt([str(logs)], source=ImageSource(str(root)))
    assert _off(report) == [(3, "medium"), (5, "medium")]
    finding = next(f for f in report.findings if f.rule_id == "JOB_RUN_OFF_SCHEDULE")
    job = next(j for j in engine.collect(ImageSource(str(root))).jobs)
    assert finding.job_id == job.job_id and finding.techniques == ("T1053.003",)
    assert "'0 * * * *' in /etc/crontab:2" in finding.message
    assert "2026-11-27 11:17:01 (the log's local time)" in finding.message
    assert finding.evidence.path.endswith("syslog")


def test_the_host_time_zone_and_daylight_saving(make_root: MakeRoot, tmp_path: Path) -> None:
    """`30 2 * * *` in Berlin: on 2026-03-29 02:30 does not exist and cron runs the job at
    03:00, which only the host's zone explains; a job with CRON_TZ runs in its own zone
    (cronie's: Debian cron ignores CRON_TZ)."""
    files = {
        "etc/crontab": "30 2 * * * root /usr/bin/nightly\n",
        "etc/cron.d/tokyo": "CRON_TZ=Asia/Tokyo\n0 9 * * * root /usr/bin/report\n",
    }
    lines = [
        _cmd("Mar 28 02:30:01", "/usr/bin/nightly"),
        _cmd("Mar 29 03:00:01", "/usr/bin/nightly"),  # the DST change
        _cmd("Mar 30 02:30:01", "/usr/bin/nightly"),
        _cmd("Mar 30 02:00:01", "/usr/bin/report"),  # 09:00 in Tokyo is 02:00 in Berlin
        _cmd("Mar 31 09:00:01", "/usr/bin/report"),  # 09:00 Berlin is 16:00 Tokyo
    ]
    logs = _syslog(tmp_path / "logs", lines)
    rhel = RHEL_OS_RELEASE
    berlin = make_root({**files, "etc/timezone": "Europe/Berlin\n"}, os_release=rhel, name="b")
    report = engine.hunt([str(logs)], source=ImageSource(str(berlin)))
    assert _off(report) == [(5, "medium")]
    debian = make_root({**files, "etc/timezone": "Europe/Berlin\n"}, name="debian")
    assert _off(engine.hunt([str(logs)], source=ImageSource(str(debian)))) == [(4, "medium")]
    # no zone: the log's wall clock is compared with the schedule's
    unknown = make_root(files, os_release=rhel, name="unknown")
    report = engine.hunt([str(logs)], source=ImageSource(str(unknown)))
    # the DST run looks half an hour late; the CRON_TZ job cannot be placed: not judged
    assert _off(report) == [(2, "medium")]
    assert "time zone is unknown" in report.findings[0].message


def test_inventory_file_gives_the_same_verdicts(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(
        {"etc/crontab": "30 2 * * * root /usr/bin/nightly\n", "etc/timezone": "Europe/Berlin\n"}
    )
    logs = _syslog(
        tmp_path / "logs",
        [
            _cmd("Mar 29 03:00:01", "/usr/bin/nightly"),
            _cmd("Mar 30 04:10:00", "/usr/bin/nightly"),
        ],
    )
    runner = CliRunner()
    audit = runner.invoke(main, ["audit", str(root), "-f", "json"])
    inventory = tmp_path / "audit.json"
    inventory.write_text(audit.stdout)
    result = runner.invoke(main, ["hunt", str(logs), "--inventory", str(inventory), "-f", "json"])
    document = json.loads(result.stdout)
    off = [f for f in document["findings"] if f["rule_id"] == "JOB_RUN_OFF_SCHEDULE"]
    assert [f["evidence"]["line"] for f in off] == [2]
    assert off[0]["job_id"] == json.loads(audit.stdout)["jobs"][0]["job_id"]
    assert result.exit_code == 0


def test_cronie_random_fields_and_random_delay(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(
        {
            "etc/cron.d/random": "0~30 3 * * * root /usr/bin/a\n",
            "etc/cron.d/delayed": "RANDOM_DELAY=20\n0 4 * * * root /usr/bin/b\n",
            "etc/timezone": "UTC\n",
        },
        os_release=RHEL_OS_RELEASE,
    )
    logs = _syslog(
        tmp_path / "logs",
        [
            _cmd("Nov 27 03:17:01", "/usr/bin/a"),  # drawn from 0..30
            _cmd("Nov 27 03:44:01", "/usr/bin/a"),  # outside 0..30
            _cmd("Nov 27 04:15:01", "/usr/bin/b"),  # within RANDOM_DELAY
            _cmd("Nov 27 04:45:01", "/usr/bin/b"),  # beyond it
        ],
    )
    report = engine.hunt([str(logs)], source=ImageSource(str(root)))
    assert _off(report) == [(2, "medium"), (4, "medium")]


def test_the_same_command_in_two_tables(make_root: MakeRoot, tmp_path: Path) -> None:
    """Either entry explains a run: the events are tied to one job, judged by both."""
    root = make_root(
        {
            "etc/crontab": "0 3 * * * root /usr/bin/sync-all\n",
            "etc/cron.d/more": "0 15 * * * root /usr/bin/sync-all\n",
            "etc/timezone": "UTC\n",
        }
    )
    logs = _syslog(
        tmp_path / "logs",
        [
            _cmd("Nov 27 03:00:01", "/usr/bin/sync-all"),
            _cmd("Nov 27 15:00:01", "/usr/bin/sync-all"),
        ],
    )
    assert _off(engine.hunt([str(logs)], source=ImageSource(str(root)))) == []


def _journal(folder: Path, entries: list[tuple[datetime, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, (when, message_id, unit) in enumerate(entries):
        entry = {
            "__REALTIME_TIMESTAMP": str(int(when.timestamp() * 1_000_000)),
            "__CURSOR": f"s=1;i={index}",
            "_HOSTNAME": "box",
            "MESSAGE_ID": message_id,
            "UNIT": unit,
            "MESSAGE": f"{unit} {message_id[:4]}",
        }
        lines.append(json.dumps(entry) + "\n")
    (folder / "journal.json").write_text("".join(lines))
    return folder


TIMER = "[Unit]\nDescription=x\n[Timer]\nOnCalendar=*-*-* 04:00:00\n{extra}\n[Install]\nWantedBy=timers.target\n"
SERVICE = "[Service]\nType=simple\nExecStart=/usr/bin/x\n"


def _timer_root(make_root: MakeRoot, extra: str, timezone: str | None, name: str) -> Path:
    files = {
        "etc/systemd/system/x.timer": TIMER.format(extra=extra),
        "etc/systemd/system/x.service": SERVICE,
        "etc/systemd/system/timers.target.wants/x.timer": TIMER.format(extra=extra),
    }
    if timezone:
        files["etc/timezone"] = timezone + "\n"
    return make_root(files, name=name)


def test_timer_start_off_its_calendar(make_root: MakeRoot, tmp_path: Path) -> None:
    day = datetime(2026, 11, 27, tzinfo=UTC)
    logs = _journal(
        tmp_path / "logs",
        [
            (day + timedelta(hours=1), STARTED, "x.timer"),
            (day + timedelta(hours=4, minutes=9), STARTING, "x.service"),  # randomized delay
            (day + timedelta(hours=13, minutes=2), STARTING, "x.service"),  # by hand
            (day + timedelta(hours=13, minutes=2, seconds=1), STARTED, "x.service"),
        ],
    )
    root = _timer_root(make_root, "RandomizedDelaySec=10min", "UTC", "utc")
    report = engine.hunt([str(logs)], source=ImageSource(str(root)))
    assert _off(report) == [(3, "low")]
    finding = next(f for f in report.findings if f.rule_id == "JOB_RUN_OFF_SCHEDULE")
    assert finding.techniques == ("T1053.006",) and "x.timer" in finding.message
    strict = _timer_root(make_root, "", "UTC", "strict")  # no random delay: 04:09 is off too
    assert _off(engine.hunt([str(logs)], source=ImageSource(str(strict)))) == [
        (2, "low"),
        (3, "low"),
    ]


def test_persistent_timer_catch_up_and_unknown_zone(make_root: MakeRoot, tmp_path: Path) -> None:
    day = datetime(2026, 11, 27, tzinfo=UTC)
    boot = [
        (day + timedelta(hours=9, minutes=12), STARTED, "x.timer"),  # boot
        (day + timedelta(hours=9, minutes=13), STARTING, "x.service"),  # the missed 04:00
        (day + timedelta(hours=15, minutes=30), STARTING, "x.service"),
    ]
    logs = _journal(tmp_path / "boot", boot)
    persistent = _timer_root(make_root, "Persistent=true", "UTC", "persistent")
    assert _off(engine.hunt([str(logs)], source=ImageSource(str(persistent)))) == [(3, "low")]
    plain = _timer_root(make_root, "", "UTC", "plain")
    assert _off(engine.hunt([str(logs)], source=ImageSource(str(plain)))) == [
        (2, "low"),
        (3, "low"),
    ]
    # zone unknown: a journal time is tried in every UTC offset (quarter hours): 06:00 UTC is
    # 04:00 somewhere, 06:24 is no quarter hour's 04:00-04:02
    shifted = _journal(
        tmp_path / "shifted",
        [
            (day, STARTED, "x.timer"),
            (day + timedelta(hours=6, seconds=20), STARTING, "x.service"),
            (day + timedelta(hours=6, minutes=24), STARTING, "x.service"),
        ],
    )
    nozone = _timer_root(make_root, "", None, "nozone")
    report = engine.hunt([str(shifted)], source=ImageSource(str(nozone)))
    assert _off(report) == [(3, "low")]
    assert "every UTC offset" in report.findings[0].message


def _task_event(minutes: float, event_id: int, name: str = "\\T", **extra: object) -> JobEvent:
    return JobEvent(
        datetime(2026, 11, 27, 10, 0, tzinfo=UTC) + timedelta(minutes=minutes),
        "h",
        "launched",
        name,
        Evidence(SourceKind.FILE, "h", "TaskScheduler.evtx"),
        "CONTOSO\\bob",
        None,
        {"channel": OPERATIONAL, "event_id": event_id, "record_id": 40 + int(minutes), **extra},
    )


def test_on_demand_launches_in_the_corpus() -> None:
    report = engine.hunt([str(corpus_path("windows", "evtx", "task", "velociraptor"))])
    found = [f for f in report.findings if f.rule_id == "TASK_RUN_ON_DEMAND"]
    assert [(f.severity.value, f.techniques) for f in found] == [("low", ("T1053.005",))] * 2
    assert "\\T1053_005_OnLogon was launched on demand by yolo" in found[0].message
    assert "record 8" in found[0].message and "record 14" in found[1].message
    assert not list(on_demand([_task_event(0, 107)], LogContext()))


def test_launch_by_a_trigger_the_definition_lacks() -> None:
    """The 4698 of the corpus gives \\T1053_005_OnLogon a logon trigger: a boot launch after it
    contradicts it, a logon launch does not, a launch before any definition is not judged."""
    report = engine.hunt([str(corpus_path("windows", "evtx", "task", "velociraptor"))])
    events = list(report.events)
    name = "\\T1053_005_OnLogon"
    registered = next(e for e in events if e.job_name == name and "definition" in e.extra)
    later = (registered.time - datetime(2026, 11, 27, 10, 0, tzinfo=UTC)).total_seconds() / 60
    boot = _task_event(later + 5, 118, name)
    logon = _task_event(later + 6, 119, name)
    early = _task_event(later - 60, 118, name)
    found = list(trigger_not_defined([*events, early, boot, logon], LogContext()))
    assert [f.rule_id for f in found] == ["TASK_TRIGGER_NOT_DEFINED"]
    assert "launched by a boot trigger" in found[0].message
    assert "At logon of any user" in found[0].message


def test_launch_checked_against_the_task_on_disk() -> None:
    job = ScheduledJob(
        "j1",
        Mechanism.WINDOWS_TASK,
        "T1053.005",
        "\\Backup",
        "SYSTEM",
        TriggerSchedule("daily", "Daily at 02:00", "StartBoundary 2026-01-01T02:00:00"),
        (),
        Effective(True, "ok"),
        Evidence(SourceKind.IMAGE, "h", "C:\\Windows\\System32\\Tasks\\Backup"),
    )
    events = [
        _task_event(0, 107, "\\Backup", job_id="j1"),  # time trigger: daily is one
        _task_event(1, 119, "\\Backup", job_id="j1"),  # logon: not a trigger of the task
        _task_event(2, 119, "\\Other"),  # no definition anywhere: not judged
    ]
    found = list(trigger_not_defined(events, LogContext(jobs=[job])))
    assert [(f.rule_id, f.job_id, f.evidence.path) for f in found] == [
        ("TASK_TRIGGER_NOT_DEFINED", "j1", "TaskScheduler.evtx")
    ]
    assert "the task on disk" in found[0].message


def _daily(days: int, extra: dict[int, str] | None = None) -> list[str]:
    lines = []
    for day in range(days):
        clock = (extra or {}).get(day, "03:00:01")
        lines.append(_cmd(f"Nov {day + 1:2d} {clock}", "/opt/sync.sh", "svc"))
    return lines


def test_cadence_break_without_an_inventory(tmp_path: Path) -> None:
    logs = _syslog(tmp_path / "one", _daily(12, {9: "14:32:07"}))
    report = engine.hunt([str(logs)])
    found = [f for f in report.findings if f.rule_id == "JOB_RUN_OFF_CADENCE"]
    assert [(f.evidence.line, f.severity.value, f.job_id) for f in found] == [(10, "low", None)]
    assert "daily at 03:00" in found[0].message and "9 before it" in found[0].message


def test_cadence_needs_history_and_a_return(tmp_path: Path) -> None:
    too_soon = _syslog(tmp_path / "soon", _daily(12, {MIN_HISTORY - 1: "14:32:07"}))
    last = _syslog(tmp_path / "last", _daily(12, {11: "14:32:07"}))  # no run after it
    moved = _syslog(tmp_path / "moved", _daily(12, dict.fromkeys(range(9, 12), "04:00:01")))
    for folder in (too_soon, last, moved):
        report = engine.hunt([str(folder)])
        assert not [f for f in report.findings if f.rule_id == "JOB_RUN_OFF_CADENCE"], folder
    late = _syslog(tmp_path / "late", _daily(12, {9: "03:01:59"}))  # within a minute
    assert not [f for f in engine.hunt([str(late)]).findings if f.rule_id.startswith("JOB_RUN")]


def test_cadence_hourly_job_and_tied_runs(make_root: MakeRoot, tmp_path: Path) -> None:
    hourly = [_cmd(f"Nov 27 {h:02d}:17:01", "run-parts /etc/cron.hourly") for h in range(12)]
    hourly.insert(10, _cmd("Nov 27 09:41:01", "run-parts /etc/cron.hourly"))
    logs = _syslog(tmp_path / "logs", hourly)
    events = engine.hunt([str(logs)]).events
    found = list(off_cadence(events, LogContext()))
    assert [f.evidence.line for f in found] == [11]
    assert "every 1 h at minute 17" in found[0].message
    # tied to the table on disk, the schedule judges the run, not the cadence
    root = make_root({"etc/crontab": "17 * * * * root run-parts /etc/cron.hourly\n"})
    report = engine.hunt([str(logs)], source=ImageSource(str(root)))
    assert [f.rule_id for f in report.findings] == ["JOB_RUN_OFF_SCHEDULE"]


def test_real_cron_logs_give_no_schedule_finding() -> None:
    report = engine.hunt([str(corpus_path("linux", "syslog"))])
    assert any(e.action == "ran" for e in report.events)
    assert not report.findings


def test_hostile_inventory_is_not_judged_and_does_not_stop_the_hunt(tmp_path: Path) -> None:
    """Schedules and zones of an inventory file are input: nonsense leaves the job unjudged."""
    job = {
        "job_id": "x1",
        "mechanism": "cron",
        "name": "/etc/crontab:1",
        "run_as": "root",
        "actions": [{"kind": "exec", "command_line": "/usr/bin/x"}],
        "environment": {"RANDOM_DELAY": "9" * 40, "PATH": 5},
        "extra": {"unit": ["not", "text"]},
    }
    schedules = [
        {"kind": "cron", "expression": "61 * * * *", "minute": "61", "hour": "*",
         "day_of_month": "*", "month": "*", "day_of_week": "*"},
        {"kind": "calendar", "normalized": ["*-02-30 00:00:00"], "randomized_delay": "x"},
        {"kind": "composite", "parts": [{"kind": "trigger", "trigger": "boot"}]},
        "0 * * * *",
    ]  # fmt: skip
    document = {
        "schema": "schedwarden.audit/1",
        "source": {"timezone": "../../../etc/passwd"},
        "jobs": [{**job, "job_id": f"x{i}", "schedule": s} for i, s in enumerate(schedules)],
    }
    inventory = tmp_path / "audit.json"
    inventory.write_text(json.dumps(document))
    logs = _syslog(tmp_path / "logs", [_cmd("Nov 27 10:17:01", "/usr/bin/x")])
    result = CliRunner().invoke(
        main, ["hunt", str(logs), "--inventory", str(inventory), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["issues"] == [] and output["findings"] == []
    assert output["events"][0]["extra"]["job_id"] == "x0"
