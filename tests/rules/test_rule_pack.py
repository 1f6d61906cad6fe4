"""The built-in Sigma pack, rule by rule: it loads and converts cleanly, carries what the pack asks
of a rule, and its own positive and negative cases pass through the same SQL an audit runs."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from sigma.rule import SigmaRule

import schedwarden
from schedwarden.analyzers.sigma_fields import CATEGORY, is_known_field
from schedwarden.analyzers.sigma_rules import (
    Rule,
    builtin_pack,
    builtin_rule_files,
    lint,
    run_cases,
)
from schedwarden.model import Severity

PACKAGE = Path(schedwarden.__file__).parent
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"
PACK = builtin_pack()
# The list of the issue (Detection, deliver 2): every family has at least one rule.
REQUIRED = {
    "REVERSE_SHELL_DEV_TCP",
    "REVERSE_SHELL_NETCAT",
    "REVERSE_SHELL_SOCAT",
    "REVERSE_SHELL_INTERPRETER",
    "DOWNLOAD_PIPED_TO_SHELL",
    "DOWNLOAD_CHMOD_EXECUTE",
    "WIN_CERTUTIL_DOWNLOAD",
    "WIN_BITS_TRANSFER",
    "WIN_POWERSHELL_DOWNLOAD_EXECUTE",
    "WIN_MSHTA_REMOTE",
    "WIN_REGSVR32_SCRIPTLET",
    "DECODE_AND_EXECUTE",
    "POWERSHELL_ENCODED_COMMAND",
    "FROMBASE64_EXECUTE",
    "WIN_PAYLOAD_FROM_REGISTRY",
    "EXEC_FROM_WORLD_WRITABLE_DIR",
    "EXEC_FROM_HIDDEN_PATH",
    "WIN_EXEC_FROM_TEMP",
    "WIN_SYSTEM_TASK_USER_PROFILE",
    "WIN_SYSTEM_TASK_PROGRAMDATA",
    "MASQUERADE_SYSTEM_BINARY_NAME",
    "WIN_SYSTEM_NAME_OUTSIDE_SYSTEM32",
    "MASQUERADE_KERNEL_THREAD",
    "WIN_MICROSOFT_TASK_FOREIGN_PATH",
    "MASQUERADE_PROCESS_NAME",
    "WIN_HIDDEN_TASK",
    "WIN_TASK_SD_MISSING",
    "WIN_TASK_INDEX_ZERO",
    "WIN_TASK_REGISTRY_ONLY",
    "ENV_LOADER_INJECTION",
    "ENV_PATH_WRITABLE_ENTRY",
    "SSH_AUTHORIZED_KEYS_WRITE",
    "WIN_IMPACKET_ATEXEC",
    "WIN_EVENT_TRIGGER_SYSTEM_TEMP",
    "K8S_PRIVILEGED_CRONJOB",
    "K8S_HOST_PATH_MOUNT",
}


def _id(rule: Rule) -> str:
    return rule.rule_id


def test_the_pack_loads_without_a_problem() -> None:
    assert PACK.problems == ()
    assert lint(PACK) == []
    assert len(PACK.rules) == len(builtin_rule_files())
    assert {r.rule_id for r in PACK.rules} >= REQUIRED


def test_ids_names_and_titles_are_unique() -> None:
    for attribute in ("rule_id", "sigma_id", "title"):
        values = [getattr(r, attribute) for r in PACK.rules]
        assert len(values) == len(set(values)), attribute


def test_every_rule_file_ships_in_the_wheel() -> None:
    """pyproject's package-data globs must cover every rule file (a new sub-folder would not be)."""
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"][
        "schedwarden"
    ]
    for path in (PACKAGE / "rules").rglob("*"):
        if path.is_file():
            relative = path.relative_to(PACKAGE).as_posix()
            assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


@pytest.mark.parametrize("rule", PACK.rules, ids=_id)
def test_rule_metadata(rule: Rule) -> None:
    sigma = SigmaRule.from_yaml(rule.source)  # the file as pySigma reads it
    assert sigma.logsource.category == CATEGORY
    assert rule.product in (None, "linux", "windows", "kubernetes")
    assert sigma.level is not None and rule.level is Severity.parse(str(sigma.level))
    assert rule.level_given
    assert rule.techniques and all(t.startswith("T") for t in rule.techniques)
    assert any(t.startswith("attack.") and not t[8:9].isdigit() for t in rule.tags)  # a tactic
    assert rule.description and rule.falsepositives
    assert rule.remediation and "remediation" in sigma.custom_attributes
    assert rule.remediation_given
    assert rule.remediation == str(sigma.custom_attributes["remediation"]).strip()
    assert rule.sigma_id and rule.rule_id.isupper()
    assert all(is_known_field(f) for f in rule.fields), rule.fields
    assert rule.leaves, "a rule needs a positive comparison to explain its findings"


@pytest.mark.parametrize("rule", PACK.rules, ids=_id)
def test_rule_cases(rule: Rule) -> None:
    """Each rule has at least one positive and one negative case, and all of them hold."""
    results = run_cases(rule)
    assert any(r.case.expect_match for r in results), "no positive case"
    assert any(not r.case.expect_match for r in results), "no negative case"
    failing = [(r.number, dict(r.case.row)) for r in results if not r.passed]
    assert failing == []
