"""Windows scheduled tasks: the image fixture (Tarrask, GhostTask, Actions hijack, Index 0, an edited
and a planted XML), the corpus task XML, .job, GPP and TaskCache blobs, loose files given as PATH,
and the hostile inputs W01-W10 of reference/reliability.md §3.4."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden import engine
from schedwarden.cli.main import main
from schedwarden.collectors.windows import blobs
from schedwarden.collectors.windows.definition import (
    describe_trigger,
    schedule_of,
    split_arguments,
)
from schedwarden.collectors.windows.hive import HiveError, open_hive, walk
from schedwarden.collectors.windows.job_file import JobError, parse_job
from schedwarden.collectors.windows.safexml import XmlProblem, parse_xml
from schedwarden.collectors.windows.task_xml import parse_task_xml
from schedwarden.model import (
    AuditReport,
    ComHandlerAction,
    ExecAction,
    Mechanism,
    OtherAction,
    ScheduledJob,
)
from schedwarden.outputs.serialize import plain
from schedwarden.sources import ImageSource, LooseFilesSource
from tests.conftest import FIXED_NOW, corpus_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "windows"
IMAGE = FIXTURES / "image"
TASKCACHE = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache"
BLOBS = ("windows", "registry", "winreg-tasks-blobs")


def _tasks(report: AuditReport) -> dict[str, ScheduledJob]:
    return {j.name: j for j in report.jobs if j.mechanism is Mechanism.WINDOWS_TASK}


def _collect_image(root: Path) -> AuditReport:
    return engine.collect(ImageSource(str(root)), now=FIXED_NOW)


def _collect_loose(path: Path) -> AuditReport:
    return engine.collect(LooseFilesSource(str(path)), now=FIXED_NOW)


def _copy_image(tmp_path: Path) -> Path:
    root = tmp_path / "image"
    shutil.copytree(IMAGE, root)
    return root


def _task_file(root: Path, name: str, data: bytes) -> Path:
    path = root / "Windows" / "System32" / "Tasks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def task_xml(
    command: str = "C:\\Windows\\System32\\cmd.exe",
    arguments: str = "/c whoami",
    triggers: str = "<BootTrigger/>",
    uri: str = "\\T",
) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">'
        f"<RegistrationInfo><URI>{uri}</URI></RegistrationInfo>"
        f"<Triggers>{triggers}</Triggers>"
        '<Principals><Principal id="Author"><UserId>S-1-5-18</UserId></Principal></Principals>'
        "<Settings><Enabled>true</Enabled></Settings>"
        f'<Actions Context="Author"><Exec><Command>{command}</Command>'
        f"<Arguments>{arguments}</Arguments></Exec></Actions></Task>"
    )


def utf16(text: str) -> bytes:
    return b"\xff\xfe" + text.encode("utf-16-le")


# ---------------------------------------------------------------------------------------------
# The image fixture: every store, reconciled


def test_fixture_image_tarrask_full_record() -> None:
    """§f 1: a Tarrask task in a subfolder, XML deleted: reported from the hive alone."""
    report = _collect_image(IMAGE)
    tasks = _tasks(report)
    assert len(tasks) == 7
    assert report.issues == ()
    record = plain(tasks["\\Microsoft\\Windows\\UpdateOrchestrator\\Sched Scan"])
    tree_key = f"{TASKCACHE}\\Tree\\Microsoft\\Windows\\UpdateOrchestrator\\Sched Scan"
    tasks_key = f"{TASKCACHE}\\Tasks\\{{11111111-0000-4000-8000-000000000002}}"
    assert record == {
        "job_id": record["job_id"],
        "mechanism": "windows_task",
        "technique": "T1053.005",
        "name": "\\Microsoft\\Windows\\UpdateOrchestrator\\Sched Scan",
        "run_as": "SYSTEM",
        "schedule": {
            "kind": "trigger",
            "trigger": "boot",
            "description": "At system startup",
            "detail": None,
            "delay": None,
        },
        "actions": [
            {
                "kind": "exec",
                "command_line": "C:\\ProgramData\\x\\y.exe",
                "executable": "C:\\ProgramData\\x\\y.exe",
                "arguments": [],
                "working_dir": None,
                "stdin": None,
                "shell": None,
                "phase": None,
                "prefixes": None,
                "argv0": None,
            }
        ],
        "effective": {
            "runs": True,
            "reason": "registered in the TaskCache and enabled, 1 enabled trigger; its Tree key "
            "has no SD value: hidden from schtasks, the Task Scheduler API and the MMC (Tarrask), "
            "but the service still runs it; registered in the TaskCache without an XML file "
            "(GhostTask-style, or the XML was deleted)",
            "daemon": "Task Scheduler",
        },
        "evidence": {
            "source_kind": "image",
            "host": "image",
            "path": tree_key,
            "related": [tasks_key, "C:\\WINDOWS\\system32\\config\\SOFTWARE"],
            "line": None,
            "offset": None,
            "sha256": None,
            "owner": None,
            "group": None,
            "uid": None,
            "gid": None,
            "mode": None,
            "mtime": "2025-03-01T08:30:00Z",
        },
        "environment": {},
        "enabled": True,
        "hidden": True,
        "raw": "",
        "next_runs": [],
        "extra": {
            "stores": ["task_cache_tree", "task_cache_tasks"],
            "registration": {
                "uri": "\\Microsoft\\Windows\\UpdateOrchestrator\\Sched Scan",
                "author": "Microsoft Corporation",
            },
            "principal": {
                "id": "LocalSystem",
                "user_id": "S-1-5-18",
                "run_level": "HighestAvailable",
            },
            "tree": {
                "key": tree_key,
                "id": "{11111111-0000-4000-8000-000000000002}",
                "index": 3,
                "sd_present": False,
                "last_write": "2025-03-01T08:30:00Z",
            },
            "sd_missing": True,
            "index": 3,
            "task_cache_key": tasks_key,
            "buckets": ["Boot"],
            "dynamic_info": {
                "created": "2025-03-01T08:30:00Z",
                "last_run": "2025-03-02T07:00:00Z",
                "last_result": "0x00000000",
                "last_successful_run": "2025-03-02T07:00:00Z",
            },
            "job_bucket_flags": [
                "allow_start_on_demand",
                "enabled",
                "run_level_highest_available",
                "task",
            ],
            "registry_only": True,
        },
    }


def test_fixture_image_every_disagreement_is_exposed() -> None:
    tasks = _tasks(_collect_image(IMAGE))
    normal = tasks["\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"]
    assert (
        normal.evidence.path
        == "C:\\WINDOWS\\system32\\Tasks\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"
    )
    assert (
        normal.evidence.related[0]
        == f"{TASKCACHE}\\Tree\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"
    )
    assert normal.schedule.description == "Daily at 09:00, repeating every 1 hour for 1 day"
    assert normal.extra["stores"] == ["xml", "task_cache_tree", "task_cache_tasks"]
    for flag in (
        "actions_differ",
        "hash_mismatch",
        "crc32_mismatch",
        "sd_missing",
        "index_zero",
        "registry_only",
        "xml_only",
        "uri_mismatch",
    ):
        assert flag not in normal.extra, flag
    assert normal.effective.runs is True
    assert normal.raw.startswith('<?xml version="1.0" encoding="UTF-16"?>')

    ghost = tasks["\\GhostTask"]  # §f 2
    assert ghost.extra["registry_only"] is True
    assert ghost.extra["buckets"] == ["Logon"]
    assert ghost.schedule.description == "At logon of any user, after a delay of 30 seconds"
    assert ghost.actions == (
        ExecAction(
            "C:\\Windows\\Temp\\ghost.exe -s",
            "C:\\Windows\\Temp\\ghost.exe",
            ("-s",),
            "C:\\Windows\\Temp",
        ),
    )
    assert ghost.extra["dynamic_info"]["last_result"] == "0x80070002"  # type: ignore[index]

    hijack = tasks["\\Microsoft\\Windows\\Maps\\MapsToastTask"]  # §f 3
    assert hijack.extra["actions_differ"] == {
        "xml": ["com_handler {9885AEF2-BD9F-41E0-B15E-B3141395E803} $(Arg0)"],
        "registry": ["exec rundll32 C:\\Users\\Public\\a.dll,Start"],
    }
    assert isinstance(hijack.actions[0], ExecAction)  # what the service runs

    zero = tasks["\\Microsoft\\Windows\\Index Zero"]
    assert zero.extra["index_zero"] is True and zero.hidden is True
    assert "Index 0" in zero.effective.reason

    edited = tasks["\\Microsoft\\Windows\\Edited"]
    assert set(edited.extra) >= {"hash_mismatch", "crc32_mismatch"}
    assert "actions_differ" not in edited.extra

    planted = tasks["\\Planted"]
    assert planted.extra["xml_only"] is True
    assert planted.effective.runs is False
    assert "without a TaskCache registration" in planted.effective.reason


def test_case_insensitive_paths_and_missing_hive(tmp_path: Path) -> None:
    """The fixture's folders are WINDOWS/system32; without the hive, registration is unverified."""
    root = _copy_image(tmp_path)
    os.remove(root / "WINDOWS" / "system32" / "config" / "SOFTWARE")
    report = _collect_image(root)
    tasks = _tasks(report)
    assert len(tasks) == 5
    assert report.issues == ()
    assert "registration not verified" in tasks["\\Planted"].effective.reason
    assert tasks["\\Planted"].effective.runs is True


# ---------------------------------------------------------------------------------------------
# Corpus: task XML, Atomic Red Team, .job, GPP, TaskCache blobs


def test_all_default_task_xml_parse_without_issues() -> None:
    folder = corpus_path("windows", "default-tasks")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    xml = [p for p in files if p.suffix == ".xml"]
    assert (len(files), len(xml)) == (223, 222)  # the 223rd file is the repo's update.ps1
    for path in xml:
        definition, problems, encoding = parse_task_xml(path.read_bytes())
        assert problems == [], path
        assert encoding == "utf-16-le", path
        assert definition.actions, path
    report = _collect_loose(folder)
    tasks = [j for j in report.jobs if j.mechanism is Mechanism.WINDOWS_TASK]
    assert len(tasks) == 222
    assert report.issues == ()
    assert all(j.effective.runs is None for j in tasks)  # exports: registration unknown


def test_default_tasks_as_an_image(tmp_path: Path) -> None:
    folder = corpus_path("windows", "default-tasks", "Bluscream-Windows-Tasks")
    tasks_dir = tmp_path / "Windows" / "System32" / "Tasks"
    shutil.copytree(folder, tasks_dir)
    os.remove(tasks_dir / "update.ps1")
    report = _collect_image(tmp_path)
    assert len(_tasks(report)) == 222
    assert report.issues == ()


def test_atomic_red_team_hidden_task_xml() -> None:
    """§f 6a: UTF-8 with a BOM that declares UTF-16, a stray quote in <Command>."""
    path = corpus_path("atomic", "T1053.005", "src", "T1053_05_SCTASK_HIDDEN_ATTRIB.xml")
    report = _collect_loose(path)
    [job] = _tasks(report).values()
    assert report.issues == ()
    assert job.name == "\\atomic red team"
    assert job.hidden is True
    assert job.actions == (
        ExecAction('C:\\Windows\\system32\\calc.exe"', 'C:\\Windows\\system32\\calc.exe"'),
    )
    assert job.schedule.description == "At logon of any user"
    assert job.extra["xml_encoding"] == "utf-8"
    assert job.extra["principal"] == {
        "id": "Author",
        "logon_type": "InteractiveToken",
        "run_level": "LeastPrivilege",
    }


def test_atomic_red_team_wmi_task_xml() -> None:
    path = corpus_path("atomic", "T1053.005", "src", "T1053_005_WMI.xml")
    report = _collect_loose(path)
    [job] = _tasks(report).values()
    assert report.issues == ()
    assert job.name == "\\T1053_005_WMI"
    assert [a.command_line for a in job.actions if isinstance(a, ExecAction)] == ["notepad.exe"]
    assert job.schedule.kind == "trigger" and job.schedule.description.startswith("At logon of")


def test_maps_toast_task_com_handler_without_triggers() -> None:
    path = corpus_path("windows", "task-xml-samples", "dissect.target-MapsToastTask")
    report = _collect_loose(path)
    [job] = _tasks(report).values()
    assert report.issues == ()
    assert job.name == "\\Microsoft\\Windows\\Maps\\MapsToastTask"
    [action] = job.actions
    assert isinstance(action, ComHandlerAction)
    assert action.class_id == "{9885AEF2-BD9F-41E0-B15E-B3141395E803}"
    assert action.data is not None and "$(Arg0)" in action.data
    assert job.run_as == "INTERACTIVE (group)"
    assert job.hidden is True
    assert job.schedule.kind == "unknown"


def test_job_files_from_the_corpus() -> None:
    plaso = parse_job(corpus_path("windows", "job", "plaso-wintask.job").read_bytes())
    [action] = plaso.definition.actions
    assert action == ExecAction(
        "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe /ua /installsource scheduler",
        "C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe",
        ("/ua", "/installsource", "scheduler"),
    )
    assert plaso.definition.registration["author"] == "Brian"
    assert plaso.status == "ready"
    assert describe_trigger(plaso.definition.triggers[0]).startswith("Daily at 15:42")

    at_task = parse_job(corpus_path("windows", "job", "dissect.target-AtTask.job").read_bytes())
    assert [t.kind for t in at_task.definition.triggers] == [
        "daily",
        "monthly_dow",
        "weekly",
        "monthly",
    ]
    assert at_task.definition.actions[0].working_dir == "C:\\Documents and Settings\\John"  # type: ignore[union-attr]
    assert at_task.definition.registration == {
        "author": "user1",
        "description": "At job task for testing purposes",
    }
    assert "delete_when_done" in at_task.flags
    assert at_task.last_run is not None and at_task.last_run.isoformat().startswith(
        "2023-05-21T10:44"
    )

    report = _collect_loose(corpus_path("windows", "job"))
    tasks = _tasks(report)
    assert sorted(tasks) == ["\\dissect.target-AtTask", "\\plaso-wintask"]
    assert report.issues == ()
    job = tasks["\\plaso-wintask"]
    assert job.extra["job_file"]["status"] == "ready"  # type: ignore[index]
    assert job.effective.runs is None


def test_job_in_an_image_joins_its_xml(tmp_path: Path) -> None:
    """§f 10: Windows\\Tasks\\At1.job and System32\\Tasks\\At1 are one task."""
    data = corpus_path("windows", "job", "dissect.target-AtTask.job").read_bytes()
    (tmp_path / "Windows" / "Tasks").mkdir(parents=True)
    (tmp_path / "Windows" / "Tasks" / "At1.job").write_bytes(data)
    _task_file(tmp_path, "At1", utf16(task_xml(uri="\\At1")))
    report = _collect_image(tmp_path)
    [job] = _tasks(report).values()
    assert report.issues == ()
    assert job.name == "\\At1"
    assert job.extra["stores"] == ["xml", "job"]
    assert job.evidence.related == ("C:\\Windows\\Tasks\\At1.job",)


GPO = "{31B2F340-016D-11D2-945F-00C04FB984F9}"
IMMEDIATE = """<?xml version="1.0" encoding="utf-8"?>
<ScheduledTasks clsid="{CC63F200-7309-4ba0-B154-A71CD118DBCC}">
  <ImmediateTaskV2 clsid="{9756B581-76EC-4169-9AFC-0CA8D43ADB5F}" name="Updater" changed="2025-03-01 10:00:00" uid="{D0E1}">
    <Properties action="C" name="Updater" runAs="NT AUTHORITY\\System" logonType="S4U" cpassword="j1Uyj3Vx8TY9LtLZil2uAuZkFQA/4latT76ZwgdHdhw">
      <Task version="1.2">
        <Principals><Principal id="Author"><UserId>NT AUTHORITY\\System</UserId></Principal></Principals>
        <Settings><Enabled>true</Enabled><Hidden>true</Hidden></Settings>
        <Triggers><TimeTrigger><StartBoundary>%LocalTimeXmlEx%</StartBoundary></TimeTrigger></Triggers>
        <Actions Context="Author"><Exec><Command>cmd.exe</Command><Arguments>/c net user x /add</Arguments></Exec></Actions>
      </Task>
    </Properties>
  </ImmediateTaskV2>
</ScheduledTasks>
"""


def test_gpp_items_attributed_to_their_gpo(tmp_path: Path) -> None:
    sample = corpus_path("windows", "gpp", "dissect.target-USER-ScheduledTasks.xml")
    sysvol = tmp_path / "Windows" / "SYSVOL" / "domain" / "Policies"
    user = (
        sysvol
        / "{CC63F200-7309-4BA0-B154-A71CD118DBCC}"
        / "User"
        / "Preferences"
        / "ScheduledTasks"
    )
    user.mkdir(parents=True)
    shutil.copy(sample, user / "ScheduledTasks.xml")
    history = tmp_path / "ProgramData" / "Microsoft" / "Group Policy" / "History" / GPO / "Machine"
    (history / "Preferences" / "ScheduledTasks").mkdir(parents=True)
    (history / "Preferences" / "ScheduledTasks" / "ScheduledTasks.xml").write_text(IMMEDIATE)
    report = _collect_image(tmp_path)
    tasks = _tasks(report)
    assert sorted(tasks) == ["\\Test2", "\\Updater"]
    assert report.issues == ()
    legacy = tasks["\\Test2"]
    assert legacy.extra["gpo_guid"] == "{CC63F200-7309-4BA0-B154-A71CD118DBCC}"
    assert legacy.extra["gpp_scope"] == "user"
    assert legacy.extra["cpassword_present"] is False
    assert legacy.actions == (ExecAction("C:\\Windows\\winhlp32.exe", "C:\\Windows\\winhlp32.exe"),)
    assert legacy.schedule.description == (
        "When the computer becomes idle; or At logon of any user"
    )
    immediate = tasks["\\Updater"]
    assert immediate.extra["gpp_item"] == "ImmediateTaskV2"
    assert immediate.extra["gpo_guid"] == GPO
    assert immediate.extra["cpassword_present"] is True
    assert immediate.run_as == "SYSTEM"
    assert immediate.hidden is True
    assert immediate.effective.runs is True and "immediate task" in immediate.effective.reason
    document = json.dumps([plain(j) for j in report.jobs])
    assert "j1Uyj3Vx8TY9" not in document  # the cpassword value never reaches the output


def test_taskcache_blobs_from_the_corpus() -> None:
    folder = corpus_path(*BLOBS)
    exe = blobs.decode_actions((folder / "Actions__TestTaskParser_ExeTasks.bin").read_bytes())
    assert exe.context == "Author"
    assert [a.command_line for a in exe.actions] == [  # type: ignore[union-attr]
        "execution.exe",
        "moar.exe",
        "C:\\users\\case\\Desktop\\witharg.xml arg arg2",
        "D:\\only_workingdir.ps1",
    ]
    assert exe.actions[3].working_dir == "C:\\windows"  # type: ignore[union-attr]
    assert exe.problems and "Exec" in exe.problems[0]  # the last record is cut in the source too
    mixed = blobs.decode_actions((folder / "Actions__TestTaskParser_MixedAll.bin").read_bytes())
    assert [type(a).__name__ for a in mixed.actions] == [
        "ExecAction",
        "ComHandlerAction",
        "OtherAction",
        "OtherAction",
    ]
    com = mixed.actions[1]
    assert com == ComHandlerAction("{61BCD1B9-340C-40EC-9D41-D7F1C0632F05}", "MissingCredentials")
    assert mixed.actions[3] == OtherAction("show_message", "z:\\allof\\it.exe: arg1 arg2")
    assert mixed.problems == ()

    expected_kinds = {
        "Boot": ["boot"],
        "Event": ["event", "event"],
        "Logon": ["logon"],
        "SessionBased": ["session_state_change"],
        "StateChange": ["wnf_state_change", "wnf_state_change"],
        "Time": ["time", "daily", "weekly", "monthly", "monthly_dow"],
        "TriggerParser": ["logon", "boot", "logon"],
        "Unknown": ["logon", "wnf_state_change", "wnf_state_change"],
    }
    for name, kinds in expected_kinds.items():
        decoded = blobs.decode_triggers(
            (folder / f"Triggers__Test{name}Trigger.bin").read_bytes()
            if name != "TriggerParser"
            else (folder / "Triggers__TestTriggerParser.bin").read_bytes()
        )
        assert decoded.problems == (), name
        assert [t.kind for t in decoded.triggers] == kinds, name
        assert decoded.bucket is not None and decoded.bucket.enabled
    time_blob = blobs.decode_triggers((folder / "Triggers__TestTimeTrigger.bin").read_bytes())
    assert time_blob.bucket is not None
    assert time_blob.bucket.principal.run_level == "HighestAvailable"
    assert time_blob.bucket.user_name == "CASE-PC\\case"
    assert schedule_of(time_blob.triggers[1:3]).description == (
        "Every 3 days at 18:25:34, repeating every 1 hour for 12 hours; or Every 4 weeks on "
        "Monday, Friday, Saturday at 18:25:43, repeating every 15 minutes for 1 day, until "
        "2023-04-08 18:25:43"
    )
    event = blobs.decode_triggers((folder / "Triggers__TestEventTrigger.bin").read_bytes())
    assert (
        event.triggers[0].subscription is not None
        and "EventID=1234" in event.triggers[0].subscription
    )
    logon = blobs.decode_triggers((folder / "Triggers__TestLogonTrigger.bin").read_bytes())
    assert logon.triggers[0].enabled is False
    assert logon.triggers[0].delay == "PT30S"
    state = blobs.decode_triggers((folder / "Triggers__TestStateChangeTrigger.bin").read_bytes())
    assert state.bucket is not None and state.bucket.principal.user_id == "S-1-5-18"

    error = blobs.decode_dynamic_info(
        (folder / "DynamicInfo__TestDynamicInfo_Read_WithErrorCode.bin").read_bytes()
    )
    assert error.as_dict()["last_result"] == "0x80070002"
    assert error.created is not None and error.created.isoformat().startswith("2022-02-07T14:49:43")


# ---------------------------------------------------------------------------------------------
# Loose files and the CLI


def test_audit_an_exported_task_xml_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "task.xml"
    path.write_bytes(utf16(task_xml()))
    result = CliRunner().invoke(main, ["audit", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [job] = [j for j in document["jobs"] if j["mechanism"] == "windows_task"]
    assert job["name"] == "\\T"
    assert job["evidence"]["path"] == str(path)
    assert job["actions"][0]["arguments"] == ["/c", "whoami"]


def test_windows_argument_splitting() -> None:
    assert split_arguments('/c "a b" c\\d "e\\"f" g\\\\"h i"') == (
        "/c",
        "a b",
        "c\\d",
        'e"f',
        "g\\h i",
    )
    assert split_arguments('"say ""hi"""') == ('say "hi"',)
    assert split_arguments("  -w hidden   -enc  AAAA ") == ("-w", "hidden", "-enc", "AAAA")


def test_second_action_and_entities(tmp_path: Path) -> None:
    """§f 4 and 6d: both actions in order; entities and CDATA give the same command."""
    actions = (
        "<Exec><Command>C:\\Windows\\System32\\cleanmgr.exe</Command></Exec>"
        "<Exec><Command>&#x70;owershell</Command><Arguments><![CDATA[-w hidden -enc SQBFAFgA]]>"
        "</Arguments></Exec>"
    )
    text = task_xml().replace(
        "<Exec><Command>C:\\Windows\\System32\\cmd.exe</Command><Arguments>/c whoami</Arguments></Exec>",
        actions,
    )
    path = tmp_path / "two.xml"
    path.write_bytes(utf16(text))
    [job] = _tasks(_collect_loose(path)).values()
    assert [a.command_line for a in job.actions] == [  # type: ignore[union-attr]
        "C:\\Windows\\System32\\cleanmgr.exe",
        "powershell -w hidden -enc SQBFAFgA",
    ]


# ---------------------------------------------------------------------------------------------
# Hostile inputs W01-W10


@pytest.fixture
def audit_events() -> list[tuple[str, tuple[object, ...]]]:
    seen: list[tuple[str, tuple[object, ...]]] = []
    active = [True]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if active[0] and event in ("open", "socket.connect", "urllib.Request"):
            seen.append((event, args))

    sys.addaudithook(hook)
    yield seen
    active[0] = False


def _issue_codes(report: AuditReport) -> list[str]:
    return [i.code for i in report.issues]


def test_w01_xxe_is_refused_and_the_canary_never_opened(
    tmp_path: Path, audit_events: list[tuple[str, tuple[object, ...]]]
) -> None:
    canary = tmp_path / "CANARY"
    canary.write_text("secret")
    text = f'<!DOCTYPE T [<!ENTITY x SYSTEM "file://{canary}">]><Task>&x;</Task>'
    root = tmp_path / "img"
    _task_file(root, "Evil", text.encode())
    audit_events.clear()
    report = _collect_image(root)
    assert _issue_codes(report) == ["DTD_FORBIDDEN"]
    assert _tasks(report) == {}
    assert not [e for e in audit_events if e[0] == "open" and "CANARY" in str(e[1][0])]


def test_w02_w03_entity_bombs_are_refused_fast(tmp_path: Path) -> None:
    laughs = (
        '<!DOCTYPE T [<!ENTITY a0 "lol">'
        + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 11))
        + "]><Task>&a10;</Task>"
    )
    quadratic = f'<!DOCTYPE T [<!ENTITY b "{"x" * 100_000}">]><Task>' + "&b;" * 100_000 + "</Task>"
    for text in (laughs, quadratic):
        started = time.monotonic()
        with pytest.raises(XmlProblem) as refused:
            parse_xml(text.encode())
        assert refused.value.code == "DTD_FORBIDDEN"
        assert time.monotonic() - started < 1.0


def test_w04_external_dtd_opens_no_socket(
    tmp_path: Path, audit_events: list[tuple[str, tuple[object, ...]]]
) -> None:
    text = '<?xml version="1.0"?><!DOCTYPE Task SYSTEM "http://127.0.0.1:9/x.dtd"><Task/>'
    root = tmp_path / "img"
    _task_file(root, "Dtd", text.encode())
    audit_events.clear()
    report = _collect_image(root)
    assert _issue_codes(report) == ["DTD_FORBIDDEN"]
    assert not [e for e in audit_events if e[0] != "open"]
    assert socket.socket  # the module is there; it was simply never used


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (utf16(task_xml()), "utf-16-le"),
        (task_xml().encode("utf-16-le"), "utf-16-le (no BOM)"),
        (task_xml().encode("utf-16-be"), "utf-16-be (no BOM)"),
        (b"\xfe\xff" + task_xml().encode("utf-16-be"), "utf-16-be"),
        (task_xml().encode("utf-8"), "utf-8"),  # declares UTF-16, is UTF-8
        (b"\xef\xbb\xbf" + task_xml().encode("utf-8"), "utf-8"),
    ],
)
def test_w05_every_encoding_gives_the_same_task(data: bytes, encoding: str) -> None:
    definition, problems, found = parse_task_xml(data)
    assert (problems, found) == ([], encoding)
    assert definition.actions == (
        ExecAction(
            "C:\\Windows\\System32\\cmd.exe /c whoami",
            "C:\\Windows\\System32\\cmd.exe",
            ("/c", "whoami"),
        ),
    )


def test_w05_lone_surrogate_is_an_encoding_error(tmp_path: Path) -> None:
    data = utf16(task_xml()) + b"\x00\xd8"
    root = tmp_path / "img"
    _task_file(root, "Bad", data)
    _task_file(root, "Good", utf16(task_xml(uri="\\Good")))
    report = _collect_image(root)
    assert _issue_codes(report) == ["ENCODING_ERROR"]
    assert list(_tasks(report)) == ["\\Good"]  # one broken task never hides the others


def test_w06_deep_nesting_hits_the_depth_cap(tmp_path: Path) -> None:
    text = "<Task>" + "<a>" * 100_000 + "</a>" * 100_000 + "</Task>"
    root = tmp_path / "img"
    _task_file(root, "Deep", text.encode())
    report = _collect_image(root)
    assert _issue_codes(report) == ["PARSE_LIMIT"]


def test_w07_a_200_mb_task_file_is_capped(tmp_path: Path) -> None:
    root = tmp_path / "img"
    path = _task_file(root, "Huge", b"")
    with open(path, "wb") as stream:
        stream.truncate(200 * 1024 * 1024)  # sparse: nothing is written
    started = time.monotonic()
    report = _collect_image(root)
    assert _issue_codes(report) == ["OVERSIZED_FILE"]
    assert time.monotonic() - started < 5.0


class FakeKey:
    """A registry key whose subkey list can point back at an ancestor (python-registry#57)."""

    def __init__(self, name: str, children: Callable[[], list[FakeKey]]) -> None:
        self.name = name
        self._children = children
        self.last_write = None
        self.identity = (name,)

    def subkeys(self) -> list[FakeKey]:
        return self._children()

    def values(self) -> dict[str, object]:
        return {}


def test_w09_hive_cycles_and_corrupt_hives() -> None:
    top: FakeKey
    child = FakeKey("Child", lambda: [top])
    top = FakeKey("Top", lambda: [child])
    walked = list(walk(top, 32, 1000))  # type: ignore[arg-type]
    assert [w.path for w in walked] == ["Child", "Child\\Top"]
    assert walked[1].problem == "subkey list loops back to an ancestor key"

    good = (IMAGE / "WINDOWS" / "system32" / "config" / "SOFTWARE").read_bytes()
    for bad in (
        b"",
        b"regf" + b"\x00" * 100,
        good[:4096],
        good[:4200],
        good[:4096] + b"hbin" + b"\xff" * 9000,
    ):
        with pytest.raises(HiveError):
            open_hive(bad)


def test_w09_corrupt_hive_in_an_image_is_an_issue(tmp_path: Path) -> None:
    root = _copy_image(tmp_path)
    hive = root / "WINDOWS" / "system32" / "config" / "SOFTWARE"
    data = bytearray(hive.read_bytes())
    for offset in range(4096 + 600, len(data), 97):  # scribble over cells, keep the root
        data[offset] = 0xFF
    hive.write_bytes(bytes(data))
    report = _collect_image(root)  # never raises; whatever could not be read is an issue
    assert "COLLECTOR_ERROR" not in _issue_codes(report)
    assert len(_tasks(report)) >= 5  # the XML files still count


def test_w10_truncated_and_lying_job_files(tmp_path: Path) -> None:
    data = corpus_path("windows", "job", "plaso-wintask.job").read_bytes()
    with pytest.raises(JobError):
        parse_job(data[:0x30])
    lying = bytearray(data)
    struct.pack_into("<H", lying, 0x46, 0xFFFF)  # application name length
    with pytest.raises(JobError):
        parse_job(bytes(lying))
    jobs = tmp_path / "Windows" / "Tasks"
    jobs.mkdir(parents=True)
    (jobs / "Short.job").write_bytes(data[:0x30])
    (jobs / "Lying.job").write_bytes(bytes(lying))
    (jobs / "Fine.job").write_bytes(data)
    report = _collect_image(tmp_path)
    assert _issue_codes(report) == ["UNPARSEABLE_JOB", "UNPARSEABLE_JOB"]
    assert list(_tasks(report)) == ["\\Fine"]
