"""Processes the Task Scheduler started (a task's action running): Sysmon 1 and Security 4688
records whose parent is the Schedule service or a task host become `task_process` events, named
after the task when a TaskScheduler 129 announced that process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schedwarden.logs.correlate import name_task_processes
from schedwarden.logs.evtx_reader import launched_by_scheduler
from schedwarden.logs.reader import read_logs
from schedwarden.logs.timeline import UNNAMED_TASKS, timelines
from schedwarden.model import Evidence, JobEvent, SourceKind

from ..conftest import corpus_path
from .test_hunt_cli import _run

ESCALATION = ("windows", "evtx", "task", "EVTX-ATTACK-SAMPLES", "Privilege Escalation")


def _task_processes(name: str) -> list[JobEvent]:
    events = read_logs([str(corpus_path(*ESCALATION, name))], processes=1)[0]
    return [e for e in events if e.action == "task_process"]


def test_a_process_started_by_taskeng_is_a_task_s_action_running() -> None:
    # MANIFEST: schtasks /create /xml elevator.xml /tn elevator; /run; cmd.exe spawned as SYSTEM
    (event,) = _task_processes("sysmon_1_11_exec_as_system_via_schedtask.evtx")
    assert event.actor == "NT AUTHORITY\\SYSTEM"
    assert event.command is not None and event.command.strip().endswith("cmd.exe")
    assert event.extra["parent_image"] == "C:\\Windows\\System32\\taskeng.exe"
    assert event.extra["process_id"] == "1860" and event.job_name == ""


def test_a_process_started_by_the_schedule_service_is_one_too() -> None:
    # MANIFEST: UACME 34, SilentCleanup run with a hijacked %windir%: its action runs cleanmgr
    (event,) = _task_processes("Sysmon_UACME_34.evtx")
    assert event.command is not None and "cleanmgr.exe /autoclean" in event.command
    assert event.extra["parent_command_line"].endswith("svchost.exe -k netsvcs -p -s Schedule")


@pytest.mark.parametrize(
    ("parent", "parent_line", "expected"),
    [
        ("C:\\Windows\\System32\\taskeng.exe", "", True),
        ("C:\\WINDOWS\\system32\\TaskHostW.exe", "", True),
        ("C:\\Windows\\System32\\taskhost.exe", "", False),  # Windows 7: runs all the time
        ("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p -s Schedule", True),
        ("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p -s BITS", False),
        ("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -s Schedulex", False),
        ("C:\\Windows\\System32\\svchost.exe", "", False),  # 4688: no parent command line
        ("C:\\Windows\\explorer.exe", "-s Schedule", False),
    ],
)
def test_which_parents_are_the_task_scheduler(
    parent: str, parent_line: str, expected: bool
) -> None:
    assert launched_by_scheduler(parent, parent_line) is expected


def _event(action: str, name: str, pid: str, seconds: int, host: str = "PC1") -> JobEvent:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds)
    extra: dict[str, object] = {"process_id": pid, "record_id": seconds}
    return JobEvent(when, host, action, name, Evidence(SourceKind.FILE, host, "x.evtx"), None,
                    "cmd.exe", extra)  # fmt: skip


def test_a_task_process_is_named_after_the_129_that_announced_it() -> None:
    announced = _event("process_created", "\\Updater", "4242", 0)
    near = _event("task_process", "", "4242", 2)
    other_host = _event("task_process", "", "4242", 2, host="PC2")
    too_late = _event("task_process", "", "4242", 3600)
    other_pid = _event("task_process", "", "17", 1)
    named = name_task_processes([announced, near, other_host, too_late, other_pid])
    assert [e.job_name for e in named] == ["\\Updater", "\\Updater", "", "", ""]
    assert named[1].extra["launched_by"] == 0  # the 129's record


def test_sigma_rules_about_what_a_task_ran_see_those_processes() -> None:
    code, out, _ = _run(
        "hunt",
        str(corpus_path(*ESCALATION, "Sysmon_UACME_34.evtx")),
        "--sigma",
        str(corpus_path("sigma", "rules", "windows", "process_creation")),
        "-f",
        "json",
    )
    assert code == 0
    titles = {f["title"] for f in json.loads(out)["findings"]}
    assert "UAC Bypass Using Disk Cleanup" in titles


def test_processes_of_unnamed_tasks_have_a_timeline_of_their_own() -> None:
    events = read_logs([str(corpus_path(*ESCALATION, "Sysmon_UACME_34.evtx"))], processes=1)[0]
    labels = {t.job_name: [e.action for e in t.events] for t in timelines(events)}
    assert labels[UNNAMED_TASKS] == ["task_process"]
    assert labels["\\Microsoft\\Windows\\DiskCleanup\\SilentCleanup"] == ["cmd_run"]
