"""Our Sigma rules over logs (`rules/logs/`): each loads for a log source `hunt` reads, carries
what the pack asks of a rule, passes its own cases, and finds what it should in real or
real-format logs, without repeating a finding the built-in analytics make."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from schedwarden import engine
from schedwarden.analyzers.log_sigma_pack import (
    BuiltinLogRule,
    builtin_log_pack,
    run_log_cases,
    with_builtin,
)
from schedwarden.analyzers.sigma_rules import builtin_pack, builtin_rule_files
from tests.conftest import corpus_path
from tests.logs.test_hunt_cli import EVILTASK
from tests.logs.test_sigma_linux import AUDIT, CRON_LOG

RULES, PROBLEMS = builtin_log_pack()
EDR_TEST = (
    "windows",
    "evtx",
    "task",
    "EVTX-ATTACK-SAMPLES",
    "AutomatedTestingTools",
    "panache_sysmon_vs_EDRTestingScript.evtx",
)


def _id(rule: BuiltinLogRule) -> str:
    return rule.rule.rule_id


def test_the_pack_loads_and_stays_out_of_the_inventory_pack() -> None:
    assert PROBLEMS == ()
    assert len(RULES) == 7
    assert len({r.rule.rule_id for r in RULES}) == len(RULES)
    assert len({r.rule.title for r in RULES}) == len(RULES)
    assert {r.rule.scope for r in RULES} == {
        "process_creation",
        "taskscheduler",
        "linux/process_creation",
        "linux/file_event",
        "linux/cron",
    }
    assert not any(shown.startswith("rules/logs/") for shown, _ in builtin_rule_files())
    assert builtin_pack().problems == ()
    assert with_builtin(None).rules == tuple(r.rule for r in RULES)


@pytest.mark.parametrize("rule", RULES, ids=_id)
def test_rule_metadata(rule: BuiltinLogRule) -> None:
    assert rule.rule.rule_id.isupper() and rule.rule.rule_id.startswith(("WIN_LOG_", "LNX_LOG_"))
    assert rule.rule.techniques and all(t.startswith("T1053") for t in rule.rule.techniques[:1])
    assert rule.remediation and rule.falsepositives
    assert rule.rule.path.startswith("rules/logs/")
    text = (Path(__file__).parents[2] / "src" / "schedwarden" / rule.rule.path).read_text()
    assert "\ndescription:" in text and "\n  - attack." in text and "\nlevel:" in text


@pytest.mark.parametrize("rule", RULES, ids=_id)
def test_rule_cases(rule: BuiltinLogRule) -> None:
    results = run_log_cases(rule)
    assert any(r.case.expect_match for r in results), "no positive case"
    assert any(not r.case.expect_match for r in results), "no negative case"
    assert [(r.number, dict(r.case.row)) for r in results if not r.passed] == []


def test_windows_rules_on_the_evtx_corpus() -> None:
    report = engine.hunt([str(corpus_path(*EVILTASK)), str(corpus_path(*EDR_TEST))])
    ours = [f for f in report.findings if f.rule_id.startswith("WIN_LOG_")]
    assert [(f.rule_id, Path(f.evidence.path).name) for f in ours] == [
        ("WIN_LOG_SCHTASKS_SYSTEM_SCRIPT", Path(EVILTASK[-1]).name)
    ]  # the EDR test's /ru System task runs calc.exe: no script
    assert ours[0].severity.value == "high" and ours[0].techniques == ("T1053.005",)
    assert ours[0].remediation.startswith("Read the script")
    velociraptor = engine.hunt([str(corpus_path("windows", "evtx", "task", "velociraptor"))])
    assert any(e.action == "action_started" for e in velociraptor.events)
    assert not [f for f in velociraptor.findings if f.rule_id.startswith("WIN_LOG_")]
    negative = engine.hunt([str(corpus_path("windows", "evtx", "negative"))])
    assert not negative.findings


def test_linux_rules_on_real_format_logs(tmp_path: Path) -> None:
    (tmp_path / "audit.log").write_text(AUDIT)
    (tmp_path / "cron.log").write_text(CRON_LOG)
    report = engine.hunt([str(tmp_path)])
    ours = sorted(
        (f.rule_id, Path(f.evidence.path).name, f.evidence.line)
        for f in report.findings
        if f.rule_id.startswith("LNX_LOG_")
    )
    assert ours == [
        ("LNX_LOG_CRONTAB_DENIED", "cron.log", 1),
        ("LNX_LOG_CRONTAB_OUTSIDE_LOGIN", "audit.log", 1),  # not alice's crontab -l
        ("LNX_LOG_CRON_CMD_CARRIAGE_RETURN", "cron.log", 3),
        ("LNX_LOG_CRON_TABLE_WRITTEN_DIRECTLY", "audit.log", 9),
        ("LNX_LOG_SYSTEMD_RUN_TIMER", "audit.log", 14),
    ]
    # every line gives at most one finding: the rules add to the native analytics, never repeat
    per_line = Counter((f.evidence.path, f.evidence.line) for f in report.findings)
    assert max(per_line.values()) == 1
    assert report.summary()["sigma_builtin_log_rules"] == len(RULES)
    without = engine.hunt([str(tmp_path)], builtin_rules=False)
    assert not [f for f in without.findings if f.rule_id.startswith("LNX_LOG_")]
