"""`schedwarden rules list|lint|test|convert|fields` and `audit --rules DIR` as a user runs them."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from click.testing import CliRunner

from schedwarden.cli.main import main
from tests.conftest import MakeRoot

USER_RULE = """\
title: Job runs the backup agent of a vendor we dropped
name: USER_OLD_AGENT
id: 6a1f4b9e-2c3d-4e5f-8a9b-0c1d2e3f4a5b
status: test
description: the old agent must be gone from every host
logsource:
  category: scheduled_job
detection:
  sel:
    Executable|endswith: /oldagent
  condition: sel
falsepositives: [none]
level: medium
tags: [attack.t1053]
remediation: Remove the old agent's job.
cases:
  match:
    - Executable: /opt/vendor/oldagent
  nomatch:
    - Executable: /opt/vendor/newagent
"""
MALFORMED = USER_RULE.replace("Executable|endswith", "Executable|sometimes").replace(
    "USER_OLD_AGENT", "USER_TYPO"
)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _user_rules(tmp_path: Path, malformed: bool = False) -> Path:
    folder = tmp_path / "my-rules"
    folder.mkdir()
    (folder / "old_agent.yml").write_text(USER_RULE)
    if malformed:
        (folder / "typo.yml").write_text(MALFORMED)
    return folder


def test_list_shows_levels_techniques_and_the_python_rules() -> None:
    code, out, _ = _run("rules", "list")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("REVERSE_SHELL_DEV_TCP"))
    assert "critical" in line and "T1059.004" in line
    assert "WIN_MICROSOFT_TASK_FOREIGN_PATH" in out
    assert "Task under \\Microsoft\\ runs" in out  # printed as written, not escaped
    assert "WRITABLE_JOB_TARGET" in out and "CR_IN_COMMAND" in out
    rows = json.loads(_run("rules", "list", "-f", "json")[1])
    assert {"rule_id": "NOT_ALLOWLISTED"}.items() <= rows[-1].items()


def test_lint_and_test_pass_on_the_pack() -> None:
    code, out, _ = _run("rules", "lint")
    assert code == 0
    assert "0 error(s), 0 warning(s)" in out
    code, out, _ = _run("rules", "test")
    assert code == 0
    assert out.splitlines()[-1].endswith(" passed, 0 failed")


def test_user_rules_are_listed_linted_and_tested(tmp_path: Path) -> None:
    folder = _user_rules(tmp_path)
    code, out, _ = _run("rules", "list", "--rules", str(folder), "--no-builtin")
    assert code == 0 and "USER_OLD_AGENT" in out and str(folder) in out
    code, out, _ = _run("rules", "test", "--rules", str(folder), "--no-builtin")
    assert (code, out.splitlines()[-1]) == (0, "2 passed, 0 failed")


def test_a_malformed_user_rule_is_reported_by_name_and_skipped(
    tmp_path: Path, make_root: MakeRoot
) -> None:
    folder = _user_rules(tmp_path, malformed=True)
    code, out, _ = _run("rules", "lint", "--rules", str(folder))
    assert code == 1
    [error] = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert "typo.yml (USER_TYPO)" in error and "sometimes" in error
    root = make_root({"etc/cron.d/x": "0 1 * * * root /opt/vendor/oldagent --run\n"})
    code, out, err = _run("audit", str(root), "-f", "json", "--rules", str(folder))
    assert code == 0
    assert "rule skipped: error:" in err and "USER_TYPO" in err
    rules = {f["rule_id"] for f in json.loads(out)["findings"]}
    assert "USER_OLD_AGENT" in rules


def test_convert_through_an_installed_backend() -> None:
    code, out, _ = _run("rules", "convert", "-t", "sqlite", "WIN_TASK_SD_MISSING")
    assert code == 0
    assert out.startswith("# WIN_TASK_SD_MISSING: ")
    assert "SdMissing" in out
    code, _, err = _run("rules", "convert", "-t", "nosuch")
    assert code == 2 and "installed:" in err and "sqlite" in err
    code, _, err = _run("rules", "test", "NO_SUCH_RULE")
    assert code == 2


def test_fields_documents_the_log_source() -> None:
    code, out, _ = _run("rules", "fields")
    assert code == 0
    assert out.splitlines()[0].startswith("Product")
    assert "Env.<NAME>" in out and "SdMissing" in out


def test_log_rules_are_listed_and_tested(tmp_path: Path) -> None:
    code, out, _ = _run("rules", "list", "--logs", "-f", "json")
    rows = json.loads(out)
    assert code == 0 and all(r["builtin"] for r in rows)
    names = {r["rule_id"] for r in rows}
    assert {"LNX_LOG_CRON_CMD_CARRIAGE_RETURN", "WIN_LOG_SCHTASKS_SYSTEM_SCRIPT"} <= names
    code, out, _ = _run("rules", "test", "--logs")
    assert code == 0 and out.count("\nok   ") + out.startswith("ok   ") == len(rows)
    assert out.rstrip().endswith("passed, 0 failed")
    code, out, _ = _run("rules", "test", "--logs", "LNX_LOG_CRONTAB_DENIED")
    assert code == 0 and out.splitlines()[0].startswith("ok   LNX_LOG_CRONTAB_DENIED")
    assert _run("rules", "test", "--logs", "NO_SUCH_RULE")[0] == 2


def test_log_rules_of_a_folder_are_those_hunt_would_use(tmp_path: Path) -> None:
    (tmp_path / "cron_rule.yml").write_text(
        "title: Cron ran curl\nid: 9a1f4b9e-2c3d-4e5f-8a9b-0c1d2e3f4a5b\nlevel: high\n"
        "tags: [attack.t1053.003]\nlogsource:\n  product: linux\n  service: cron\n"
        "detection:\n  sel:\n    CommandLine|contains: curl\n  condition: sel\n"
    )
    (tmp_path / "other.yml").write_text(  # not about scheduled tasks: hunt leaves it out
        "title: Firewall\nid: 8b1f4b9e-2c3d-4e5f-8a9b-0c1d2e3f4a5b\nlogsource:\n  product: linux\n"
        "  service: firewall\ndetection:\n  sel:\n    x: y\n  condition: sel\n"
    )
    code, out, _ = _run("rules", "list", "--logs", "--no-builtin", "--rules", str(tmp_path))
    assert code == 0 and out.strip().splitlines()[-1] == "1 Sigma rules over logs"
    assert "Cron ran curl" in out and "Firewall" not in out


def test_log_rules_are_linted_ours_strictly_a_folders_as_hunt_reads_it(tmp_path: Path) -> None:
    code, out, _ = _run("rules", "lint", "--logs")
    assert code == 0 and out.strip() == "7 rules over logs usable, 0 error(s), 0 warning(s)"
    (tmp_path / "cron_rule.yml").write_text(
        "title: Cron ran curl\nid: 9a1f4b9e-2c3d-4e5f-8a9b-0c1d2e3f4a5b\nlevel: high\n"
        "tags: [attack.t1053.003]\nlogsource:\n  product: linux\n  service: cron\n"
        "detection:\n  sel:\n    CommandLine|contains: curl\n  condition: sel\n"
    )
    (tmp_path / "broken.yml").write_text("title: cron job\ndetection: [\n")
    code, out, _ = _run("rules", "lint", "--logs", "--no-builtin", "--rules", str(tmp_path))
    assert code == 0, out  # a user's rules only warn
    lines = out.strip().splitlines()
    assert lines[0].startswith("warning: ") and "broken.yml" in lines[0]
    assert lines[-1] == "1 rules over logs usable, 0 error(s), 1 warning(s)"


def test_our_log_rules_must_have_what_the_pack_asks(tmp_path: Path) -> None:
    from schedwarden.analyzers.log_sigma_pack import compile_pack

    source = resources.files("schedwarden").joinpath("rules", "logs", "lnx_crontab_denied.yml")
    text = source.read_text(encoding="utf-8")
    kept = text[: text.index("remediation:")]  # no remediation, no cases
    (tmp_path / "rule.yml").write_text(kept.replace("level: low\n", ""))
    (rule,), problems = compile_pack(tmp_path, [tmp_path / "rule.yml"])
    assert problems == ()
    assert rule.missing == (
        "level",
        "remediation",
        "a `cases: match:` row",
        "a `cases: nomatch:` row",
    )
