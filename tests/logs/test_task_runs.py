"""The runs of tasks registered in a Security log found in the same log (`task_runs`): a 4688 or
Sysmon 1 whose command line is a registered task's action, after its registration, on its host,
under the Task Scheduler or an unnamed parent, becomes a `task_process` event named after it."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schedwarden import hunting
from schedwarden.logs import task_runs
from schedwarden.logs.correlate import name_task_processes
from schedwarden.logs.evtx_select import WalkedTemplates
from schedwarden.logs.reader import read_logs
from schedwarden.logs.task_runs import (
    MAX_WORD,
    MAX_WORDS,
    ActionRuns,
    TaskAction,
    _word,
    actions_of,
)
from schedwarden.model import (
    Effective,
    Evidence,
    ExecAction,
    JobEvent,
    Mechanism,
    ScheduledJob,
    SourceKind,
    TriggerSchedule,
)

from ..conftest import corpus_path
from .test_hunt_cli import _run

ATEXEC = corpus_path(
    "windows", "evtx", "task", "hayabusa-sample-evtx", "EVTX-to-MITRE-Attack",
    "EVTX_full_APT_attack_steps", "ID4688,4698,4699,5145,4624-ATexec remote trask creation (GLOBAL).evtx",
)  # fmt: skip
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_atexec_s_command_run_by_the_schedule_service_is_the_task_running() -> None:
    # MANIFEST: \bouWFQYO registered over a network logon, run, deleted; 4688 shows its cmd.exe
    events = read_logs([str(ATEXEC)], processes=1)[0]
    (run,) = [e for e in events if e.action == "task_process"]
    assert run.job_name == "\\bouWFQYO"
    assert run.command == "cmd.exe /C whoami > C:\\Windows\\Temp\\bouWFQYO.tmp 2>&1"
    assert run.actor == "OFFSEC\\FS01$"  # the machine account: SYSTEM
    assert run.extra["record_id"] == 6 and run.extra["action_of"] == 5
    assert run.extra["parent_image"] == "C:\\Windows\\System32\\svchost.exe"
    assert run.extra["process_id"] == "976"
    # its own children (conhost, whoami: parent cmd.exe) are not the task's action
    assert [e.extra["record_id"] for e in events if e.extra.get("event_id") == 4688] == [6]


def test_the_short_lived_task_says_it_ran_and_as_whom() -> None:
    document = json.loads(_run("hunt", str(ATEXEC), "-f", "json")[1])
    (finding,) = [f for f in document["findings"] if f["rule_id"] == "TASK_SHORT_LIVED"]
    assert (
        "; it ran once, as OFFSEC\\FS01$: cmd.exe /C whoami > C:\\Windows\\Temp\\"
        in (finding["message"])
    )
    assert "(record 6)" in finding["message"]


def test_a_damaged_file_s_issues_are_given_once(tmp_path: Path) -> None:
    """The second pass reads the file again: what it cannot read was reported by the first."""
    damaged = tmp_path / "atexec.evtx"
    shutil.copyfile(ATEXEC, damaged)
    data = bytearray(damaged.read_bytes())
    record = 16232  # record 7, conhost's 4688, after the task's run: its size made 0
    assert data[record : record + 4] == b"**\x00\x00" and data[record + 8] == 7
    data[record + 4 : record + 8] = bytes(4)
    damaged.write_bytes(bytes(data))
    events, issues = read_logs([str(damaged)], processes=1)
    assert [i.code for i in issues] == ["LOG_CORRUPT"]  # once, though both passes read it
    assert [e.job_name for e in events if e.action == "task_process"] == ["\\bouWFQYO"]


def _registered(
    command: str, host: str = "H1", minutes: int = 0, name: str = "\\T", record: int = 1
) -> JobEvent:
    executable, _, arguments = (
        command.partition(" ")
        if not command.startswith('"')
        else (
            command[1 : command.index('"', 1)],
            "",
            command[command.index('"', 1) + 1 :].strip(),
        )
    )
    job = ScheduledJob(
        job_id=f"j{record}",
        mechanism=Mechanism.WINDOWS_TASK,
        technique="T1053.005",
        name=name,
        run_as="SYSTEM",
        schedule=TriggerSchedule("registration", "at registration"),
        actions=(ExecAction(command, executable, tuple(arguments.split())),),
        effective=Effective(True, "enabled"),
        evidence=Evidence(SourceKind.FILE, host, "x.evtx"),
    )
    return JobEvent(
        T0 + timedelta(minutes=minutes),
        host,
        "registered",
        name,
        Evidence(SourceKind.FILE, host, "x.evtx"),
        "u",
        command,
        {"channel": "Security", "event_id": 4698, "record_id": record, "definition": job},
    )


def _runs(*registered: JobEvent) -> ActionRuns:
    runs = ActionRuns()
    for event in registered:
        runs.note(event)
    return runs


def _run_of(
    runs: ActionRuns,
    line: str,
    parent: str | None = "C:\\Windows\\System32\\svchost.exe",
    host: str = "h1",
    seconds: float = 1,
    record: int = 100,
) -> TaskAction | None:
    data = {"CommandLine": line} | ({"ParentProcessName": parent} if parent is not None else {})
    return runs.run_of(record, host, T0 + timedelta(seconds=seconds), data)


@pytest.mark.parametrize(
    ("action", "process"),
    [
        ("cmd.exe /C whoami > %windir%\\Temp\\Ab.tmp 2>&1", "cmd.exe /C whoami > C:\\Windows\\Temp\\Ab.tmp 2>&1"),
        ("cmd.exe /c calc.exe", "CMD.EXE  /c   calc.exe "),  # case and runs of spaces
        ('"C:\\Program Files\\x\\y.exe" -a 1', '"C:\\Program Files\\x\\y.exe" -a 1'),
        ('"C:\\Program Files\\x\\y.exe" -a 1', "C:\\Program Files\\x\\y.exe -a 1"),
        ("%ProgramData%\\x\\updater.exe", "C:\\ProgramData\\x\\updater.exe"),
        ("C:\\tools\\shell.cmd", 'C:\\Windows\\system32\\cmd.exe /c "C:\\tools\\shell.cmd"'),
        ("C:\\tools\\shell.cmd", "C:\\tools\\shell.cmd"),
        ('"C:\\Program Files\\Npcap\\CheckStatus.bat"', 'C:\\Windows\\SYSTEM32\\cmd.exe /c ""C:\\Program Files\\Npcap\\CheckStatus.bat""'),
    ],
)  # fmt: skip
def test_a_process_with_the_action_s_command_line_is_its_run(action: str, process: str) -> None:
    registered = _registered(action, host="H1")
    found = _run_of(_runs(registered), process)
    assert found is not None and found.task == "\\T" and found.record_id == 1


@pytest.mark.parametrize(
    ("action", "process"),
    [
        ("cmd.exe /c calc.exe", "cmd.exe /c calc.exe x"),  # more than the action
        ("cmd.exe /c calc.exe", "cmd.exe /c notepad.exe"),
        ("cmd.exe /c %x% calc.exe", "cmd.exe /c  calc.exe"),  # a variable is never empty
        ("C:\\a\\prog.exe", "C:\\b\\prog.exe"),
        ("C:\\tools\\shell.exe", 'C:\\Windows\\system32\\cmd.exe /c "C:\\tools\\shell.exe"'),
    ],
)
def test_a_process_with_another_command_line_is_not(action: str, process: str) -> None:
    assert _run_of(_runs(_registered(action)), process) is None


def test_parent_host_time_and_records_read_already() -> None:
    runs = _runs(_registered("cmd.exe /c calc.exe", minutes=0))
    line = "cmd.exe /c calc.exe"
    assert _run_of(runs, line, parent=None) is not None  # 4688 before Windows 10 names none
    assert _run_of(runs, line, parent="C:\\Windows\\System32\\taskhostw.exe") is not None
    assert _run_of(runs, line, parent="C:\\Windows\\System32\\TASKENG.EXE") is not None
    assert _run_of(runs, line, parent="C:\\Windows\\explorer.exe") is None  # a user ran it
    assert _run_of(runs, line, host="h2") is None
    assert _run_of(runs, line, seconds=-1) is not None  # within the clocks' slack
    assert _run_of(runs, line, seconds=-3) is None  # before its task existed
    runs.note(
        JobEvent(T0, "h1", "cmd_create", "\\X", Evidence(SourceKind.FILE, "h1", "x"), None,
                 None, {"event_id": 4688, "record_id": 100})
    )  # fmt: skip
    assert _run_of(runs, line, record=100) is None  # read as a task tool run already


def test_the_latest_registration_before_the_run_names_it() -> None:
    runs = _runs(
        _registered("cmd.exe /c calc.exe", name="\\Old", record=1),
        _registered("cmd.exe /c calc.exe", name="\\New", minutes=10, record=2),
    )
    early, late = (
        _run_of(runs, "cmd.exe /c calc.exe", seconds=60),
        _run_of(runs, "cmd.exe /c calc.exe", seconds=700),
    )
    assert early is not None and early.task == "\\Old"
    assert late is not None and late.task == "\\New"


def test_the_word_records_are_chosen_by() -> None:
    assert _word("cmd.exe /c whoami > %windir%\\temp\\bouwfqyo.tmp 2>&1") == "\\temp\\bouwfqyo.tmp"
    assert _word('"c:\\program files\\x.exe"') == "files\\x.exe"  # quotes are no part of it
    assert _word("a.b %very_long_variable_name% c") is None  # no word of 4 characters
    assert _word("x" * 100) == "x" * MAX_WORD
    assert _word("kkk.exe abcd") == "abcd"  # each k is looked for as a Kelvin sign too
    assert _word("ab\u00e9cdef.exe abcd") == "abcd"  # the chooser's words are ASCII
    assert actions_of(_registered("cmd.exe /c calc.exe"))[0].word == "calc.exe"


def test_a_command_of_many_variables_is_matched_in_linear_time() -> None:
    """Each variable is any text: Python's `re` backtracks over them (3.7 s for this line),
    RE2 does not."""
    runs = _runs(_registered("prog.exe x" + "%v%x" * 10))
    started = time.perf_counter()
    assert _run_of(runs, "prog.exe " + "x" * 44 + "y") is None
    assert _run_of(runs, "prog.exe " + "x" * 44) is not None
    assert time.perf_counter() - started < 1


def _task_process(command_line: str, seconds: float, host: str = "H1", pid: str = "77") -> JobEvent:
    """A Sysmon 1 the Schedule service's svchost started (another file than the 4698's)."""
    return JobEvent(
        T0 + timedelta(seconds=seconds),
        host,
        "task_process",
        "",
        Evidence(SourceKind.FILE, host, "sysmon.evtx"),
        "NT AUTHORITY\\SYSTEM",
        command_line,
        {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 1,
            "record_id": 900,
            "command_line": command_line,
            "parent_image": "C:\\Windows\\System32\\svchost.exe",
            "process_id": pid,
        },
    )


def test_a_task_process_of_another_file_is_named_by_the_registered_action() -> None:
    registered = _registered("%PUBLIC%\\x.exe -a", name="\\Updater", record=41)
    ran = _task_process("C:\\Users\\Public\\x.exe -a", seconds=30)
    other = _task_process("C:\\Users\\Public\\y.exe -a", seconds=30)
    named = name_task_processes([registered, ran, other])
    assert named[1].job_name == "\\Updater" and named[1].extra["action_of"] == 41
    assert named[2] is other  # another command: not that task's
    assert (
        name_task_processes([_task_process("C:\\Users\\Public\\x.exe -a", -30), registered])[
            0
        ].job_name
        == ""
    )  # before the task was registered


def test_the_129_that_announced_the_process_names_it_first() -> None:
    registered = _registered("%PUBLIC%\\x.exe -a", name="\\Updater", record=41)
    announced = JobEvent(
        T0 + timedelta(seconds=29),
        "H1",
        "process_created",
        "\\Announced",
        Evidence(SourceKind.FILE, "H1", "ts.evtx"),
        None,
        None,
        {"record_id": 5, "process_id": "77"},
    )
    ran = _task_process("C:\\Users\\Public\\x.exe -a", seconds=30)
    named = name_task_processes([registered, announced, ran])
    assert named[2].job_name == "\\Announced" and named[2].extra["launched_by"] == 5


def test_a_hunt_names_them_without_any_129(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = _registered("%PUBLIC%\\x.exe -a", name="\\Updater", record=41)
    ran = _task_process("C:\\Users\\Public\\x.exe -a", seconds=30)
    monkeypatch.setattr(hunting, "read_logs", lambda paths, budget: ([registered, ran], []))
    report = hunting.hunt(["logs"], builtin_rules=False)
    assert [e.job_name for e in report.events if e.action == "task_process"] == ["\\Updater"]


def test_a_file_s_chooser_looks_for_the_first_words_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each word becomes Hyperscan patterns: a file registering thousands of tasks must not
    make a database that takes minutes to compile."""
    runs = _runs(*(_registered(f"tool{n:05d}.exe", record=n) for n in range(MAX_WORD * 30)))
    assert len(runs.actions) == MAX_WORD * 30 > MAX_WORDS
    given: list[frozenset[str]] = []
    monkeypatch.setattr(task_runs, "_chooser", lambda words, walked: given.append(words))
    runs.chooser(WalkedTemplates())
    assert given == [frozenset(f"tool{n:05d}.exe" for n in range(MAX_WORDS))]
